using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>
/// The API's OpenAPI document (docs/openapi.json) against the app: served as committed, naming exactly the app's routes,
/// lint-clean, its examples valid, and usable by a generated TypeScript client. Every HTTP exchange of every test is
/// also checked against it (<see cref="WorkerHost.HttpContract"/>); the checks here prove that check bites.
/// </summary>
[Collection(SharedWorker.Name)]
public sealed class OpenApiTests(AppUnderHost app)
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    [Fact]
    public async Task The_app_serves_the_committed_document_at_api_openapi_json_without_a_key()
    {
        var answer = await app.Host.GetAsync("api/openapi.json");

        Assert.True(answer.Status == HttpStatusCode.OK, answer.ToString());
        Assert.StartsWith("application/json", answer.Header("Content-Type"));
        Assert.Equal(await File.ReadAllBytesAsync(OpenApiContract.DocumentPath), answer.Body);
        Assert.Equal("Anonymous", (string?)app.Host.Function("GetOpenApiDocument").Trigger["authLevel"]);
    }

    [Fact]
    public void Every_route_of_the_app_is_in_the_document_and_every_path_of_the_document_is_a_route()
    {
        var routes = app.Host.Functions.Values
            .Select(f => f.Trigger)
            .Where(t => (string?)t["type"] == "httpTrigger")
            .SelectMany(t => t["methods"]!.AsArray().Select(m => $"{((string?)m)!.ToUpperInvariant()} /api/{(string?)t["route"]}"))
            .Order(StringComparer.Ordinal);
        var documented = OpenApiContract.Repository.Operations().Select(o => $"{o.Method} {o.Path}").Order(StringComparer.Ordinal);

        Assert.Equal(routes, documented);
    }

    [Fact]
    public void Operations_need_a_function_key_exactly_where_their_functions_do()
    {
        var contract = OpenApiContract.Repository;
        foreach (var function in app.Host.Functions.Values.Where(f => (string?)f.Trigger["type"] == "httpTrigger"))
        {
            var trigger = function.Trigger;
            var operation = contract.Operation((string)trigger["methods"]![0]!, "/api/" + (string?)trigger["route"])!;
            var anonymous = operation["security"] is JsonArray { Count: 0 };

            Assert.True(anonymous == ((string?)trigger["authLevel"] == "Anonymous"),
                $"{function.Name} is {(string?)trigger["authLevel"]}, its operation {(anonymous ? "needs no key" : "needs a key")}");
        }
    }

    [Fact]
    public void Every_example_in_the_document_is_valid_against_its_schema()
    {
        var contract = OpenApiContract.Repository;
        var errors = new List<string>();
        var checkedExamples = 0;
        foreach (var (pointer, value) in Examples(contract.Document, ""))
        {
            checkedExamples++;
            errors.AddRange(contract.Validate(pointer + "/schema", JsonSerializer.SerializeToElement(value)).Select(e => $"{pointer}: {e}"));
        }

        Assert.True(checkedExamples >= 10, $"only {checkedExamples} examples found");
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    [Fact]
    public async Task The_exchange_check_refuses_an_answer_the_document_does_not_allow()
    {
        // A document whose grant outcome has no eventId: the app's real answer carries one, so the check must refuse it.
        var contract = Doctored(d => d["components"]!["schemas"]!["GrantOutcome"]!["properties"]!.AsObject().Remove("eventId"));
        var id = "contract-answer-" + app.Run;

        var refusal = await WithContractAsync(contract, () => app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":3,"grantId":"{{id}}"}""", "application/json"));

        Assert.Contains("answered 201, which the document does not allow", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("eventId", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_exchange_check_refuses_a_document_stricter_than_the_app()
    {
        // A document that allows at most 10 units: the app grants 75, so the document would refuse what the app accepts.
        var contract = Doctored(d => d["components"]!["schemas"]!["GrantRequest"]!["properties"]!["units"]!["maximum"] = 10);
        var id = "contract-request-" + app.Run;

        var refusal = await WithContractAsync(contract, () => app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":75,"grantId":"{{id}}"}""", "application/json"));

        Assert.Contains("the document refuses the request", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("/units", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_the_document_refuses_may_be_refused_by_the_app()
    {
        // units as a string: the document refuses it and so does the app (400), which is no breach of the contract.
        var answer = await app.Host.PostAsync("api/grants", """{"customer":{"externalId":"x"},"units":"10","grantId":"g"}""", "application/json");

        Assert.True(answer.Status == HttpStatusCode.BadRequest, answer.ToString());
    }

    [Fact]
    public async Task The_document_passes_the_OpenAPI_linter()
    {
        // Redocly's recommended rules (redocly.yaml at the root); it exits 1 on any error, 0 with warnings only.
        var lint = await NodeTools.RunAsync("@redocly/cli/bin/cli.js", ["lint", OpenApiContract.DocumentPath], AppSettings.RepositoryRoot, TimeSpan.FromMinutes(2));

        Assert.True(lint.ExitCode == 0, lint.ToString());
        Assert.Contains("Your API description is valid", lint.Output + lint.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_generated_TypeScript_client_compiles_and_grants_through_the_hosts_HTTP_front()
    {
        await using var front = await HostHttpFront.StartAsync(app.Host);
        var work = Path.Combine(AppContext.BaseDirectory, "client");
        var id = "ts-client-" + app.Run;
        var minute = TimeSpan.FromMinutes(2);

        // As a frontend team does it (docs/http-api.md): generate the types from the served document, compile, call.
        var generate = await NodeTools.RunAsync("openapi-typescript/bin/cli.js", [new Uri(front.Address, "api/openapi.json").AbsoluteUri, "-o", "api.d.ts"], work, minute);
        Assert.True(generate.ExitCode == 0, generate.ToString());
        var compile = await NodeTools.RunAsync("typescript/bin/tsc", ["-p", "tsconfig.json"], work, minute);
        Assert.True(compile.ExitCode == 0, compile.ToString());
        var run = await NodeTools.RunAsync(Path.Combine(work, "dist", "grant.mjs"), [new Uri(front.Address, "api").AbsoluteUri, "any-key", id], work, minute);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(front.Failures);
        var result = JsonNode.Parse(run.Output.Trim().Split('\n')[^1])!;
        Assert.Equal(201, (int)result["grantStatus"]!);
        Assert.Equal("granted", (string?)result["grant"]!["status"]);
        Assert.Equal("ts-" + id, (string?)result["grant"]!["grantId"]);
        Assert.Equal(12.5m, (decimal)result["balance"]!);
        Assert.Equal(404, (int)result["problemStatus"]!);
        Assert.Equal("urn:credit-functions:problem:customer-not-found", (string?)result["problemType"]);
    }

    /// <summary>The repository's document with one change, as a contract of its own.</summary>
    private static OpenApiContract Doctored(Action<JsonNode> change)
    {
        var document = JsonNode.Parse(File.ReadAllText(OpenApiContract.DocumentPath))!;
        change(document);
        return OpenApiContract.Parse(document.ToJsonString());
    }

    /// <summary>Runs an exchange under another contract and returns the check's refusal (failing when there is none).</summary>
    private async Task<OpenApiContractException> WithContractAsync(OpenApiContract contract, Func<Task> exchange)
    {
        var before = app.Host.HttpContract;
        app.Host.HttpContract = contract;
        try
        {
            return await Assert.ThrowsAsync<OpenApiContractException>(exchange);
        }
        finally
        {
            app.Host.HttpContract = before;
        }
    }

    /// <summary>Every <c>example</c> and <c>examples/*/value</c> of a media type, parameter or header, with the pointer of its owner.</summary>
    private static IEnumerable<(string Pointer, JsonNode? Value)> Examples(JsonNode? node, string pointer)
    {
        if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                foreach (var found in Examples(array[i], $"{pointer}/{i}"))
                {
                    yield return found;
                }
            }

            yield break;
        }

        if (node is not JsonObject owner)
        {
            yield break;
        }

        if (owner.ContainsKey("schema") && owner.TryGetPropertyValue("example", out var example))
        {
            yield return (pointer, example);
        }

        if (owner.ContainsKey("schema") && owner["examples"] is JsonObject examples)
        {
            foreach (var (_, named) in examples)
            {
                yield return (pointer, named!["value"]);
            }
        }

        foreach (var (name, child) in owner)
        {
            if (name is not ("example" or "examples") && !(Methods.Contains(name) && child is not JsonObject))
            {
                foreach (var found in Examples(child, $"{pointer}/{name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}"))
                {
                    yield return found;
                }
            }
        }
    }
}

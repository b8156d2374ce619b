using System.Text.Json;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>
/// The emulator as Polar's official TypeScript SDK (<c>@polar-sh/sdk</c>, installed by <c>npm ci</c>) sees it: every served
/// operation called through the SDK in every API version it ships (tests/PolarSdkConformance/run.mjs), each answer
/// compiled against the SDK's own types by tsc and validated against Polar's OpenAPI schema, errors raised as the SDK raises them.
/// </summary>
public sealed class SdkConformanceTests(SdkConformanceRun run) : IClassFixture<SdkConformanceRun>
{
    /// <summary>The route each SDK operation calls (from the SDK's services), to tell which served routes the suite covers.</summary>
    private static readonly Dictionary<string, string> Routes = new(StringComparer.Ordinal)
    {
        ["customers.list"] = "GET /v1/customers/",
        ["customers.create"] = "POST /v1/customers/",
        ["customers.get"] = "GET /v1/customers/{id}",
        ["customers.update"] = "PATCH /v1/customers/{id}",
        ["customers.delete"] = "DELETE /v1/customers/{id}",
        ["customers.getExternal"] = "GET /v1/customers/external/{external_id}",
        ["customers.updateExternal"] = "PATCH /v1/customers/external/{external_id}",
        ["customers.deleteExternal"] = "DELETE /v1/customers/external/{external_id}",
        ["customers.getState"] = "GET /v1/customers/{id}/state",
        ["customers.getStateExternal"] = "GET /v1/customers/external/{external_id}/state",
        ["events.list"] = "GET /v1/events/",
        ["events.get"] = "GET /v1/events/{id}",
        ["events.ingest"] = "POST /v1/events/ingest",
        ["meters.list"] = "GET /v1/meters/",
        ["meters.create"] = "POST /v1/meters/",
        ["meters.get"] = "GET /v1/meters/{id}",
        ["meters.update"] = "PATCH /v1/meters/{id}",
        ["meters.quantities"] = "GET /v1/meters/{id}/quantities",
        ["customerMeters.list"] = "GET /v1/customer-meters/",
        ["customerMeters.get"] = "GET /v1/customer-meters/{id}",
    };

    [Theory]
    [InlineData("2026-04")]
    [InlineData("2026-10")]
    [InlineData("2027-01")]
    public void Sdk_calls_every_operation_the_emulator_serves(string version)
    {
        var called = run.Answers.Where(a => a.Version == version).Select(a => Routes[a.Operation]).ToHashSet();

        var missing = run.ServedOperations.Except(called).ToList();

        Assert.True(missing.Count == 0, $"Not called through the SDK in {version}: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_answer_satisfies_the_sdk_types_under_tsc()
    {
        Assert.True(run.TypeCheck.ExitCode == 0, $"tsc found answers that do not satisfy the SDK's types:\n{run.TypeCheck.Output}");
    }

    [Fact]
    public void Every_answer_is_valid_against_polar_openapi_schema()
    {
        var typed = run.Answers.Where(a => a.Component is not null).ToList();

        Assert.NotEmpty(typed);
        foreach (var answer in typed)
        {
            PolarSchema.AssertValid(answer.Component!, answer.Body);
        }
    }

    [Fact]
    public void Every_webhook_delivery_is_accepted_by_the_sdks_validate_event_in_every_version()
    {
        Assert.Equal(["2026-04", "2026-10", "2027-01"], run.Webhooks.Select(w => w.Version).Distinct().Order());
        var refused = run.Webhooks.Where(w => !w.Verified).Select(w => $"{w.Version} {w.Type}: {w.Error}").ToList();

        Assert.True(refused.Count == 0, string.Join("\n", refused));
    }

    [Fact]
    public void Webhooks_of_every_type_the_emulator_sends_were_delivered()
    {
        string[] types = ["customer.created", "customer.updated", "customer.deleted", "customer.state_changed", "order.paid", "order.refunded",
            "subscription.created", "subscription.active", "subscription.cycled", "subscription.canceled", "subscription.revoked"];

        Assert.Equal(types.Order(), run.Webhooks.Select(w => w.Type).Distinct().Order());
    }

    [Fact]
    public void Every_webhook_payload_is_valid_against_its_schema_in_polar_openapi_webhooks()
    {
        foreach (var webhook in run.Webhooks.Where(w => w.Version == "2026-04"))
        {
            PolarSchema.AssertValid(PayloadComponent(webhook.Type), webhook.Payload);
        }
    }

    /// <summary><c>order.paid</c> → <c>WebhookOrderPaidPayload</c>, the component the subset's <c>webhooks</c> section names for it.</summary>
    private static string PayloadComponent(string type) =>
        "Webhook" + string.Concat(type.Split('.', '_').Select(w => char.ToUpperInvariant(w[0]) + w[1..])) + "Payload";

    [Fact]
    public void Errors_are_raised_as_the_sdk_raises_them()
    {
        Assert.NotEmpty(run.Checks);
        var failed = run.Checks.Where(c => !c.Ok).Select(c => $"{c.Version} {c.Name}: {c.Message}").ToList();

        Assert.True(failed.Count == 0, string.Join("\n", failed));
    }
}

/// <summary>One answer the SDK received: the API version, the SDK operation, the OpenAPI component it must be, the body.</summary>
public sealed record SdkAnswer(string Version, string Operation, string? Component, JsonElement Body);

/// <summary>One error check of the SDK run: whether the SDK raised what Polar's answer makes it raise.</summary>
public sealed record SdkCheck(string Version, string Name, bool Ok, string Message);

/// <summary>One webhook the suite received, checked with one API version's <c>validateEvent</c>: verified or the error, and its payload.</summary>
public sealed record SdkWebhook(string Version, string Type, bool Verified, string? Error, JsonElement Payload);

/// <summary>What a child process printed and how it ended.</summary>
public sealed record ProcessResult(int ExitCode, string Output);

/// <summary>Runs the SDK suite once against a fresh emulator, then tsc over what it captured.</summary>
public sealed class SdkConformanceRun : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public IReadOnlyList<SdkAnswer> Answers { get; private set; } = [];

    public IReadOnlyList<SdkCheck> Checks { get; private set; } = [];

    public IReadOnlyList<SdkWebhook> Webhooks { get; private set; } = [];

    public IReadOnlyList<string> ServedOperations { get; private set; } = [];

    public ProcessResult TypeCheck { get; private set; } = new(-1, "tsc did not run");

    public async Task InitializeAsync()
    {
        var root = RepositoryRoot();
        var sdk = Path.Combine(root, "node_modules", "@polar-sh", "sdk", "package.json");
        var tsc = Path.Combine(root, "node_modules", "typescript", "bin", "tsc");
        if (!File.Exists(sdk) || !File.Exists(tsc))
        {
            throw new InvalidOperationException($"Polar's SDK or TypeScript is not installed in {root}/node_modules: run `npm ci` in the repository root.");
        }

        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        ServedOperations = server.ServedOperations;
        var output = Path.Combine(AppContext.BaseDirectory, "sdk-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(output);
        var suite = await RunAsync(root, "node", Path.Combine(root, "tests", "PolarSdkConformance", "run.mjs"), server.BaseAddress.ToString(), server.Token, output);
        if (suite.ExitCode != 0)
        {
            throw new InvalidOperationException($"The SDK suite failed (exit {suite.ExitCode}):\n{suite.Output}");
        }

        Answers = JsonSerializer.Deserialize<List<SdkAnswer>>(await File.ReadAllTextAsync(Path.Combine(output, "answers.json")), Json)!;
        Checks = JsonSerializer.Deserialize<List<SdkCheck>>(await File.ReadAllTextAsync(Path.Combine(output, "checks.json")), Json)!;
        Webhooks = JsonSerializer.Deserialize<List<SdkWebhook>>(await File.ReadAllTextAsync(Path.Combine(output, "webhooks.json")), Json)!;
        var config = Path.Combine(root, "tests", "PolarSdkConformance", "tsconfig.json").Replace('\\', '/');
        await File.WriteAllTextAsync(Path.Combine(output, "tsconfig.json"), $$"""{ "extends": "{{config}}", "include": ["captured/*.ts"] }""");
        TypeCheck = await RunAsync(root, "node", tsc, "-p", Path.Combine(output, "tsconfig.json"));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "package.json")) && Directory.Exists(Path.Combine(directory.FullName, "tests", "PolarSdkConformance")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No repository root (package.json and tests/PolarSdkConformance) above {AppContext.BaseDirectory}.");
    }

    private static async Task<ProcessResult> RunAsync(string workingDirectory, string fileName, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within 3 minutes.");
        }

        return new ProcessResult(process.ExitCode, await stdout + await stderr);
    }
}

using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using CreditGrants.Rules;
using CreditGrants.Storage.Rules;
using Microsoft.Extensions.Configuration;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command RulesCommand() => new("rules", "Grant rules on Polar's webhooks: validate, upload and list rule documents")
    {
        RuleValidateCommand(), RuleUploadCommand(), RuleListCommand(),
    };

    private static Argument<string> RuleFileArgument() => new("file")
    {
        HelpName = "file.json",
        Description = "A rule document (schema: docs/rule.schema.json; see docs/rules.md)",
    };

    private Command RuleValidateCommand()
    {
        var file = RuleFileArgument();
        var command = new Command("validate", "Check a rule document; exit 0, or 2 with every error (JSON path, value, what is accepted)") { file };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var json = parse.GetValue(_json);
            var (rule, errors) = await ReadRuleAsync(parse.GetValue(file)!, printErrors: !json, ct).ConfigureAwait(false);
            if (json)
            {
                // Valid or not, one object: a script reads the errors from it rather than from stderr.
                await WriteJsonAsync(new RuleValidationJson(rule?.Id, rule is not null, errors), RuleCliJsonContext.Default.RuleValidationJson)
                    .ConfigureAwait(false);
            }
            else if (rule is not null)
            {
                await _out.WriteLineAsync($"Rule '{rule.Id}' is valid.").ConfigureAwait(false);
            }

            return rule is null ? ExitCodes.InvalidInput : ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command RuleUploadCommand()
    {
        var file = RuleFileArgument();
        var storage = StorageOption();
        var command = new Command("upload", "Validate a rule document and store it in the app's rules container as <id>.json; it applies to the next delivery")
        {
            file, storage,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var path = parse.GetValue(file)!;
            var (rule, _) = await ReadRuleAsync(path, printErrors: true, ct).ConfigureAwait(false);
            if (rule is null)
            {
                return ExitCodes.InvalidInput;
            }

            var container = await OpenRuleContainerAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var blob = BlobGrantRuleSource.BlobName(rule.Id);
            await UploadDocumentAsync(container, blob, path, ct).ConfigureAwait(false);

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new RuleUploadedJson(rule.Id, container.Name, blob), RuleCliJsonContext.Default.RuleUploadedJson).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync($"Uploaded rule '{rule.Id}' to {container.Name}/{blob}; it grants on the next {rule.Event} delivery.")
                    .ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command RuleListCommand()
    {
        var storage = StorageOption();
        var command = new Command("list", "List the rules in the app's container, valid or not") { storage };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var container = await OpenRuleContainerAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var validator = new RuleValidator(ConfiguredGrantOptions());
            var rows = new List<RuleListEntryJson>();
            try
            {
                if (await container.ExistsAsync(ct).ConfigureAwait(false))
                {
                    await foreach (var blob in container.GetBlobsAsync(cancellationToken: ct).ConfigureAwait(false))
                    {
                        var content = await container.GetBlobClient(blob.Name).DownloadContentAsync(ct).ConfigureAwait(false);
                        var validation = validator.Validate(content.Value.Content.ToString());
                        var rule = validation.Rule;
                        var error = !validation.IsValid ? string.Join("; ", validation.Errors)
                            : BlobGrantRuleSource.BlobName(rule!.Id) != blob.Name ? $"the document's id '{rule.Id}' is not its blob's name; upload it again" : null;
                        rows.Add(new RuleListEntryJson(blob.Name, rule?.Id, error is null, rule?.Enabled, rule?.Event, rule?.Units, rule?.Meter,
                            rule?.PerCustomerCap, rule?.Budget, error));
                    }
                }
            }
            catch (RequestFailedException ex)
            {
                throw StorageFailure(ex);
            }

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new RuleListJson(container.Name, rows), RuleCliJsonContext.Default.RuleListJson).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            var text = new StringBuilder(rows.Count == 0 ? $"No rules in container '{container.Name}'.\n" : "");
            foreach (var row in rows)
            {
                text.AppendLine(!row.Valid
                    ? $"{row.Blob}  invalid (grants nothing): {row.Error}"
                    : $"{row.Rule}  {(row.Enabled == true ? "enabled" : "disabled")}  on {row.Trigger}: {Number(row.Units!.Value)} units on '{row.Meter}'"
                        + $"{(row.PerCustomerCap is { } cap ? $", at most {cap} per customer" : "")}{(row.Budget is { } budget ? $", budget {Number(budget)} units" : "")}");
            }

            await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    /// <summary>Reads and validates a rule document: the rule (null when not valid) and every error, printed on stderr or not.</summary>
    private async Task<(GrantRule? Rule, IReadOnlyList<string> Errors)> ReadRuleAsync(string path, bool printErrors, CancellationToken cancellationToken)
    {
        var text = await ReadDocumentAsync(path, RuleValidator.MaxDocumentBytes, "rule", "docs/rules.md's signup-credits.json", cancellationToken)
            .ConfigureAwait(false);
        var validation = new RuleValidator(ConfiguredGrantOptions()).Validate(text);
        foreach (var error in printErrors ? validation.Errors : [])
        {
            await _error.WriteLineAsync($"credits: {path}: {error}").ConfigureAwait(false);
        }

        return (validation.Rule, [.. validation.Errors.Select(e => e.ToString())]);
    }

    /// <summary>The app's rules container on the given storage, named by the app's settings (<c>Rules__Container</c>); unreachable storage fails here (exit 4).</summary>
    private async Task<BlobContainerClient> OpenRuleContainerAsync(string? storage, CancellationToken cancellationToken)
    {
        var account = await OpenReachableStorageAsync(storage, cancellationToken).ConfigureAwait(false);
        var options = new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build()
            .GetSection(RuleOptions.SectionName).Get<RuleOptions>() ?? new RuleOptions();
        return account.Blobs.GetBlobContainerClient(options.Container);
    }
}

/// <summary><c>credits rules validate --json</c>: the rule's id (null when it cannot be read), whether it is valid, every error.</summary>
internal sealed record RuleValidationJson(string? Rule, bool Valid, IReadOnlyList<string> Errors);

/// <summary><c>credits rules upload --json</c>.</summary>
internal sealed record RuleUploadedJson(string Rule, string Container, string Blob);

/// <summary>One rule of <c>credits rules list --json</c>; the rule's fields are null when its document is not valid.</summary>
internal sealed record RuleListEntryJson(string Blob, string? Rule, bool Valid, bool? Enabled, string? Trigger, decimal? Units, string? Meter,
    int? PerCustomerCap, decimal? Budget, string? Error);

/// <summary><c>credits rules list --json</c>: the container and its rules.</summary>
internal sealed record RuleListJson(string Container, IReadOnlyList<RuleListEntryJson> Rules);

/// <summary>The serializer of the rule commands' JSON output.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RuleValidationJson))]
[JsonSerializable(typeof(RuleUploadedJson))]
[JsonSerializable(typeof(RuleListJson))]
internal sealed partial class RuleCliJsonContext : JsonSerializerContext;

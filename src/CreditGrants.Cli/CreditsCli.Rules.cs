using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using CreditGrants.Grants;
using CreditGrants.Rules;
using CreditGrants.Webhooks;
using CreditGrants.Storage.Rules;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command RulesCommand() => new("rules", "Grant rules on Polar's webhooks: validate, preview, upload and list rule documents")
    {
        RuleValidateCommand(), RulePreviewCommand(), RuleUploadCommand(), RuleListCommand(),
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
        var customer = new Option<string?>("--customer")
        {
            HelpName = "polar-customer-id",
            Description = "List what the rules recorded for this customer (its Polar id): each grant's rule, outcome, units and cause",
        };
        var command = new Command("list", "List the rules in the app's container, valid or not; or, with --customer, a customer's rule grants") { storage, customer };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            if (parse.GetValue(customer) is { } customerId)
            {
                return await ListCustomerRuleGrantsAsync(customerId, parse.GetValue(storage), parse.GetValue(_json), ct).ConfigureAwait(false);
            }

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
                            rule?.PerCustomerCap, rule?.Budget, error) { UnitsPerMinorUnit = rule?.UnitsPerMinorUnit });
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
                    : $"{row.Rule}  {(row.Enabled == true ? "enabled" : "disabled")}  on {row.Trigger}: {UnitsText(row.Units, row.UnitsPerMinorUnit)} on '{row.Meter}'"
                        + $"{(row.PerCustomerCap is { } cap ? $", at most {cap} per customer" : "")}{(row.Budget is { } budget ? $", budget {Number(budget)} units" : "")}");
            }

            await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    /// <summary>A rule's units as text: <c>100 units</c>, or <c>0.01 units per minor unit of usd, 0.01 of eur</c>.</summary>
    private static string UnitsText(decimal? units, IReadOnlyDictionary<string, decimal>? perMinorUnit) => units is { } fixedUnits
        ? $"{Number(fixedUnits)} units"
        : "units per minor unit of the net amount: " + string.Join(", ", (perMinorUnit ?? new Dictionary<string, decimal>())
            .OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{Number(p.Value)} in {p.Key}"));

    private Command RulePreviewCommand()
    {
        var file = RuleFileArgument();
        var eventFile = new Option<string?>("--event")
        {
            HelpName = "delivery.json",
            Description = "A saved delivery's body or a payload from Polar's dashboard ({\"type\": …, \"data\": …}): show what the rule grants for it",
        };
        var storage = new Option<string?>("--storage")
        {
            Description = "The Functions app's storage (connection string or account name): check the rule's cap and budget as recorded (default: not checked)",
        };
        var command = new Command("preview", "Show what a rule would grant for an event (units, meter, grant id, expiry, cap and budget) without granting")
        {
            file, eventFile, storage,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var (rule, _) = await ReadRuleAsync(parse.GetValue(file)!, printErrors: true, ct).ConfigureAwait(false);
            if (rule is null)
            {
                return ExitCodes.InvalidInput;
            }

            var preview = parse.GetValue(eventFile) is { } path
                ? await PreviewEventAsync(rule, path, parse.GetValue(storage), ct).ConfigureAwait(false)
                : new RulePreviewJson(rule.Id, rule.Event, null, null, null, null, null, rule.Units, rule.Meter, null,
                    $"no event given: grants {UnitsText(rule.Units, rule.UnitsPerMinorUnit)} on each {rule.Event}", "not checked")
                {
                    ExpiresIn = rule.ExpiresIn is { } span ? System.Xml.XmlConvert.ToString(span) : null,
                };
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(preview, RuleCliJsonContext.Default.RulePreviewJson).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"Rule        {preview.Rule}{(rule.Enabled ? "" : " (disabled: it grants nothing)")} on {preview.Trigger}");
            if (preview.Event is { } type)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"Event       {type} {preview.ObjectId}");
            }

            if (preview.Grants != true)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"Grants      {(preview.Event is null ? "" : "nothing: ")}{preview.Detail}");
                if (preview.Event is null)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"Expires     {(preview.ExpiresIn is { } duration ? duration + " after each event" : "never")}");
                }
            }
            else
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"Grants      {Number(preview.Units!.Value)} units on meter '{preview.Meter}' ({preview.Detail})");
                text.AppendLine(CultureInfo.InvariantCulture, $"To          customer {preview.Customer}");
                text.AppendLine(CultureInfo.InvariantCulture, $"Grant id    {preview.GrantId}");
                text.AppendLine(CultureInfo.InvariantCulture, $"Expires     {preview.ExpiresAt ?? "never"}");
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"Cap/budget  {preview.Decision}");
            await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    /// <summary>What <paramref name="rule"/> does with the event in <paramref name="path"/>, cap and budget read from <paramref name="storage"/> when given.</summary>
    private async Task<RulePreviewJson> PreviewEventAsync(GrantRule rule, string path, string? storage, CancellationToken cancellationToken)
    {
        var text = await ReadDocumentAsync(path, 4 * 1024 * 1024, "webhook payload", "a blob of the app's webhooks container", cancellationToken).ConfigureAwait(false);
        JsonElement payload;
        try
        {
            using var document = JsonDocument.Parse(text);
            payload = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new CliInputException($"{Identity.Display.Shorten(path)}: is not JSON ({ex.Message}); give a webhook payload, {{\"type\": …, \"data\": …}}.");
        }

        var validation = PolarWebhookSchemas.Default.Validate(payload);
        if (validation.Verdict != WebhookVerdict.Valid)
        {
            throw new CliInputException($"{Identity.Display.Shorten(path)}: {validation.Reason}");
        }

        RuleEvent e;
        try
        {
            e = RuleEvent.Of(new PolarWebhookEvent(validation.Type!, "preview", Clock.GetUtcNow(), payload));
        }
        catch (PolarWebhookRejectedException ex)
        {
            throw new CliInputException($"{Identity.Display.Shorten(path)}: {ex.Message}");
        }

        var preview = new RulePreviewJson(rule.Id, rule.Event, e.Type, e.ObjectId, null, e.CustomerId.ToString("D"), null, null, rule.Meter, null, "", "not checked");
        if (RuleGrantPlan.Mismatch(rule, e) is { } mismatch)
        {
            return preview with { Grants = false, Detail = mismatch, Decision = "not asked: the rule does not act on this event" };
        }

        var plan = RuleGrantPlan.Of(rule, e, Clock.GetUtcNow(), ConfiguredGrantOptions().MaxUnitsPerGrant);
        preview = preview with
        {
            Grants = plan.Refused is null, GrantId = plan.GrantId.Value, Units = plan.Units, Detail = plan.Refused is { } refused ? $"{refused}: {plan.Detail}" : plan.Detail,
            ExpiresAt = plan.ExpiresAt is { } at ? GrantExpiry.Format(at) : null,
            ExpiresIn = rule.ExpiresIn is { } span ? System.Xml.XmlConvert.ToString(span) : null,
        };
        if (plan.Refused is not null || storage is null)
        {
            return plan.Refused is not null ? preview with { Decision = "not asked: the rule grants nothing for this event" } : preview;
        }

        var ledger = await OpenRuleLedgerAsync(storage, cancellationToken).ConfigureAwait(false);
        try
        {
            var (outcome, recorded) = await ledger.PreviewAsync(rule, plan.GrantId.Value, e.CustomerId.ToString("D"), plan.Units, cancellationToken).ConfigureAwait(false);
            return preview with
            {
                Grants = outcome == RuleGrantOutcome.Reserved && !recorded,
                Decision = recorded ? $"already recorded as {outcome}: a delivery of this event grants nothing again"
                    : outcome == RuleGrantOutcome.Reserved ? "within the cap and budget" : $"{outcome}: recorded, not granted",
            };
        }
        catch (RequestFailedException ex)
        {
            throw StorageFailure(ex);
        }
    }

    /// <summary><c>credits rules list --customer</c>: every grant the rules recorded for one customer (its Polar id).</summary>
    private async Task<int> ListCustomerRuleGrantsAsync(string customer, string? storage, bool json, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(customer, out var customerId))
        {
            throw new CliInputException($"--customer '{Identity.Display.Shorten(customer)}': accepted: the customer's Polar id, a UUID (the rules table records customers by it)");
        }

        var ledger = await OpenRuleLedgerAsync(storage, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<RecordedRuleGrant> grants;
        try
        {
            grants = await ledger.CustomerGrantsAsync(customerId.ToString("D"), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            throw StorageFailure(ex);
        }

        var rows = grants.OrderBy(g => g.At).Select(g => new RuleCustomerGrantJson(g.RuleId, g.GrantId, g.Outcome.ToString(), g.Units, g.Cause,
            g.At is { } at ? GrantExpiry.Format(at) : null)).ToList();
        if (json)
        {
            await WriteJsonAsync(new RuleCustomerGrantsJson(customerId.ToString("D"), rows), RuleCliJsonContext.Default.RuleCustomerGrantsJson).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        var text = new StringBuilder(rows.Count == 0 ? $"No rule grants recorded for customer {customerId:D}.\n" : "");
        foreach (var row in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{row.At}  {row.Rule}  {row.Outcome}  {Number(row.Units)} units  {row.GrantId}  ({row.Cause})");
        }

        await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>The app's rules table on the given storage, named by the app's settings (<c>Rules__Table</c>); unreachable storage fails here (exit 4).</summary>
    private async Task<TableRuleGrantLedger> OpenRuleLedgerAsync(string? storage, CancellationToken cancellationToken)
    {
        var account = await OpenReachableStorageAsync(storage, cancellationToken).ConfigureAwait(false);
        return new TableRuleGrantLedger(() => account, Options.Create(RuleSettings()), Clock);
    }

    private RuleOptions RuleSettings() => new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build()
        .GetSection(RuleOptions.SectionName).Get<RuleOptions>() ?? new RuleOptions();

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
        return account.Blobs.GetBlobContainerClient(RuleSettings().Container);
    }
}

/// <summary><c>credits rules validate --json</c>: the rule's id (null when it cannot be read), whether it is valid, every error.</summary>
internal sealed record RuleValidationJson(string? Rule, bool Valid, IReadOnlyList<string> Errors);

/// <summary><c>credits rules upload --json</c>.</summary>
internal sealed record RuleUploadedJson(string Rule, string Container, string Blob);

/// <summary>One rule of <c>credits rules list --json</c>; the rule's fields are null when its document is not valid.</summary>
internal sealed record RuleListEntryJson(string Blob, string? Rule, bool Valid, bool? Enabled, string? Trigger, decimal? Units, string? Meter,
    int? PerCustomerCap, decimal? Budget, string? Error)
{
    /// <summary>Per currency, units per minor unit of an order's net amount (instead of <see cref="Units"/>); null otherwise.</summary>
    public IReadOnlyDictionary<string, decimal>? UnitsPerMinorUnit { get; init; }
}

/// <summary>
/// <c>credits rules preview --json</c>: the rule, its trigger, the event previewed (null without <c>--event</c>), whether
/// it grants, the derived grant id, the customer (Polar id), units, meter, expiry, what was computed, and the cap and budget
/// decision (<c>not checked</c> without <c>--storage</c>).
/// </summary>
internal sealed record RulePreviewJson(string Rule, string Trigger, string? Event, string? ObjectId, bool? Grants, string? Customer, string? GrantId,
    decimal? Units, string Meter, string? ExpiresAt, string Detail, string Decision)
{
    /// <summary>The rule's <c>expiresIn</c> as ISO 8601; null when its grants do not expire.</summary>
    public string? ExpiresIn { get; init; }
}

/// <summary>One grant of <c>credits rules list --customer --json</c>.</summary>
internal sealed record RuleCustomerGrantJson(string Rule, string GrantId, string Outcome, decimal Units, string? Cause, string? At);

/// <summary><c>credits rules list --customer --json</c>: the customer's Polar id and its recorded rule grants, oldest first.</summary>
internal sealed record RuleCustomerGrantsJson(string Customer, IReadOnlyList<RuleCustomerGrantJson> Grants);

/// <summary><c>credits rules list --json</c>: the container and its rules.</summary>
internal sealed record RuleListJson(string Container, IReadOnlyList<RuleListEntryJson> Rules);

/// <summary>The serializer of the rule commands' JSON output.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(RuleValidationJson))]
[JsonSerializable(typeof(RuleUploadedJson))]
[JsonSerializable(typeof(RuleListJson))]
[JsonSerializable(typeof(RulePreviewJson))]
[JsonSerializable(typeof(RuleCustomerGrantsJson))]
internal sealed partial class RuleCliJsonContext : JsonSerializerContext;

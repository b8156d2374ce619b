using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>Where the CLI keeps campaign state, inside the data folder.</summary>
    public const string CampaignStateFolder = "campaigns";

    private Command CampaignsCommand() => new("campaigns", "Scheduled credit campaigns: validate, preview and run campaign documents")
    {
        CampaignValidateCommand(), CampaignPreviewCommand(), CampaignRunCommand(), CampaignRevokeCommand(), CampaignSeedCommand(),
        CampaignUploadCommand(), CampaignListCommand(), CampaignStatusCommand(),
    };

    private static Argument<string> CampaignFileArgument() => new("file")
    {
        HelpName = "file.json",
        Description = "A campaign document (schema: docs/campaign.schema.json; examples: samples/campaigns/)",
    };

    private Command CampaignValidateCommand()
    {
        var file = CampaignFileArgument();
        var command = new Command("validate", "Check a campaign document; exit 0, or 2 with every error (JSON path, value, what is accepted)") { file };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var json = parse.GetValue(_json);
            var (campaign, errors) = await ReadCampaignAsync(parse.GetValue(file)!, printErrors: !json, ct).ConfigureAwait(false);
            if (json)
            {
                // Valid or not, one object: a script reads the errors from it rather than from stderr.
                await WriteJsonAsync(new CampaignValidationJson(campaign?.Id, campaign is not null, errors),
                    CampaignJsonContext.Default.CampaignValidationJson).ConfigureAwait(false);
            }
            else if (campaign is not null)
            {
                await _out.WriteLineAsync($"Campaign '{campaign.Id}' is valid.").ConfigureAwait(false);
            }

            return campaign is null ? ExitCodes.InvalidInput : ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command CampaignPreviewCommand()
    {
        var file = CampaignFileArgument();
        var at = AtOption("The instant to preview from (default: now), with an offset such as 2026-12-07T09:00:00+01:00");
        var count = new Option<int>("--count") { HelpName = "n", Description = "How many upcoming occurrences to show (default 5)", DefaultValueFactory = _ => 5 };
        var storage = new Option<string?>("--storage") { Description = "Read the budget from the app's state table on this storage (connection string or account name)" };
        var command = new Command("preview", "Show the next occurrences, the audience's size now, the units per occurrence and the budget; grants nothing")
        {
            file, at, count, storage,
        };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var campaign = await ReadCampaignAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            if (campaign is null)
            {
                return ExitCodes.InvalidInput;
            }

            var instant = ParseAt(parse.GetValue(at)) ?? TimeProvider.System.GetUtcNow();
            var occurrences = parse.GetValue(count);
            if (occurrences is < 1 or > 100)
            {
                throw new CliInputException($"--count {occurrences}: give a number from 1 to 100.");
            }

            var stateStore = await CampaignStoreAsync(parse, parse.GetValue(storage), ct).ConfigureAwait(false);
            return await RunAsync(parse, async services =>
            {
                var preview = await services.GetRequiredService<CampaignRunner>()
                    .PreviewAsync(campaign, stateStore, instant, occurrences, ct).ConfigureAwait(false);
                await WritePreviewAsync(campaign, preview, parse.GetValue(_json)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }, ct).ConfigureAwait(false);
        }, ct));
        return command;
    }

    private Command CampaignRunCommand()
    {
        var file = CampaignFileArgument();
        var at = AtOption("Run the occurrences due up to this instant (default: now; never later than now), with an offset");
        var localState = new Option<bool>("--local-state")
        {
            Description = "Against a real Polar, keep the campaign's state in the data folder although the app's record of it is not consulted",
        };
        var storage = new Option<string?>("--storage")
        {
            Description = "Use the app's state table on this storage (connection string or account name): one budget, one record of occurrences; "
                + "Polar requests are taken from the app's shared request budget (its PolarBudget table), so this run does not eat the app's share",
        };
        var command = new Command("run", "Run the occurrences due now with the app's code; state lives in the data folder, so running again grants nothing")
        {
            file, at, localState, storage,
        };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var campaign = await ReadCampaignAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            if (campaign is null)
            {
                return ExitCodes.InvalidInput;
            }

            var now = TimeProvider.System.GetUtcNow();
            var instant = ParseAt(parse.GetValue(at)) ?? now;
            if (instant > now)
            {
                throw new CliInputException($"--at {parse.GetValue(at)}: is later than now; Polar takes no events dated in the future, so a campaign runs only up to now.");
            }

            var stateStore = await CampaignStoreAsync(parse, parse.GetValue(storage), ct).ConfigureAwait(false);
            var budget = await SharedBudgetAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            if (!UsesEmbeddedEmulator(parse) && parse.GetValue(storage) is null)
            {
                await _error.WriteLineAsync("credits: warning: this run keeps the campaign's state in the data folder; the app's record of the campaign "
                    + "(its budget and occurrences) is not consulted, so a campaign run both ways could spend its budget twice.").ConfigureAwait(false);
                if (!parse.GetValue(localState))
                {
                    throw new CliInputException("refusing to run against a Polar server with local state alone: pass --local-state to accept it.");
                }
            }

            return await RunAsync(parse, async services =>
            {
                var progress = new SynchronousProgress<CampaignProgress>(p =>
                {
                    if (!parse.GetValue(_json))
                    {
                        _error.WriteLine($"{campaign.Id} {p.Occurrence}: {p.TargetsDone:N0} targets, {p.SoFar.Granted:N0} granted, "
                            + $"{p.SoFar.Duplicates:N0} duplicates, {p.SoFar.Rejected:N0} rejected, {p.SoFar.Waiting:N0} waiting");
                    }
                });
                var result = await services.GetRequiredService<CampaignRunner>()
                    .RunAsync(campaign, stateStore, instant, new CampaignRunOptions(Progress: progress), ct).ConfigureAwait(false);
                await WriteRunAsync(campaign, result, parse.GetValue(_json)).ConfigureAwait(false);
                return result.Error is not null ? ExitCodes.Unavailable
                    : result.Rejected + result.Failed > 0 ? ExitCodes.RowsRejected
                    : ExitCodes.Ok;
            }, ct, budget).ConfigureAwait(false);
        }, ct));
        return command;
    }

    private Command CampaignSeedCommand()
    {
        var command = new Command("seed-samples",
            $"Add sample customers sample-1 … sample-{SampleCustomers.Count} (plan metadata; some with an active subscription) to the embedded emulator");
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            if (!UsesEmbeddedEmulator(parse))
            {
                throw new CliInputException("seed-samples only seeds the embedded emulator: unset POLAR_SERVER and POLAR_ACCESS_TOKEN (and --polar-server).");
            }

            var dataDir = DataDir(parse);
            Directory.CreateDirectory(dataDir);
            var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions
            {
                SeedMeter = true,
                DataFile = Path.Combine(dataDir, PolarConnection.EmulatorStateFile),
                CustomerSeeds = SampleCustomers.All,
            }, ct).ConfigureAwait(false);
            await server.DisposeAsync().ConfigureAwait(false);
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new SamplesSeededJson(dataDir, [.. SampleCustomers.All.Select(c => c.ExternalId)]), CampaignJsonContext.Default.SamplesSeededJson)
                    .ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            await _out.WriteLineAsync($"The embedded emulator (state in {dataDir}) has the sample customers sample-1 … sample-{SampleCustomers.Count}: "
                + "odd ones on plan 'free', even ones on 'pro'; pro customers and sample-3 have an active subscription.").ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Option<string?> AtOption(string description) => new("--at") { HelpName = "time", Description = description };

    private static DateTimeOffset? ParseAt(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var hasOffset = text.EndsWith('Z') || text.EndsWith('z') || System.Text.RegularExpressions.Regex.IsMatch(text, @"[+-]\d{2}:\d{2}$");
        if (!hasOffset || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value))
        {
            throw new CliInputException($"--at '{text}': give a date and time with an offset, such as 2026-12-07T09:00:00+01:00 or 2026-12-07T08:00:00Z.");
        }

        return value;
    }

    private bool UsesEmbeddedEmulator(ParseResult parse) =>
        (parse.GetValue(_server) ?? _environment(PolarConnection.ServerVariable)) is null
        && parse.GetValue(_tokenFile) is null
        && string.IsNullOrWhiteSpace(_environment(PolarConnection.TokenVariable));

    private string DataDir(ParseResult parse) => DataFolder.Resolve(parse.GetValue(_dataDir), _environment);

    /// <summary>The app's state table when <c>--storage</c> is given, else the data folder's state files.</summary>
    private async Task<ICampaignStateStore> CampaignStoreAsync(ParseResult parse, string? storage, CancellationToken cancellationToken) =>
        storage is null ? new FileCampaignStateStore(Path.Combine(DataDir(parse), CampaignStateFolder))
            : (await OpenCampaignStorageAsync(storage, cancellationToken).ConfigureAwait(false)).Table;

    /// <summary>Reads and validates a campaign document; prints every error and returns null when it is not valid.</summary>
    private async Task<Campaign?> ReadCampaignAsync(string path, CancellationToken cancellationToken) =>
        (await ReadCampaignAsync(path, printErrors: true, cancellationToken).ConfigureAwait(false)).Campaign;

    /// <summary>Reads and validates a campaign document: the campaign (null when not valid) and every error, printed on stderr or not.</summary>
    private async Task<(Campaign? Campaign, IReadOnlyList<string> Errors)> ReadCampaignAsync(string path, bool printErrors, CancellationToken cancellationToken)
    {
        var text = await ReadDocumentAsync(path, CampaignValidator.MaxDocumentBytes, "campaign", "samples/campaigns/launch-partners.json", cancellationToken)
            .ConfigureAwait(false);
        var validation = new CampaignValidator(ConfiguredGrantOptions()).Validate(text);
        foreach (var error in printErrors ? validation.Errors : [])
        {
            await _error.WriteLineAsync($"credits: {path}: {error}").ConfigureAwait(false);
        }

        return (validation.Campaign, [.. validation.Errors.Select(e => e.ToString())]);
    }

    /// <summary>A document file's text (UTF-8, at most <paramref name="maxBytes"/>); a missing, oversized or non-UTF-8 file is a <see cref="CliInputException"/>.</summary>
    private static async Task<string> ReadDocumentAsync(string path, int maxBytes, string kind, string example, CancellationToken cancellationToken)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > maxBytes)
            {
                throw new CliInputException($"'{path}' is {info.Length:N0} bytes; a {kind} document may have at most {maxBytes:N0}.");
            }

            return await File.ReadAllTextAsync(path, new UTF8Encoding(false, throwOnInvalidBytes: true), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliInputException($"'{path}' does not exist; give the path of a {kind} document such as {example}.");
        }
        catch (DecoderFallbackException)
        {
            throw new CliInputException($"'{path}' is not valid UTF-8; save the {kind} document as UTF-8.");
        }
    }

    private async Task WritePreviewAsync(Campaign campaign, CampaignPreview preview, bool json)
    {
        if (json)
        {
            await WriteJsonAsync(new CampaignPreviewJson(preview.Campaign,
                [.. preview.NextOccurrences.Select(o => new PreviewOccurrenceJson(Instant(o.Utc), Instant(o.Local)))],
                preview.AudienceSize, preview.UnitsPerOccurrence, BudgetJson.From(preview.Budget)), CampaignJsonContext.Default.CampaignPreviewJson).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Campaign    {campaign.Id}{(campaign.Enabled ? "" : " (disabled: it has no occurrences)")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"Grants      {Number(campaign.Units)} units on meter '{campaign.Meter}', {(campaign.Policy == GrantPolicy.OncePerCustomer ? "once per customer" : "every occurrence")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"Audience    {campaign.Audience.Kind}: {preview.AudienceSize:N0} customers now{(preview.Waiting > 0 ? $", {preview.Waiting:N0} listed ids without a customer yet (waiting)" : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"Per occurrence  at most {Number(preview.UnitsPerOccurrence)} units (customers granted before are duplicates and cost nothing)");
        text.AppendLine(CultureInfo.InvariantCulture, $"Budget      {DescribeBudget(preview.Budget)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"Due now     {(preview.DueNow.Count == 0 ? "nothing" : string.Join(", ", preview.DueNow.Select(Instant)))}");
        text.AppendLine(preview.NextOccurrences.Count == 0 ? "Next        none (the schedule has no occurrence left in its window)" : "Next occurrences (local, then UTC):");
        foreach (var occurrence in preview.NextOccurrences)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Instant(occurrence.Local)}  {Instant(occurrence.Utc)}");
        }

        await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    private async Task WriteRunAsync(Campaign campaign, CampaignRunResult result, bool json)
    {
        if (json)
        {
            await WriteJsonAsync(new CampaignRunJson(result.Campaign,
                [.. result.Occurrences.Select(o => new OccurrenceJson(o.Occurrence, o.Targets, o.Granted, o.Duplicates, o.Rejected, o.Failed, o.UnitsGranted, o.Waiting, o.OverBudget))],
                result.SkippedOccurrences, result.Granted, result.Duplicates, result.Rejected, result.Failed, result.UnitsGranted,
                BudgetJson.From(result.Budget), result.Error), CampaignJsonContext.Default.CampaignRunJson).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        if (result.Occurrences.Count == 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Campaign '{campaign.Id}': {(result.Budget.Exhausted ? "exhausted; nothing was sent to Polar" : "no occurrence is due; nothing was granted")}.");
        }

        foreach (var o in result.Occurrences)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{campaign.Id} {o.Occurrence}: {o.Targets:N0} targets; {o.Granted:N0} granted ({Number(o.UnitsGranted)} units), "
                + $"{o.Duplicates:N0} already granted, {o.Rejected:N0} rejected, {o.Failed:N0} failed, {o.Waiting:N0} waiting for their customer, {o.OverBudget:N0} over budget");
        }

        if (result.SkippedOccurrences > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Skipped {result.SkippedOccurrences:N0} older missed occurrences (catchUp {campaign.CatchUp}).");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Budget: {DescribeBudget(result.Budget)}");
        if (result.Error is not null)
        {
            text.AppendLine(result.Error);
        }

        await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    private static string DescribeBudget(CampaignBudgetView budget)
    {
        var limits = new List<string>();
        if (budget.MaxTotalUnits is { } units)
        {
            limits.Add($"{Number(budget.UnitsGranted)} of {Number(units)} units");
        }

        if (budget.MaxGrants is { } grants)
        {
            limits.Add($"{budget.Grants:N0} of {grants:N0} grants");
        }

        var spent = limits.Count == 0 ? $"no limit; {Number(budget.UnitsGranted)} units in {budget.Grants:N0} grants so far" : string.Join(", ", limits) + " used";
        return budget.Exhausted ? spent + " (exhausted: the campaign makes no more grants)" : spent;
    }

    private static string Instant(DateTimeOffset value) => value.Offset == TimeSpan.Zero
        ? value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : value.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
}

/// <summary><c>credits campaigns preview --json</c>.</summary>
internal sealed record CampaignPreviewJson(string Campaign, IReadOnlyList<PreviewOccurrenceJson> NextOccurrences, long AudienceSize,
    decimal UnitsPerOccurrence, BudgetJson Budget);

/// <summary>An occurrence in UTC and in the campaign's zone.</summary>
internal sealed record PreviewOccurrenceJson(string Utc, string Local);

/// <summary>A campaign's budget in JSON; limits are null when unset.</summary>
internal sealed record BudgetJson(decimal? MaxTotalUnits, long? MaxGrants, decimal UnitsGranted, long Grants, bool Exhausted)
{
    public static BudgetJson From(CampaignBudgetView view) => new(view.MaxTotalUnits, view.MaxGrants, view.UnitsGranted, view.Grants, view.Exhausted);
}

/// <summary><c>credits campaigns run --json</c>.</summary>
internal sealed record CampaignRunJson(string Campaign, IReadOnlyList<OccurrenceJson> Occurrences, long SkippedOccurrences, long Granted,
    long Duplicates, long Rejected, long Failed, decimal UnitsGranted, BudgetJson Budget,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

/// <summary>One occurrence of a run, in JSON.</summary>
internal sealed record OccurrenceJson(string Occurrence, long Targets, long Granted, long Duplicates, long Rejected, long Failed,
    decimal UnitsGranted, long Waiting, long OverBudget);

/// <summary><c>credits campaigns validate --json</c>: the campaign's id (null when it cannot be read), whether it is valid, every error.</summary>
internal sealed record CampaignValidationJson(string? Campaign, bool Valid, IReadOnlyList<string> Errors);

/// <summary><c>credits campaigns seed-samples --json</c>: the data folder and the sample customers' external ids.</summary>
internal sealed record SamplesSeededJson(string DataDir, IReadOnlyList<string> Customers);

/// <summary>The serializer of the campaign commands' JSON output.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CampaignValidationJson))]
[JsonSerializable(typeof(SamplesSeededJson))]
[JsonSerializable(typeof(CampaignPreviewJson))]
[JsonSerializable(typeof(CampaignRunJson))]
internal sealed partial class CampaignJsonContext : JsonSerializerContext;

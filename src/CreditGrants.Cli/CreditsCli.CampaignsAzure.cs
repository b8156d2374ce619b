using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using CreditGrants.Campaigns;
using CreditGrants.Storage;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command CampaignUploadCommand()
    {
        var file = CampaignFileArgument();
        var storage = StorageOption();
        var command = new Command("upload", "Validate a campaign document and store it in the app's campaigns container as <id>.json") { file, storage };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var path = parse.GetValue(file)!;
            var campaign = await ReadCampaignAsync(path, ct).ConfigureAwait(false);
            if (campaign is null)
            {
                return ExitCodes.InvalidInput;
            }

            var (container, _) = await OpenCampaignStorageAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var blob = CampaignScheduler.BlobName(campaign.Id);
            await UploadDocumentAsync(container, blob, path, ct).ConfigureAwait(false);

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new CampaignUploadedJson(campaign.Id, container.Name, blob), CampaignAzureJsonContext.Default.CampaignUploadedJson)
                    .ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync($"Uploaded campaign '{campaign.Id}' to {container.Name}/{blob}; the app runs it at its next timer tick. "
                    + $"Follow it with: credits campaigns status {campaign.Id}").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command CampaignListCommand()
    {
        var storage = StorageOption();
        var command = new Command("list", "List the campaigns in the app's container with their state") { storage };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var (container, table) = await OpenCampaignStorageAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var rows = new List<CampaignListEntryJson>();
            try
            {
                if (await container.ExistsAsync(ct).ConfigureAwait(false))
                {
                    await foreach (var blob in container.GetBlobsAsync(cancellationToken: ct).ConfigureAwait(false))
                    {
                        rows.Add(await ListEntryAsync(container, table, blob.Name, ct).ConfigureAwait(false));
                    }
                }
            }
            catch (RequestFailedException ex)
            {
                throw StorageFailure(ex);
            }

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new CampaignListJson(container.Name, rows), CampaignAzureJsonContext.Default.CampaignListJson).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            var text = new StringBuilder(rows.Count == 0 ? $"No campaigns in container '{container.Name}'.\n" : "");
            foreach (var row in rows)
            {
                var line = !row.Valid
                    ? $"{row.Blob}  invalid: {row.Error}"
                    : $"{row.Campaign}  last {row.LastOccurrence ?? "never"}  {row.Grants:N0} grants, {Number(row.UnitsGranted)} units{(row.Exhausted ? "  exhausted" : "")}{(row.Error is { } last ? $"  last error: {last}" : "")}";
                text.AppendLine(line);
            }

            await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command CampaignStatusCommand()
    {
        var id = new Argument<string>("id") { Description = "The campaign's id" };
        var storage = StorageOption();
        var command = new Command("status", "Show a campaign's state in the app: occurrences, budget, jobs, last error") { id, storage };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var campaignId = parse.GetValue(id)!;
            var (container, table) = await OpenCampaignStorageAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            CampaignState state;
            try
            {
                state = await ReadStateAsync(table, campaignId, ct).ConfigureAwait(false)
                    // Uploaded but not run yet (what 'upload' tells the operator to check): new state, not an error.
                    ?? (await container.GetBlobClient(CampaignScheduler.BlobName(campaignId)).ExistsAsync(ct).ConfigureAwait(false)
                        ? CampaignState.New(campaignId)
                        : throw new CliInputException($"No campaign '{campaignId}' in this storage account: it is neither uploaded nor has it run; "
                            + "check the id (see 'credits campaigns list')."));
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                throw new CliInputException($"No campaign '{campaignId}' in this storage account: no campaign is uploaded there yet.");
            }
            catch (RequestFailedException ex)
            {
                throw StorageFailure(ex);
            }

            if (parse.GetValue(_json))
            {
                await _out.WriteLineAsync(CampaignStateJson.Serialize(state)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"Campaign   {state.CampaignId}{(state.Exhausted ? "  (exhausted: no more grants)" : "")}");
            text.AppendLine(CultureInfo.InvariantCulture, $"Last       {(state.LastOccurrence is { } last ? Instant(last.ToUniversalTime()) : "never (the app runs it at its next timer tick)")}");
            text.AppendLine(CultureInfo.InvariantCulture, $"Granted    {state.Grants:N0} grants, {Number(state.UnitsGranted)} units (reserved: {state.GrantsReserved:N0} grants, {Number(state.UnitsReserved)} units)");
            text.AppendLine(CultureInfo.InvariantCulture, $"Skipped    {state.SkippedOccurrences:N0} missed occurrences");
            if (state.LastError is { } error)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"Last error {error}");
            }

            foreach (var job in state.PendingJobs)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"Pending    {job.Occurrence}: job {job.JobId} ({job.Grants:N0} grants reserved); follow it with: credits bulk status {job.JobId}");
            }

            foreach (var o in state.Occurrences.TakeLast(10))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  {o.Occurrence}: {o.Targets:N0} targets, {o.Granted:N0} granted, {o.Duplicates:N0} duplicates, {o.Rejected:N0} rejected, "
                    + $"{o.Failed:N0} failed, {o.Waiting:N0} waiting, {o.OverBudget:N0} over budget{(o.JobId is { } j ? $", job {j}" : "")}");
            }

            await _out.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    /// <summary>The campaign's state in the app's table; null when it has none (never run) or the table does not exist yet.</summary>
    private static async Task<CampaignState?> ReadStateAsync(TableCampaignStateStore table, string campaignId, CancellationToken ct)
    {
        try
        {
            var read = await table.ReadAsync(campaignId, ct).ConfigureAwait(false);
            return read.Version is null ? null : read.State;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private async Task<CampaignListEntryJson> ListEntryAsync(BlobContainerClient container, TableCampaignStateStore table, string blob, CancellationToken ct)
    {
        var content = await container.GetBlobClient(blob).DownloadContentAsync(ct).ConfigureAwait(false);
        var validation = new CampaignValidator(ConfiguredGrantOptions()).Validate(content.Value.Content.ToString());
        var id = validation.Campaign?.Id ?? (blob.EndsWith(".json", StringComparison.Ordinal) ? blob[..^5] : blob);
        CampaignState state;
        try
        {
            state = (await table.ReadAsync(id, ct).ConfigureAwait(false)).State;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            state = CampaignState.New(id);
        }

        return new CampaignListEntryJson(blob, id, validation.IsValid, state.LastOccurrence is { } last ? Instant(last.ToUniversalTime()) : null,
            state.Grants, state.UnitsGranted, state.Exhausted,
            validation.IsValid ? state.LastError : string.Join("; ", validation.Errors));
    }

    /// <summary>Stores a document file as it is (after validation) as <paramref name="blob"/>, creating the container if need be.</summary>
    private static async Task UploadDocumentAsync(BlobContainerClient container, string blob, string path, CancellationToken ct)
    {
        try
        {
            await container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            await container.GetBlobClient(blob).UploadAsync(BinaryData.FromBytes(await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false)),
                overwrite: true, ct).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            throw StorageFailure(ex);
        }
    }

    /// <summary>
    /// The app's campaigns container and state table on the given storage, named by the app's settings (<c>Campaigns__…</c>);
    /// a storage that does not answer fails here, at once (exit 4).
    /// </summary>
    private async Task<(BlobContainerClient Container, TableCampaignStateStore Table)> OpenCampaignStorageAsync(string? storage,
        CancellationToken cancellationToken)
    {
        var account = await OpenReachableStorageAsync(storage, cancellationToken).ConfigureAwait(false);
        var options = new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build()
            .GetSection(CampaignOptions.SectionName).Get<CampaignOptions>() ?? new CampaignOptions();
        return (account.Blobs.GetBlobContainerClient(options.Container), new TableCampaignStateStore(() => account, Options.Create(options)));
    }
}

/// <summary>One campaign of <c>credits campaigns list --json</c>.</summary>
internal sealed record CampaignListEntryJson(string Blob, string Campaign, bool Valid, string? LastOccurrence, long Grants, decimal UnitsGranted,
    bool Exhausted, string? Error);

/// <summary><c>credits campaigns list --json</c>: the container and its campaigns.</summary>
internal sealed record CampaignListJson(string Container, IReadOnlyList<CampaignListEntryJson> Campaigns);

/// <summary><c>credits campaigns upload --json</c>.</summary>
internal sealed record CampaignUploadedJson(string Campaign, string Container, string Blob);

/// <summary>The serializer of the app-side campaign commands.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CampaignListJson))]
[JsonSerializable(typeof(CampaignUploadedJson))]
internal sealed partial class CampaignAzureJsonContext : JsonSerializerContext;

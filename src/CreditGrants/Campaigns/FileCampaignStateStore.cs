using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Campaigns;

/// <summary>
/// Campaign state as one JSON file per campaign in a folder (the CLI's data folder). A write takes an exclusive lock file,
/// checks that the version is still the one read, and replaces the state file atomically, so two runs on one machine
/// never both spend the same budget.
/// </summary>
public sealed class FileCampaignStateStore(string directory) : ICampaignStateStore
{
    private static readonly TimeSpan LockWait = TimeSpan.FromMilliseconds(10);

    /// <summary>About 30 seconds of waiting for another writer, counted in attempts: a wait for a lock reads no clock.</summary>
    private const int LockAttempts = 3000;

    public string Directory { get; } = directory;

    public string StatePath(string campaignId) => Path.Combine(Directory, campaignId + ".state.json");

    public async Task<VersionedCampaignState> ReadAsync(string campaignId, CancellationToken cancellationToken = default)
    {
        var stored = await ReadFileAsync(StatePath(campaignId), cancellationToken).ConfigureAwait(false);
        return stored is null
            ? new VersionedCampaignState(CampaignState.New(campaignId), null)
            : new VersionedCampaignState(stored.State, stored.Version.ToString(CultureInfo.InvariantCulture));
    }

    public async Task<bool> TryWriteAsync(CampaignState state, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        System.IO.Directory.CreateDirectory(Directory);
        var path = StatePath(state.CampaignId);
        using var fileLock = await LockAsync(path + ".lock", cancellationToken).ConfigureAwait(false);
        var current = await ReadFileAsync(path, cancellationToken).ConfigureAwait(false);
        var currentVersion = current?.Version.ToString(CultureInfo.InvariantCulture);
        if (currentVersion != expectedVersion)
        {
            return false;
        }

        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new StoredState((current?.Version ?? 0) + 1, state), CampaignStateJsonContext.Default.StoredState);
        await File.WriteAllBytesAsync(temporary, bytes, cancellationToken).ConfigureAwait(false);
        File.Move(temporary, path, overwrite: true);
        return true;
    }

    private static async Task<StoredState?> ReadFileAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(bytes, CampaignStateJsonContext.Default.StoredState);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The campaign state file '{path}' cannot be read ({ex.Message}); restore it, or delete it only if the campaign never granted.", ex);
        }
    }

    /// <summary>An exclusive lock held by an open file; the file stays, since removing it would let two holders lock two different files.</summary>
    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (attempt < LockAttempts)
            {
                await Task.Delay(LockWait, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal sealed record StoredState(long Version, CampaignState State);
}

/// <summary>The serializer of campaign state files.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(FileCampaignStateStore.StoredState))]
[JsonSerializable(typeof(CampaignState))]
internal sealed partial class CampaignStateJsonContext : JsonSerializerContext;

/// <summary>Campaign state as JSON (camelCase), for stores outside this assembly.</summary>
public static class CampaignStateJson
{
    public static string Serialize(CampaignState state) => JsonSerializer.Serialize(state, CampaignStateJsonContext.Default.CampaignState);

    public static CampaignState? Deserialize(string json) => JsonSerializer.Deserialize(json, CampaignStateJsonContext.Default.CampaignState);
}

using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using CreditGrants.Bulk;

namespace CreditGrants.Storage.Bulk;

/// <summary>
/// A bulk job's id: 32 hex digits of SHA-256 over the file's content hash and the defaults its rows take. The same file
/// with the same defaults is the same job, so uploading it again starts nothing new.
/// </summary>
public static class BulkJobId
{
    /// <param name="contentHash">SHA-256 of the stored (UTF-8) file, lowercase hex.</param>
    /// <param name="defaults">The file's default meter and reason.</param>
    /// <param name="submit">The batch, whether it is a dry run and whether customers must exist: the same file in another batch, checked
    /// only, or with customers required, is another job.</param>
    public static string Derive(string contentHash, BulkDefaults defaults, BulkSubmitOptions submit)
    {
        ArgumentNullException.ThrowIfNull(submit);
        ArgumentException.ThrowIfNullOrWhiteSpace(contentHash);
        ArgumentNullException.ThrowIfNull(defaults);
        // A JSON array keeps the facts apart: no meter/reason pair can spell another's, and a missing default is null.
        var facts = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(facts))
        {
            writer.WriteStartArray();
            writer.WriteStringValue("bulk-job");
            writer.WriteStringValue(contentHash);
            writer.WriteStringValue(defaults.Meter);
            writer.WriteStringValue(defaults.Reason);
            writer.WriteStringValue(submit.Batch);
            writer.WriteBooleanValue(submit.DryRun);
            if (submit.RequireExistingCustomers)
            {
                // Written only when set, so that the ids of jobs submitted before the option existed stay the same.
                writer.WriteStringValue("require-existing-customers");
            }
            writer.WriteEndArray();
        }

        return Convert.ToHexStringLower(SHA256.HashData(facts.WrittenSpan))[..32];
    }

    /// <summary>Whether <paramref name="value"/> has the shape of a job id (so it is safe as a table key and a blob name).</summary>
    public static bool IsWellFormed(string? value) =>
        value is { Length: 32 } && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}

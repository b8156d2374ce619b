using System.Runtime.InteropServices;
using System.Text.Json;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>
/// Reads and writes the emulator's state as one JSON file: customers and meters in Polar's own shapes, then events.
/// Writes go to a temporary file that is then renamed over the old one, so a crash never leaves half a file.
/// </summary>
internal static class StateFile
{
    private const int FormatVersion = 1;

    public static async Task SaveAsync(StateSnapshot snapshot, string path, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                var writer = new Utf8JsonWriter(stream);
                await using (writer.ConfigureAwait(false))
                {
                    Write(writer, snapshot);
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public static async Task<StateSnapshot?> LoadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            var root = document.RootElement;
            var version = root.TryGetProperty("format", out var format) ? format.GetInt32() : 0;
            if (version != FormatVersion)
            {
                throw new InvalidDataException($"The emulator state file '{path}' has format {version}; this emulator reads format {FormatVersion}.");
            }

            var context = EmulatorJsonContext.Default;
            var customers = root.GetProperty("customers").EnumerateArray().Select(c => c.Deserialize(context.CustomerResource)!).ToList();
            var meters = root.GetProperty("meters").EnumerateArray().Select(m => m.Deserialize(context.MeterResource)!).ToList();
            var events = root.GetProperty("events").EnumerateArray().Select(ReadEvent).ToList();
            var active = root.TryGetProperty("active_subscription_customer_ids", out var ids)
                ? ids.EnumerateArray().Select(id => id.GetGuid()).ToList()
                : [];
            return new StateSnapshot(root.GetProperty("organization_id").GetGuid(), customers, meters, events, active);
        }
    }

    private static void Write(Utf8JsonWriter writer, StateSnapshot snapshot)
    {
        var context = EmulatorJsonContext.Default;
        writer.WriteStartObject();
        writer.WriteNumber("format", FormatVersion);
        writer.WriteString("organization_id", snapshot.OrganizationId);
        writer.WriteStartArray("customers");
        foreach (var customer in snapshot.Customers)
        {
            JsonSerializer.Serialize(writer, customer, context.CustomerResource);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("meters");
        foreach (var meter in snapshot.Meters)
        {
            JsonSerializer.Serialize(writer, meter, context.MeterResource);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("events");
        foreach (var record in snapshot.Events)
        {
            writer.WriteStartObject();
            writer.WriteString("name", record.Name);
            writer.WriteString("timestamp", record.Timestamp);
            writer.WriteString("ingested_at", record.IngestedAt);
            WriteOptional(writer, "customer_id", record.CustomerId?.ToString());
            WriteOptional(writer, "external_customer_id", record.ExternalCustomerId);
            WriteOptional(writer, "external_id", record.ExternalId);
            WriteOptional(writer, "parent_id", record.ParentId);
            if (record.Source != EventRecord.UserSource)
            {
                writer.WriteString("source", record.Source);
            }

            writer.WritePropertyName("metadata");
            writer.WriteRawValue(record.Metadata, skipInputValidation: true);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        // Emulator-only: who has an active subscription (seeded), since Polar's customer shape does not say.
        writer.WriteStartArray("active_subscription_customer_ids");
        foreach (var id in snapshot.ActiveSubscriptionCustomers ?? [])
        {
            writer.WriteStringValue(id);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static EventRecord ReadEvent(JsonElement e) => new(
        e.GetProperty("name").GetString()!,
        e.GetProperty("timestamp").GetDateTimeOffset(),
        e.GetProperty("ingested_at").GetDateTimeOffset(),
        e.TryGetProperty("customer_id", out var customerId) ? customerId.GetGuid() : null,
        e.TryGetProperty("external_customer_id", out var externalCustomerId) ? externalCustomerId.GetString() : null,
        e.TryGetProperty("external_id", out var externalId) ? externalId.GetString() : null,
        e.TryGetProperty("parent_id", out var parentId) ? parentId.GetString() : null,
        JsonMarshal.GetRawUtf8Value(e.GetProperty("metadata")).ToArray(),
        e.TryGetProperty("source", out var source) ? source.GetString()! : EventRecord.UserSource);
}

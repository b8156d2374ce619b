using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PolarEmulator.Wire;

/// <summary>
/// Writes a date-time as Polar (pydantic) does: ISO 8601, at most 6 fractional digits (none when they are all zero),
/// <c>Z</c> for UTC, otherwise the offset.
/// </summary>
internal sealed class PolarDateTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Format(value));

    /// <summary>The text Polar would send for this time.</summary>
    public static string Format(DateTimeOffset value)
    {
        var micros = value.Ticks % TimeSpan.TicksPerSecond / 10;
        var fraction = micros == 0 ? "" : "." + micros.ToString("D6", CultureInfo.InvariantCulture);
        var zone = value.Offset == TimeSpan.Zero ? "Z" : value.ToString("zzz", CultureInfo.InvariantCulture);
        return value.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + fraction + zone;
    }
}

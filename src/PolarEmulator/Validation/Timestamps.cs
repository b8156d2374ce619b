using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PolarEmulator.Validation;

/// <summary>Reads an event timestamp the way pydantic's <c>AwareDatetime</c> does: ISO 8601 with a zone, or Unix time.</summary>
internal static partial class Timestamps
{
    /// <summary>A time truncated to whole microseconds: Polar (PostgreSQL, Python) keeps no more than 6 fractional digits.</summary>
    public static DateTimeOffset Microseconds(DateTimeOffset time) => time.AddTicks(-(time.Ticks % 10));

    /// <summary>Parses the value; on failure says which pydantic error it is.</summary>
    public static bool TryParseAware(JsonElement value, out DateTimeOffset timestamp, out ValidationIssueKind refusal)
    {
        timestamp = default;
        refusal = ValidationIssueKind.None;
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (!value.TryGetDouble(out var seconds) || double.IsNaN(seconds) || Math.Abs(seconds) > 2e13)
            {
                refusal = ValidationIssueKind.Invalid;
                return false;
            }

            // pydantic reads numbers above 2e10 as milliseconds.
            var milliseconds = Math.Abs(seconds) > 2e10 ? seconds : seconds * 1000;
            timestamp = Microseconds(DateTimeOffset.UnixEpoch.AddMilliseconds(milliseconds));
            return true;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            refusal = ValidationIssueKind.WrongType;
            return false;
        }

        var match = IsoDateTime().Match(value.GetString()!);
        if (!match.Success)
        {
            refusal = ValidationIssueKind.Invalid;
            return false;
        }

        if (!match.Groups["zone"].Success)
        {
            refusal = ValidationIssueKind.NoZone;
            return false;
        }

        var zone = match.Groups["zone"].Value;
        var offset = zone is "Z" or "z" ? "+00:00" : zone.Length == 3 ? zone + ":00" : zone.Length == 5 ? zone.Insert(3, ":") : zone;
        var fraction = match.Groups["fraction"].Success ? "." + match.Groups["fraction"].Value.PadRight(7, '0')[..7] : "";
        var text = $"{match.Groups["date"].Value}T{match.Groups["hour"].Value}:{match.Groups["minute"].Value}:{(match.Groups["second"].Success ? match.Groups["second"].Value : "00")}{fraction}{offset}";
        if (!DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:ss.fffffffzzz"], CultureInfo.InvariantCulture, DateTimeStyles.None, out timestamp))
        {
            refusal = ValidationIssueKind.Invalid;
            return false;
        }

        timestamp = Microseconds(timestamp);
        return true;
    }

    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})[Tt ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:[.,](?<fraction>\d{1,9}))?)?(?<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?$")]
    private static partial Regex IsoDateTime();
}

/// <summary>Why a value was refused.</summary>
internal enum ValidationIssueKind
{
    None,
    WrongType,
    Invalid,
    NoZone,
}

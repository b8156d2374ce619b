using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Cli;

/// <summary>
/// What <c>credits meters ensure</c> found or made: the meter, whether it was created, what it sums over which events, and
/// whether that is what was asked for (a meter of that name may exist with another definition, which is left as it is).
/// </summary>
internal sealed record MeterEnsured(string Meter, Guid MeterId, bool Created, string? EventName, string? Property, bool Matches,
    [property: JsonIgnore] string? Difference)
{
    public static MeterEnsured From(Meter meter, bool created, string eventName, string property)
    {
        try
        {
            var target = GrantTarget.From(meter);
            var matches = target.EventName == eventName && target.Property == property;
            return new(meter.Name, meter.Id, created, target.EventName, target.Property, matches, matches ? null
                : $"it sums '{target.Property}' over events named '{target.EventName}', not '{property}' over '{eventName}' as asked");
        }
        catch (MeterNotGrantableException ex)
        {
            return new(meter.Name, meter.Id, created, null, null, false, ex.Message);
        }
    }

    public string Describe() => this switch
    {
        { Created: true } => $"Created meter '{Meter}' ({MeterId}): sum of '{Property}' over events named '{EventName}'.",
        { Matches: true } => $"Meter '{Meter}' ({MeterId}) already exists (sum of '{Property}' over events named '{EventName}'); nothing changed.",
        _ => $"Meter '{Meter}' ({MeterId}) already exists with another definition ({Difference}); nothing changed: " +
             "grants follow the existing meter's definition.",
    };
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MeterEnsured))]
[JsonSerializable(typeof(CustomersSynced))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>The <c>--json</c> answer of <c>credits customers sync</c>: customers recorded, Polar requests spent.</summary>
/// <summary>The <c>--json</c> answer of <c>credits customers sync</c>: customers recorded and requests spent by this run, the sweep's
/// pages (read of all), the page this run resumed at (null: it started the sweep), and whether the sweep is complete.</summary>
internal sealed record CustomersSynced(long Customers, int Requests, int PagesRead, int Pages, int? ResumedAtPage, bool Complete);

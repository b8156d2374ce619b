using System.Text.Json;
using PolarEmulator.Store;
using PolarEmulator.Wire;

namespace PolarEmulator.Validation;

/// <summary>Validates an ingest body (<c>EventsIngest</c>): every event is checked, and one bad event refuses them all.</summary>
internal static class EventBodies
{
    private static readonly HashSet<string> ReservedMetadata = new(StringComparer.Ordinal) { "_cost", "_llm" };

    public static (IReadOnlyList<EventDraft>? Events, List<ValidationIssue> Issues) ParseIngest(JsonElement body, DateTimeOffset now, bool strict = false)
    {
        var issues = new List<ValidationIssue>();
        if (!body.TryGetProperty("events", out var events))
        {
            issues.Add(Issues.Missing(Issues.Loc("body", "events"), body));
            return (null, issues);
        }

        if (events.ValueKind != JsonValueKind.Array)
        {
            issues.Add(Issues.ListType(Issues.Loc("body", "events"), events));
            return (null, issues);
        }

        var drafts = new List<EventDraft>(events.GetArrayLength());
        var index = 0;
        foreach (var item in events.EnumerateArray())
        {
            if (Event(item, index++, now, strict, issues) is { } draft)
            {
                drafts.Add(draft);
            }
        }

        return issues.Count > 0 ? (null, issues) : (drafts, issues);
    }

    private static EventDraft? Event(JsonElement value, int index, DateTimeOffset now, bool strict, List<ValidationIssue> issues)
    {
        var location = Issues.Loc("body", "events", index);
        if (value.ValueKind != JsonValueKind.Object)
        {
            issues.Add(Issues.ModelType(location, value));
            return null;
        }

        var before = issues.Count;
        var reader = new FieldReader(value, location, issues, rejectNul: true);
        var name = reader.RequiredString("name", maxLength: 128);
        Guid? customerId = null;
        string? externalCustomerId = null;
        var hasCustomer = reader.IsPresent("customer_id");
        var hasExternalCustomer = reader.IsPresent("external_customer_id");
        if (hasCustomer && hasExternalCustomer && strict)
        {
            issues.Add(Issues.ValueError(location, value, "Set exactly one of customer_id and external_customer_id, not both."));
        }
        else if (hasCustomer)
        {
            // Polar's schema tries the customer_id form first: with both ids, the event is a customer_id event.
            customerId = reader.RequiredUuid4("customer_id");
            if (hasExternalCustomer)
            {
                reader.OptionalString("external_customer_id");
            }
        }
        else if (hasExternalCustomer)
        {
            externalCustomerId = reader.RequiredString("external_customer_id");
        }
        else
        {
            issues.Add(new ValidationIssue("missing", reader.At("customer_id"), "Field required: set customer_id or external_customer_id", value));
        }

        var externalId = reader.OptionalString("external_id");
        var parentId = reader.OptionalString("parent_id");
        reader.OptionalString("external_member_id");
        reader.OptionalUuid4("member_id");
        var timestamp = Timestamp(reader, now);
        var metadata = reader.Metadata("metadata", ReservedMetadata, collect: false);
        if (metadata is not null)
        {
            ReservedObjects(reader, value.GetProperty("metadata"));
        }

        var organizationId = reader.OptionalUuid4("organization_id");
        return issues.Count > before || name is null
            ? null
            : new EventDraft(index, name, customerId, externalCustomerId, externalId, parentId, timestamp,
                value.TryGetProperty("metadata", out var m) ? m : default, organizationId);
    }

    /// <summary>The timestamp: ISO 8601 with a time zone, never in the future (no allowance for skew); now by default.</summary>
    private static DateTimeOffset Timestamp(FieldReader reader, DateTimeOffset now)
    {
        if (!reader.Target.TryGetProperty("timestamp", out var value))
        {
            return now;
        }

        var location = reader.At("timestamp");
        if (!Timestamps.TryParseAware(value, out var timestamp, out var refusal))
        {
            reader.Issues.Add(refusal switch
            {
                ValidationIssueKind.NoZone => new ValidationIssue("timezone_aware", location, "Input should have timezone info", value),
                ValidationIssueKind.WrongType => new ValidationIssue("datetime_type", location, "Input should be a valid datetime", value),
                _ => new ValidationIssue("datetime_from_date_parsing", location, "Input should be a valid datetime or date, invalid character in year", value),
            });
            return now;
        }

        if (timestamp > now)
        {
            reader.Issues.Add(Issues.ValueError(location, value, "Timestamp must be in the past."));
        }

        return timestamp.ToUniversalTime();
    }

    /// <summary>The reserved metadata objects: <c>_cost</c> (amount, currency usd) and <c>_llm</c> (vendor, model, token counts).</summary>
    private static void ReservedObjects(FieldReader reader, JsonElement metadata)
    {
        var location = reader.At("metadata");
        if (metadata.TryGetProperty("_cost", out var cost) && cost.ValueKind == JsonValueKind.Object)
        {
            Cost(new FieldReader(cost, Issues.Append(location, "_cost"), reader.Issues));
        }

        if (metadata.TryGetProperty("_llm", out var llm) && llm.ValueKind == JsonValueKind.Object)
        {
            var fields = new FieldReader(llm, Issues.Append(location, "_llm"), reader.Issues);
            fields.RequiredString("vendor");
            fields.RequiredString("model");
            fields.OptionalString("prompt");
            fields.OptionalString("response");
            foreach (var count in new[] { "input_tokens", "output_tokens", "total_tokens" })
            {
                Integer(fields, count, required: true);
            }

            Integer(fields, "cached_input_tokens", required: false);
            if (llm.TryGetProperty("cost", out var llmCost) && llmCost.ValueKind == JsonValueKind.Object)
            {
                Cost(new FieldReader(llmCost, fields.At("cost"), reader.Issues));
            }
        }
    }

    private static void Cost(FieldReader cost)
    {
        if (!cost.Target.TryGetProperty("amount", out var amount))
        {
            cost.Issues.Add(Issues.Missing(cost.At("amount"), cost.Target));
        }
        else if (amount.ValueKind is not JsonValueKind.Number and not JsonValueKind.String)
        {
            cost.Issues.Add(new ValidationIssue("decimal_type", cost.At("amount"), "Decimal input should be an integer, float, string or Decimal object", amount));
        }

        if (cost.RequiredString("currency") is { } currency && currency != "usd")
        {
            cost.Issues.Add(new ValidationIssue("string_pattern_mismatch", cost.At("currency"), "String should match pattern 'usd'", Issues.Text(currency),
                Issues.Ctx("pattern", "usd")));
        }
    }

    private static void Integer(FieldReader fields, string name, bool required)
    {
        if (!fields.Target.TryGetProperty(name, out var value))
        {
            if (required)
            {
                fields.Issues.Add(Issues.Missing(fields.At(name), fields.Target));
            }

            return;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out _))
        {
            fields.Issues.Add(Issues.IntType(fields.At(name), value));
        }
    }
}

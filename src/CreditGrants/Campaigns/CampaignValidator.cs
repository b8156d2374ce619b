using CreditGrants.Identity;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using CreditGrants.Grants;
using Cronos;
using Json.Schema;

namespace CreditGrants.Campaigns;

/// <summary>One refused part of a campaign document: its JSON path (<c>$.schedule.cron</c>), the value found, and what is accepted.</summary>
public sealed record CampaignError(string Path, string? Value, string Message)
{
    public override string ToString() => Value is null ? $"{Path}: {Message}" : $"{Path} {Value}: {Message}";
}

/// <summary>Either a valid campaign or every error found in its document.</summary>
public sealed record CampaignValidation(Campaign? Campaign, IReadOnlyList<CampaignError> Errors)
{
    public bool IsValid => Campaign is not null;
}

/// <summary>
/// Checks campaign documents with the published schema (<c>docs/campaign.schema.json</c>, embedded) and then the rules a
/// schema cannot say: a cron Cronos reads, an IANA time zone, a window that ends after it starts, units a grant may carry.
/// </summary>
public sealed class CampaignValidator(GrantOptions grantOptions)
{
    /// <summary>The most external ids one campaign may list.</summary>
    public const int MaxExternalIds = 10_000;

    /// <summary>The most bytes of a campaign document read (10,000 ids of 200 characters fit).</summary>
    public const int MaxDocumentBytes = 4 * 1024 * 1024;

    private static readonly Lazy<(JsonSchema Schema, JsonNode Document)> SchemaDocument = new(LoadSchema);

    /// <summary>The published schema's text, as embedded in this assembly.</summary>
    public static string SchemaText
    {
        get
        {
            using var stream = typeof(CampaignValidator).Assembly.GetManifestResourceStream("CreditGrants.Campaigns.campaign.schema.json")
                ?? throw new InvalidOperationException("The campaign schema is not embedded in the CreditGrants assembly.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    public CampaignValidation Validate(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var (document, errors) = Check(json, SchemaDocument.Value, "a campaign");
        if (document is null)
        {
            return new CampaignValidation(null, errors);
        }

        using (document)
        {
            CampaignDocument? parsed;
            try
            {
                parsed = document.RootElement.Deserialize(CampaignJsonContext.Default.CampaignDocument);
            }
            catch (JsonException ex)
            {
                return Invalid(new CampaignError(ex.Path ?? "$", null, $"cannot be read: {FirstSentence(ex.Message)}"));
            }

            return parsed is null ? Invalid(new CampaignError("$", "null", "must be a campaign object")) : Rules(parsed);
        }
    }

    /// <summary>
    /// The checks every published document kind shares (campaigns, grant rules): JSON that parses with no repeated property,
    /// strings that are text, then the schema's verdict. Returns the parsed document (the caller disposes it) when all pass,
    /// otherwise null and the errors; <paramref name="what"/> names the document kind in messages ("a campaign").
    /// </summary>
    internal static (JsonDocument? Document, IReadOnlyList<CampaignError> Errors) Check(string json, (JsonSchema Schema, JsonNode Document) schema, string what)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 32 });
        }
        catch (JsonException ex)
        {
            // A repeated property is refused by the parser with its name but no position: name its path instead.
            var repeated = System.Text.RegularExpressions.Regex.Match(ex.Message, "Duplicate property '([^']+)'");
            if (repeated.Success)
            {
                return (null, [new CampaignError(ex.Path is { Length: > 1 } parent ? $"{parent}.{repeated.Groups[1].Value}" : $"$.{repeated.Groups[1].Value}", null,
                    "appears twice in the same object; give each property once (which one was meant cannot be guessed)")]);
            }

            var where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
            return (null, [new CampaignError("$", null,
                $"is not valid JSON{where}: {FirstSentence(ex.Message)}; {what} is one JSON object, in UTF-8")]);
        }

        var errors = new List<CampaignError>();
        FindUnreadableStrings(document.RootElement, "$", errors);
        if (errors.Count == 0)
        {
            errors = SchemaErrors(document.RootElement, schema);
        }

        if (errors.Count > 0)
        {
            document.Dispose();
            return (null, errors);
        }

        return (document, errors);
    }

    private static CampaignValidation Invalid(params CampaignError[] errors) => new(null, errors);

    /// <summary>Strings JSON can write but that are no text: a <c>\uD800</c>-style escape without its partner.</summary>
    private static void FindUnreadableStrings(JsonElement element, string path, List<CampaignError> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    FindUnreadableStrings(property.Value, $"{path}.{property.Name}", errors);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    FindUnreadableStrings(item, $"{path}[{index++}]", errors);
                }

                break;
            case JsonValueKind.String:
                try
                {
                    _ = element.GetString();
                }
                catch (InvalidOperationException)
                {
                    errors.Add(new CampaignError(path, null,
                        "contains an unpaired surrogate escape (such as \\uD800): half of a surrogate pair and no character; write the text as it is"));
                }

                break;
            default:
                break;
        }
    }

    /// <summary>The rules a schema cannot say, over a document that has the schema's shape.</summary>
    private CampaignValidation Rules(CampaignDocument doc)
    {
        var errors = new List<CampaignError>();
        var units = doc.Units;
        if (units.Scale > GrantValidator.MaxDecimalPlaces && units != Math.Round(units, GrantValidator.MaxDecimalPlaces))
        {
            errors.Add(new CampaignError("$.units", Number(units), $"has more than {GrantValidator.MaxDecimalPlaces} decimal places; accepted: a number greater than 0 with at most {GrantValidator.MaxDecimalPlaces} decimals"));
        }
        else if (units > grantOptions.MaxUnitsPerGrant)
        {
            errors.Add(new CampaignError("$.units", Number(units), $"is over the limit of {Number(grantOptions.MaxUnitsPerGrant)} units per grant (Grants:MaxUnitsPerGrant)"));
        }

        var startsAt = Instant("$.startsAt", doc.StartsAt, errors);
        var endsAt = Instant("$.endsAt", doc.EndsAt, errors);
        if (startsAt is { } start && endsAt is { } end && end <= start)
        {
            errors.Add(new CampaignError("$.endsAt", Quote(doc.EndsAt), $"is not after startsAt ({doc.StartsAt}); accepted: an instant later than startsAt"));
        }

        TimeSpan? expiresAfter = null;
        if (doc.ExpiresAfter is { } after)
        {
            (expiresAfter, var problem) = GrantExpiry.ParseDuration(after);
            if (problem is not null)
            {
                errors.Add(new CampaignError("$.expiresAfter", Quote(after), problem));
            }
        }

        var schedule = Schedule(doc.Schedule, errors);
        var policy = doc.GrantPolicy == "oncePerCustomer" ? GrantPolicy.OncePerCustomer : GrantPolicy.EveryOccurrence;
        var audience = Audience(doc, startsAt, policy, errors);
        var budget = new CampaignBudget(doc.Budget?.MaxTotalUnits, doc.Budget?.MaxGrants);
        if (budget.MaxTotalUnits is { } maxUnits && maxUnits < units)
        {
            errors.Add(new CampaignError("$.budget.maxTotalUnits", Number(maxUnits),
                $"is less than units ({Number(units)}), so no grant would ever fit; accepted: a number of at least {Number(units)}"));
        }

        if (schedule is not null && errors.Count == 0 && FirstOccurrence(schedule, startsAt, endsAt) is null)
        {
            errors.Add(new CampaignError("$.schedule", null, startsAt is null && endsAt is null
                ? "never occurs; accepted: a schedule with at least one occurrence"
                : "has no occurrence between startsAt and endsAt; accepted: a schedule that falls inside the window at least once"));
        }

        if (errors.Count > 0)
        {
            return new CampaignValidation(null, errors);
        }

        return new CampaignValidation(new Campaign(doc.Id, doc.Description, doc.Meter ?? grantOptions.DefaultMeter, units, doc.Reason,
            doc.Enabled ?? true, schedule!, startsAt, endsAt, audience!, policy, budget, doc.CatchUp ?? 1) { ExpiresAfter = expiresAfter, CarryOver = doc.CarryOver ?? false }, errors);
    }

    private static DateTimeOffset? FirstOccurrence(CampaignSchedule schedule, DateTimeOffset? startsAt, DateTimeOffset? endsAt)
    {
        var from = startsAt?.AddTicks(-1) ?? new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        return schedule.NextAfter(from) is { } next && (endsAt is null || next <= endsAt) ? next : null;
    }

    private static CampaignSchedule? Schedule(ScheduleDocument doc, List<CampaignError> errors)
    {
        if (doc.Once is { } once)
        {
            return Instant("$.schedule.once", once, errors) is { } at ? new OnceSchedule(at) : null;
        }

        var zone = TimeZoneInfo.Utc;
        if (doc.TimeZone is { } zoneName)
        {
            if (!TimeZoneInfo.TryFindSystemTimeZoneById(zoneName, out var found) || !found.HasIanaId)
            {
                errors.Add(new CampaignError("$.schedule.timeZone", Quote(zoneName),
                    "is not an IANA time zone name; accepted: a name such as Europe/Berlin, America/New_York or UTC (names are case-sensitive)"));
                return null;
            }

            zone = found;
        }

        var expression = doc.Cron!.Trim();
        var fields = expression.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        if (!expression.StartsWith('@') && fields is not (5 or 6))
        {
            errors.Add(new CampaignError("$.schedule.cron", Quote(doc.Cron), $"has {fields} fields; accepted: 5 fields (minute hour day month weekday, such as \"0 9 * * MON\") or 6 with seconds first"));
            return null;
        }

        try
        {
            var cron = CronExpression.Parse(expression, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
            return new CronSchedule(expression, cron, zone);
        }
        catch (CronFormatException ex)
        {
            errors.Add(new CampaignError("$.schedule.cron", Quote(doc.Cron), $"is not a cron expression Cronos reads ({FirstSentence(ex.Message)}); accepted: such as \"0 9 * * MON\" or \"0 9 1-7 * MON\""));
            return null;
        }
    }

    private static CampaignAudience? Audience(CampaignDocument doc, DateTimeOffset? startsAt, GrantPolicy policy, List<CampaignError> errors)
    {
        var audience = doc.Audience;
        if (audience.NewCustomers is not null)
        {
            if (doc.StartsAt is null)
            {
                errors.Add(new CampaignError("$.startsAt", null, "is required for the newCustomers audience (customers created at or after it are granted); accepted: an instant with an offset"));
            }

            if (policy != GrantPolicy.OncePerCustomer)
            {
                errors.Add(new CampaignError("$.grantPolicy", Quote(doc.GrantPolicy), "cannot go with the newCustomers audience; accepted: oncePerCustomer"));
            }

            return startsAt is null ? null : new NewCustomersAudience();
        }

        if (audience.AllCustomers is { } all)
        {
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in all.Metadata ?? new Dictionary<string, JsonElement>())
            {
                if (value.ValueKind == JsonValueKind.String && value.GetString()!.Length is 0 or > 500)
                {
                    errors.Add(new CampaignError($"$.audience.allCustomers.metadata.{key}", Quote(value.GetString()), "accepted: a string of 1 to 500 characters, an integer or a boolean"));
                }

                metadata[key] = Campaign.FilterValue(value);
            }

            return new AllCustomersAudience(metadata, all.HasActiveSubscription);
        }

        var ids = audience.ExternalIds!;
        for (var i = 0; i < ids.Count; i++)
        {
            var id = ids[i];
            if (Identifier.Trim(id) != id)
            {
                errors.Add(new CampaignError($"$.audience.externalIds[{i}]", Quote(Display.Escape(id)),
                    "has leading or trailing blanks; accepted: an external id exactly as the customer has it"));
            }

            // The id rule of every way in: what can never be an id is refused here; an id with invisible characters or not in
            // NFC is checked when granted, where it goes only to a customer that holds exactly that string.
            foreach (var problem in Identifier.Check(id).Where(p => !p.CanBeAnExistingId))
            {
                errors.Add(new CampaignError($"$.audience.externalIds[{i}]", Quote(Display.Escape(id)), problem.Message));
            }
        }

        return new ExternalIdsAudience(ids);
    }

    private static DateTimeOffset? Instant(string path, string? text, List<CampaignError> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var value))
        {
            return value;
        }

        errors.Add(new CampaignError(path, Quote(text), "is not a date and time; accepted: such as 2026-12-24T09:00:00+01:00 or 2026-12-24T08:00:00Z"));
        return null;
    }

    // ---- Schema ------------------------------------------------------------------------------------------------

    private static (JsonSchema Schema, JsonNode Document) LoadSchema() => LoadSchema(SchemaText);

    /// <summary>A schema and its document, for <see cref="Check"/>.</summary>
    internal static (JsonSchema Schema, JsonNode Document) LoadSchema(string text) => (JsonSchema.FromText(text), JsonNode.Parse(text)!);

    /// <summary>
    /// The schema's verdict, one error per place. Inside a <c>oneOf</c> (schedule, audience) the branch whose required field
    /// is present speaks for itself; when none or several are, the choice is reported once with the shapes accepted, since
    /// every branch's complaint would bury the point. Each error says what is accepted, from the schema's own descriptions.
    /// </summary>
    private static List<CampaignError> SchemaErrors(JsonElement root, (JsonSchema Schema, JsonNode Document) published)
    {
        var (schema, schemaDocument) = published;
        var result = schema.Evaluate(root, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var errors = new List<CampaignError>();
        if (result.IsValid)
        {
            return errors;
        }

        var details = new[] { result }.Concat(result.Details ?? [])
            .Select(d => (Detail: d, SchemaPath: Segments(d.EvaluationPath.ToString())))
            .ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string path, string? value, string message)
        {
            if (seen.Add(path + "\n" + message))
            {
                errors.Add(new CampaignError(path, value, message));
            }
        }

        string? ValueAt(Json.Pointer.JsonPointer location) => location.Evaluate(root) is { } found ? Shorten(found.GetRawText()) : null;

        // The oneOf holders that failed, and the branch each one's document chose (null: none or several).
        var choices = new Dictionary<string, int?>(StringComparer.Ordinal);
        foreach (var (detail, schemaPath) in details)
        {
            if (detail.IsValid || Walk(schemaDocument, schemaPath) is not JsonObject { } holder || holder["oneOf"] is not JsonArray branches)
            {
                continue;
            }

            var key = string.Join('/', schemaPath);
            var chosen = Enumerable.Range(0, branches.Count).Where(b => !details.Any(d =>
                d.SchemaPath.Count == schemaPath.Count + 2 && string.Join('/', d.SchemaPath.Take(schemaPath.Count)) == key
                && d.SchemaPath[schemaPath.Count] == "oneOf" && d.SchemaPath[schemaPath.Count + 1] == b.ToString(CultureInfo.InvariantCulture)
                && d.Detail.Errors is { } e && e.ContainsKey("required"))).ToList();
            choices[key] = chosen.Count == 1 ? chosen[0] : null;
            if (chosen.Count != 1)
            {
                Add(JsonPath(Segments(detail.InstanceLocation.ToString())), ValueAt(detail.InstanceLocation),
                    $"does not match exactly one of the accepted shapes; accepted: {Description(schemaDocument, schemaPath)}");
            }
        }

        foreach (var (detail, schemaPath) in details)
        {
            if (detail.Errors is not { Count: > 0 } || !InChosenBranch(schemaPath, choices))
            {
                continue;
            }

            var path = JsonPath(Segments(detail.InstanceLocation.ToString()));
            var value = ValueAt(detail.InstanceLocation);
            foreach (var (keyword, message) in detail.Errors)
            {
                Add(path, keyword == "required" ? null : value, Message(keyword, message, schemaPath, schemaDocument));
            }
        }

        return errors;
    }

    /// <summary>Whether every <c>oneOf</c> on the schema path is taken through the branch its holder's document chose.</summary>
    private static bool InChosenBranch(List<string> schemaPath, Dictionary<string, int?> choices)
    {
        for (var i = 0; i < schemaPath.Count - 1; i++)
        {
            if (schemaPath[i] == "oneOf"
                && (!choices.TryGetValue(string.Join('/', schemaPath.Take(i)), out var chosen)
                    || chosen?.ToString(CultureInfo.InvariantCulture) != schemaPath[i + 1]))
            {
                return false;
            }
        }

        return true;
    }

    private static string Message(string keyword, string message, List<string> schemaPath, JsonNode schemaDocument)
    {
        if (schemaPath.Count > 0 && schemaPath[^1] == "additionalProperties" || keyword == "false")
        {
            var holder = Walk(schemaDocument, schemaPath.Take(schemaPath.LastIndexOf("additionalProperties") is var at and >= 0 ? at : schemaPath.Count));
            var names = holder?["properties"] is JsonObject properties ? string.Join(", ", properties.Select(p => p.Key)) : null;
            return names is null ? "is not a field here" : $"is not a field here (names are case-sensitive); accepted fields: {names}";
        }

        var accepted = Description(schemaDocument, schemaPath);
        var said = keyword switch
        {
            "required" => message.Replace("Required properties", "Missing required fields", StringComparison.Ordinal),
            "oneOf" => "does not match exactly one of the accepted shapes",
            _ => message,
        };
        return accepted is null ? said : $"{said}; accepted: {accepted}";
    }

    /// <summary>The description of the nearest schema at or above the path.</summary>
    private static string? Description(JsonNode document, List<string> schemaPath)
    {
        for (var length = schemaPath.Count; length >= 0; length--)
        {
            if (Walk(document, schemaPath.Take(length)) is JsonObject node && node["description"] is JsonValue description)
            {
                return description.GetValue<string>();
            }
        }

        return null;
    }

    private static JsonNode? Walk(JsonNode document, IEnumerable<string> segments)
    {
        var node = document;
        foreach (var segment in segments)
        {
            node = node switch
            {
                JsonObject o => o[segment],
                JsonArray a when int.TryParse(segment, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                _ => null,
            };
            if (node is null)
            {
                return null;
            }
        }

        return node;
    }

    private static List<string> Segments(string pointer) =>
        [.. pointer.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];

    private static string JsonPath(List<string> segments)
    {
        var path = "$";
        foreach (var segment in segments)
        {
            path += int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? $"[{segment}]"
                : segment.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? "." + segment
                : $"['{segment}']";
        }

        return path;
    }

    internal static string Number(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    internal static string? Quote(string? value) => value is null ? null : Shorten(JsonSerializer.Serialize(value, CampaignJsonContext.Default.String));

    private static string Shorten(string value) => value.Length <= 80 ? value : string.Concat(value.AsSpan(0, 77), "...");

    // The parser's first sentence, with any .NET type it names said in plain words (a message never names internal types).
    internal static string FirstSentence(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message.Split(". ", 2)[0].TrimEnd('.'),
            @"\b(System|Microsoft|CreditGrants)(\.[\w`]+)+(\[[^\]]*\])?", "the expected value");
}

namespace CreditGrants.Bulk;

/// <summary>A bulk file's header could not be used; the message names the columns and what is accepted.</summary>
public sealed class BulkFileException : Exception
{
    public BulkFileException(string message) : base(message) { }

    public BulkFileException() { }

    public BulkFileException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Where each known column is in a bulk file (−1 when absent), read from its header by name, in any order and case.</summary>
public sealed record BulkColumns(int ExternalCustomerId, int CustomerId, int Units, int Email, int Name, int GrantId, int Reason, int Meter,
    int ExpiresAt = -1, int CarryOver = -1)
{
    /// <summary>How many columns the header has: every row must have as many fields.</summary>
    public int Count { get; init; }

    public const string ExternalCustomerIdColumn = "external_customer_id";
    public const string CustomerIdColumn = "customer_id";
    public const string UnitsColumn = "units";
    public const string EmailColumn = "email";
    public const string NameColumn = "name";
    public const string GrantIdColumn = "grant_id";
    public const string ReasonColumn = "reason";
    public const string MeterColumn = "meter";

    /// <summary>When the row's grant expires: an ISO 8601 instant with its offset (<see cref="Grants.GrantExpiry"/>); empty, it does not.</summary>
    public const string ExpiresAtColumn = "expires_at";

    /// <summary>Whether the row's grant survives meter resets: <c>true</c> or <c>false</c> in any case; empty, it does not.</summary>
    public const string CarryOverColumn = "carry_over";

    private static readonly string[] Known =
        [ExternalCustomerIdColumn, CustomerIdColumn, UnitsColumn, EmailColumn, NameColumn, GrantIdColumn, ReasonColumn, MeterColumn, ExpiresAtColumn,
            CarryOverColumn];

    /// <summary>Whether <paramref name="name"/> is a column this format knows, in any case.</summary>
    public static bool IsKnown(string name) => Known.Contains(name.Trim().ToLowerInvariant(), StringComparer.Ordinal);

    public static BulkColumns FromHeader(IReadOnlyList<string> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();
        var unknown = new List<string>();
        for (var i = 0; i < header.Count; i++)
        {
            var name = header[i].Trim().ToLowerInvariant();
            if (!Known.Contains(name, StringComparer.Ordinal))
            {
                unknown.Add(header[i].Length > 40 ? $"'{header[i][..37]}...'" : $"'{header[i]}'");
            }
            else if (!positions.TryAdd(name, i))
            {
                problems.Add($"column '{name}' appears twice (columns {positions[name] + 1} and {i + 1})");
            }
        }

        if (unknown.Count > 0)
        {
            const int Shown = 5;
            var more = unknown.Count > Shown ? $" and {unknown.Count - Shown} more" : "";
            problems.Add($"unknown column{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Take(Shown))}{more}");
        }

        if (!positions.ContainsKey(ExternalCustomerIdColumn) && !positions.ContainsKey(CustomerIdColumn))
        {
            problems.Add($"an '{ExternalCustomerIdColumn}' (or '{CustomerIdColumn}') column is required");
        }

        if (!positions.ContainsKey(UnitsColumn))
        {
            problems.Add($"a '{UnitsColumn}' column is required");
        }

        if (problems.Count > 0)
        {
            throw new BulkFileException(
                $"The header row is not usable: {string.Join("; ", problems)}. Accepted columns, in any order and case: {string.Join(", ", Known)}.");
        }

        int At(string column) => positions.TryGetValue(column, out var index) ? index : -1;
        return new BulkColumns(At(ExternalCustomerIdColumn), At(CustomerIdColumn), At(UnitsColumn), At(EmailColumn), At(NameColumn),
            At(GrantIdColumn), At(ReasonColumn), At(MeterColumn), At(ExpiresAtColumn), At(CarryOverColumn)) { Count = header.Count };
    }

    /// <summary>The CSV column a grant field comes from, for messages about a row.</summary>
    public static string ColumnOf(string field) => field switch
    {
        "customer.externalId" => ExternalCustomerIdColumn,
        "customer.customerId" => CustomerIdColumn,
        "customer" => $"{ExternalCustomerIdColumn}/{CustomerIdColumn}",
        "customer.email" => EmailColumn,
        "customer.name" => NameColumn,
        "grantId" => GrantIdColumn,
        "expiresAt" => ExpiresAtColumn,
        "carryOver" => CarryOverColumn,
        _ => field,
    };
}

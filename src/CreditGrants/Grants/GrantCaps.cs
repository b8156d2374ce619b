using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Grants;

/// <summary>
/// Caps on what the HTTP grant API may grant in a UTC day, so that a leaked function key does not mean unlimited credits;
/// bound from the <c>GrantCaps</c> section. Enforced across instances through storage when <see cref="Enabled"/> (on in the
/// Bicep). Bulk files and campaigns keep their own limits (units per row, rows per file).
/// </summary>
public sealed class GrantCapOptions
{
    public const string SectionName = "GrantCaps";

    /// <summary>Whether the caps are counted (in the <see cref="Table"/> of the app's storage).</summary>
    public bool Enabled { get; set; }

    /// <summary>The most units the grant API grants one customer in a UTC day.</summary>
    [Range(typeof(decimal), "0.000001", "79228162514264337593543950335")]
    public decimal MaxUnitsPerCustomerPerDay { get; set; } = 1_000_000m;

    /// <summary>The most units the grant API grants the whole organization in a UTC day.</summary>
    [Range(typeof(decimal), "0.000001", "79228162514264337593543950335")]
    public decimal MaxUnitsPerDay { get; set; } = 10_000_000m;

    /// <summary>The table the day's counts are kept in.</summary>
    [Required]
    public string Table { get; set; } = "grantcaps";
}

/// <summary>A cap a grant would pass: which one, its limit, what the day has used, and what the grant asked (units).</summary>
public sealed record GrantCapRefusal(string Cap, decimal Limit, decimal Used, decimal Asked)
{
    /// <summary>The cap as a sentence for the caller.</summary>
    public string Describe(DateOnly day) =>
        $"The grant of {Asked} units would pass the {Cap} cap of {Limit} units for {day:yyyy-MM-dd} (UTC): {Used} are granted already. " +
        "Nothing was granted; try again after midnight UTC, or raise the cap (GrantCaps settings) if this is expected.";
}

/// <summary>
/// Counts the units the grant API grants per UTC day, per customer and for the organization. A grant reserves its units
/// before it is sent and releases them when it turns out a duplicate or fails, so retries never use a cap up.
/// </summary>
public interface IGrantCaps
{
    /// <summary>Reserves <paramref name="units"/> for the customer and the organization; null when both caps allow it.</summary>
    /// <param name="day">The UTC day.</param>
    /// <param name="customer">The customer as the grant names it (<c>x:</c> external id or <c>c:</c> Polar id).</param>
    /// <param name="units">The grant's units.</param>
    /// <param name="cancellationToken">Cancels the reservation.</param>
    Task<GrantCapRefusal?> ReserveAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken);

    /// <summary>Gives back what <see cref="ReserveAsync"/> took, for a grant that was a duplicate or failed.</summary>
    Task ReleaseAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken);
}

/// <summary>No caps: the CLI and hosts without storage.</summary>
public sealed class NoGrantCaps : IGrantCaps
{
    public Task<GrantCapRefusal?> ReserveAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken) =>
        Task.FromResult<GrantCapRefusal?>(null);

    public Task ReleaseAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken) => Task.CompletedTask;
}

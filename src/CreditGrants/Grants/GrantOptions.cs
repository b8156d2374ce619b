using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Grants;

/// <summary>Grant rules and defaults; bound from the <c>Grants</c> configuration section.</summary>
public sealed class GrantOptions
{
    public const string SectionName = "Grants";

    /// <summary>The meter a grant goes to when it names none (the guide's meter).</summary>
    [Required]
    public string DefaultMeter { get; set; } = "API Calls";

    /// <summary>The most units one grant may carry.</summary>
    [Range(typeof(decimal), "0.000001", "79228162514264337593543950335")]
    public decimal MaxUnitsPerGrant { get; set; } = 1_000_000m;

    /// <summary>The largest grant request body the HTTP API reads, in bytes.</summary>
    [Range(256, 10 * 1024 * 1024)]
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;
}

using System.Globalization;

namespace CreditGrants;

/// <summary>
/// The processes run with ICU (for Unicode normalization) but format and parse as the invariant culture, whatever the
/// machine's locale: a number is never written "2.500" on one operator's machine and "2,500" on another's.
/// </summary>
public static class CultureDefaults
{
    /// <summary>Makes the invariant culture the current and default culture of every thread of this process.</summary>
    public static void UseInvariant()
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
    }
}

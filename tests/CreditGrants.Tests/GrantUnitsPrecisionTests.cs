using CreditGrants.Grants;

namespace CreditGrants.Tests;

/// <summary>Units too small for decimal are not called zero.</summary>
public sealed class GrantUnitsPrecisionTests
{
    [Theory]
    [InlineData("1e-30")]
    [InlineData("0.00000000000000000000000000001")]
    [InlineData("5E-29")]
    public void A_positive_number_smaller_than_decimal_holds_is_refused_for_its_decimal_places(string units)
    {
        var result = new GrantValidator(new GrantOptions()).Validate(new GrantRequest("g-1", "user-1", null, null, null, units, null, null, "test"));

        var error = Assert.Single(result.Errors);
        Assert.Equal("units", error.Field);
        Assert.Equal(units, error.Value);
        Assert.StartsWith("has more than 6 decimal places", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("0.0000000")]
    [InlineData("0e5")]
    public void Zero_however_written_is_refused_as_not_greater_than_0(string units)
    {
        var result = new GrantValidator(new GrantOptions()).Validate(new GrantRequest("g-1", "user-1", null, null, null, units, null, null, "test"));

        Assert.StartsWith("must be a number greater than 0", Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }
}

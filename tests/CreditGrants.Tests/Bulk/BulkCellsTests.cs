using CreditGrants.Bulk;

namespace CreditGrants.Tests.Bulk;

/// <summary>Units as spreadsheets in several locales write them: read when they mean one thing, refused naming both readings otherwise.</summary>
public sealed class BulkCellsTests
{
    [Theory]
    [InlineData("100", ',', "100")]
    [InlineData("12.5", ',', "12.5")]
    [InlineData("0.125", ',', "0.125")]
    [InlineData("1234.500", ',', "1234.500")]
    [InlineData("1.0", ',', "1.0")]
    [InlineData("12,25", ';', "12.25")]
    [InlineData("1,5", ';', "1.5")]
    [InlineData("1,5", '\t', "1.5")]
    [InlineData("0,125", ';', "0.125")]
    [InlineData("-5", ',', "-5")]
    public void Unambiguous_numbers_are_read_as_invariant_text(string cell, char separator, string units)
    {
        Assert.Equal((units, null), BulkCells.Units(cell, separator));
    }

    [Theory]
    [InlineData("1.000", ',', "could mean 1 ('.' as the decimal mark) or 1000 ('.' separating thousands)")]
    [InlineData("2,500", ',', "could mean 2.5 (',' as the decimal mark) or 2500 (',' separating thousands)")]
    [InlineData("1.000", ';', "could mean 1 ('.' as the decimal mark) or 1000")]
    [InlineData("12,500", ';', "could mean 12.5 (',' as the decimal mark) or 12500")]
    [InlineData("1,5", ',', "has a decimal comma, which comma-separated files do not take")]
    [InlineData("1,000,000", ',', "thousands separators")]
    [InlineData("1.000.000", ';', "thousands separators")]
    [InlineData("1 000", ';', "thousands separators")]
    [InlineData("1e3", ',', "is not a number")]
    [InlineData("NaN", ',', "is not a number")]
    [InlineData("+5", ',', "is not a number")]
    [InlineData("five", ',', "is not a number")]
    public void Numbers_that_could_mean_two_things_or_none_are_refused_saying_what_is_accepted(string cell, char separator, string message)
    {
        var (units, error) = BulkCells.Units(cell, separator);

        Assert.Null(units);
        Assert.Equal(("units", cell), (error!.Field, error.Value));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("7.12345E+15", true)]
    [InlineData("1E+10", true)]
    [InlineData("4,5E+12", true)]
    [InlineData("1e5", true)]
    [InlineData("71234567890123456789", false)]
    [InlineData("user-1E+10", false)]
    [InlineData("E10", false)]
    public void Ids_in_exponent_notation_are_refused_and_long_digit_ids_are_not(string id, bool refused)
    {
        Assert.Equal(refused, BulkCells.RewrittenId("customer.externalId", id) is not null);
    }
}

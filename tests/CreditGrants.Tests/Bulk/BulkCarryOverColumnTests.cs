using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Grants;

namespace CreditGrants.Tests.Bulk;

/// <summary>
/// <c>carryOver</c> by every bulk way in: the bulk file's <c>carry_over</c> column (true or false in any case, empty is
/// false, anything else is refused at its line and column) and a campaign's <c>carryOver</c>.
/// </summary>
public sealed class BulkCarryOverColumnTests
{
    private readonly GrantValidator _validator = new(new GrantOptions());

    [Fact]
    public async Task A_bulk_row_takes_carry_over_from_its_column_and_anything_but_true_false_or_empty_is_rejected_at_its_line()
    {
        const string csv = "external_customer_id,units,carry_over\nuser-1,10,true\nuser-2,10,TRUE\nuser-3,10,\nuser-4,10,False\nuser-5,10,yes\nuser-6,10,1\n";

        var rows = await ReadRowsAsync(csv);

        Assert.Equal([true, true, false, false], rows.Take(4).Select(r => r.Grant!.CarryOver));
        Assert.Equal("line 6, column carry_over, value 'yes': accepted: true, false, or empty (false)", rows[4].Rejection);
        Assert.Equal("line 7, column carry_over, value '1': accepted: true, false, or empty (false)", rows[5].Rejection);
    }

    [Fact]
    public async Task A_bulk_file_without_the_column_grants_without_carry_over()
    {
        var rows = await ReadRowsAsync("external_customer_id,units\nuser-1,10\n");

        Assert.False(Assert.Single(rows).Grant!.CarryOver);
    }

    [Fact]
    public void A_campaign_takes_carryOver_and_refuses_anything_but_a_boolean_at_its_path()
    {
        var validator = new CampaignValidator(new GrantOptions());
        const string Doc = """{"id":"spring","units":5,"schedule":{"once":"2027-03-01T09:00:00Z"},"audience":{"externalIds":["user-1"]},"grantPolicy":"oncePerCustomer"CARRY}""";

        var carried = validator.Validate(Doc.Replace("CARRY", ""","carryOver":true""", StringComparison.Ordinal));
        var plain = validator.Validate(Doc.Replace("CARRY", "", StringComparison.Ordinal));
        var wrong = validator.Validate(Doc.Replace("CARRY", ""","carryOver":"yes" """, StringComparison.Ordinal));

        Assert.True(carried.Campaign!.CarryOver);
        Assert.False(plain.Campaign!.CarryOver);
        Assert.Contains(wrong.Errors, e => e.Path == "$.carryOver");
    }

    private Task<List<BulkRow>> ReadRowsAsync(string csv) => BulkRows.ReadAsync(csv, _validator);
}

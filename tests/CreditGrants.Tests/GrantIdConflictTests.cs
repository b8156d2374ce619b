using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace CreditGrants.Tests;

/// <summary>A grant id reused for another grant is a conflict; a true repeat stays a duplicate.</summary>
public sealed class GrantIdConflictTests
{
    private readonly FakePolarGateway _polar = new();
    private readonly GrantService _service;

    public GrantIdConflictTests()
    {
        _polar.Meters.Add(FakePolarGateway.Meter("Storage", MeterFilter.NameEquals("storage_usage"), MeterAggregation.Sum("gb")));
        _service = new GrantService(_polar, TestDirectory.Create(_polar), TimeProvider.System, NullLogger<GrantService>.Instance);
    }

    private static CreditGrant Grant(string grantId = "g-1", string externalId = "user-44", decimal units = 5, string meter = "API Calls") =>
        new(new GrantId(grantId), CustomerRef.External(externalId), units, meter, null, "test");

    private static CreditGrant GrantTo(Guid customerId, string grantId = "g-1", decimal units = 5) =>
        new(new GrantId(grantId), CustomerRef.Polar(customerId), units, "API Calls", null, "test");

    [Fact]
    public async Task Same_id_for_another_customer_is_a_conflict_naming_the_first_use()
    {
        await _service.GrantAsync(Grant(externalId: "user-44"));

        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant(externalId: "user-45")));

        Assert.Equal(GrantErrorKind.GrantIdConflict, conflict.Kind);
        Assert.Contains("Grant id 'g-1' was first used", conflict.Message, StringComparison.Ordinal);
        Assert.Contains("5 units to external id 'user-44' on meter 'API Calls'", conflict.Message, StringComparison.Ordinal);
        Assert.Contains("differs in customer,", conflict.Message, StringComparison.Ordinal);
        Assert.EndsWith("use a new grant id for a new grant.", conflict.Message, StringComparison.Ordinal);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task Same_id_with_other_units_is_a_conflict()
    {
        await _service.GrantAsync(Grant(units: 5));

        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant(units: 1000)));

        Assert.Equal(GrantErrorKind.GrantIdConflict, conflict.Kind);
        Assert.Contains("differs in units,", conflict.Message, StringComparison.Ordinal);
        Assert.Contains("(1000 units to external id 'user-44'", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Same_id_on_another_meter_is_a_conflict()
    {
        await _service.GrantAsync(Grant(meter: "API Calls"));

        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant(meter: "Storage")));

        Assert.Equal(GrantErrorKind.GrantIdConflict, conflict.Kind);
        Assert.Contains("on meter 'API Calls'; this grant", conflict.Message, StringComparison.Ordinal);
        Assert.Contains("differs in meter,", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Same_id_without_carry_over_when_the_first_had_it_is_a_conflict_and_a_true_repeat_says_carry_over()
    {
        await _service.GrantAsync(Grant() with { CarryOver = true });

        var repeat = await _service.GrantAsync(Grant() with { CarryOver = true });
        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant()));

        Assert.Equal((GrantStatus.Duplicate, true), (repeat.Status, GrantOutcomeJson.From(repeat).CarryOver));
        Assert.Equal(GrantErrorKind.GrantIdConflict, conflict.Kind);
        Assert.Contains("differs in carryOver (first true),", conflict.Message, StringComparison.Ordinal);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task Same_id_asking_for_carry_over_when_the_first_did_not_is_a_conflict()
    {
        await _service.GrantAsync(Grant());

        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant() with { CarryOver = true }));

        Assert.Contains("differs in carryOver (first false),", conflict.Message, StringComparison.Ordinal);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task A_repeat_naming_the_customer_by_external_id_after_customer_id_stays_a_duplicate()
    {
        var customer = _polar.AddCustomer("ada@lovelace.dev", "user-44");
        await _service.GrantAsync(GrantTo(customer.Id));

        var repeat = await _service.GrantAsync(Grant(externalId: "user-44"));

        Assert.Equal(GrantStatus.Duplicate, repeat.Status);
    }

    [Fact]
    public async Task A_repeat_naming_the_customer_by_customer_id_after_external_id_stays_a_duplicate()
    {
        // The first grant went by external id before the customer existed; the customer was created afterwards.
        await _service.GrantAsync(Grant(externalId: "user-44"));
        var customer = _polar.AddCustomer("ada@lovelace.dev", "user-44");

        var repeat = await _service.GrantAsync(GrantTo(customer.Id));

        Assert.Equal(GrantStatus.Duplicate, repeat.Status);
    }

    [Fact]
    public async Task A_true_repeat_stays_a_duplicate_after_one_read_back()
    {
        await _service.GrantAsync(Grant());

        var repeat = await _service.GrantAsync(Grant());

        Assert.Equal(GrantStatus.Duplicate, repeat.Status);
        Assert.Equal(["g-1"], Assert.Single(_polar.Lookups));
    }

    [Fact]
    public async Task A_new_grant_reads_nothing_back()
    {
        await _service.GrantAsync(Grant());

        Assert.Empty(_polar.Lookups);
    }

    [Fact]
    public async Task A_duplicate_of_a_derived_id_reads_nothing_back()
    {
        var derived = Grant() with { GrantId = GrantId.Derive("campaign", "spring", "user-44") };
        await _service.GrantAsync(derived);

        var repeat = await _service.GrantAsync(derived);

        Assert.Equal(GrantStatus.Duplicate, repeat.Status);
        Assert.Empty(_polar.Lookups);
    }

    [Fact]
    public async Task A_duplicate_whose_first_use_cannot_be_read_back_is_a_conflict_not_a_duplicate()
    {
        // Polar holds the event id, but no event carries the grant id in its metadata.
        _polar.EventIds.Add(new GrantId("g-1").EventId);

        var conflict = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant()));

        Assert.Equal(GrantErrorKind.GrantIdConflict, conflict.Kind);
        Assert.Contains("cannot be read back", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_derived_id_equals_the_same_id_given_by_a_caller()
    {
        var derived = GrantId.Derive("a", "b");

        Assert.True(derived.IsDerived);
        Assert.False(new GrantId(derived.Value).IsDerived);
        Assert.Equal(derived, new GrantId(derived.Value));
        Assert.Equal(derived.GetHashCode(), new GrantId(derived.Value).GetHashCode());
    }

    [Fact]
    public void A_request_marked_derived_validates_to_a_derived_id()
    {
        var validator = new GrantValidator(new GrantOptions());
        var request = new GrantRequest("d-1", "user-1", null, null, null, "5", null, null, "bulk", GrantIdDerived: true);

        Assert.True(validator.Validate(request).Grant!.GrantId.IsDerived);
        Assert.False(validator.Validate(request with { GrantIdDerived = false }).Grant!.GrantId.IsDerived);
    }

    // ---- Bulk rows --------------------------------------------------------------------------------------------

    private static BulkRow Row(long line, string grantId, string externalId, string units, bool derived = false)
    {
        var request = new GrantRequest(grantId, externalId, null, null, null, units, null, null, "bulk", derived);
        var validation = new GrantValidator(new GrantOptions()).Validate(request);
        return new BulkRow(line, validation.Grant, validation.Errors, units, externalId, null);
    }

    private BulkChunkProcessor Processor() => new(_polar, TestDirectory.Create(_polar), TimeProvider.System, NullLogger<BulkChunkProcessor>.Instance);

    [Fact]
    public async Task A_bulk_row_reusing_a_grant_id_for_another_grant_is_rejected_naming_the_first_use()
    {
        await _service.GrantAsync(Grant(grantId: "g-1", externalId: "user-44", units: 5));

        var result = await Processor().ProcessAsync([Row(2, "g-1", "user-45", "5"), Row(3, "g-1b", "user-46", "7")]);

        var conflict = result.Rows[0];
        Assert.Equal(RowStatus.Rejected, conflict.Status);
        Assert.StartsWith("line 2: Grant id 'g-1' was first used", conflict.Reason, StringComparison.Ordinal);
        Assert.Contains("to external id 'user-44'", conflict.Reason, StringComparison.Ordinal);
        Assert.Equal(RowStatus.Granted, result.Rows[1].Status);
        Assert.Equal((1, 0, 1), (result.Granted, result.Duplicates, result.Rejected));
    }

    [Fact]
    public async Task Bulk_rows_repeating_their_grants_stay_duplicates_with_one_read_back_for_all()
    {
        var first = await Processor().ProcessAsync([Row(2, "g-a", "user-1", "5"), Row(3, "g-b", "user-2", "6"), Row(4, "g-c", "user-3", "7")]);

        var again = await Processor().ProcessAsync([Row(2, "g-a", "user-1", "5"), Row(3, "g-b", "user-2", "6"), Row(4, "g-c", "user-3", "7")]);

        Assert.Equal(3, first.Granted);
        Assert.All(again.Rows, r => Assert.Equal(RowStatus.Duplicate, r.Status));
        Assert.Equal(3, again.Duplicates);
        Assert.Equal(["g-a", "g-b", "g-c"], Assert.Single(_polar.Lookups));
    }

    [Fact]
    public async Task Bulk_rows_with_derived_ids_read_nothing_back()
    {
        await Processor().ProcessAsync([Row(2, "d_1", "user-1", "5", derived: true)]);

        var again = await Processor().ProcessAsync([Row(2, "d_1", "user-1", "5", derived: true)]);

        Assert.Equal(RowStatus.Duplicate, Assert.Single(again.Rows).Status);
        Assert.Empty(_polar.Lookups);
    }
}

using System.Net;
using System.Text.Json;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Ingest;

/// <summary><see cref="PolarGateway.IngestAsync"/>: batching under Polar's limits, per-event outcomes and Polar's totals.</summary>
public sealed class BatchedIngestTests
{
    /// <summary>A stub that inserts every event it is sent, as Polar does for new external ids.</summary>
    private static StubHandler InsertingStub() =>
        new StubHandler().Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));

    private static List<PolarEvent> Grants(int count, string prefix = "grant") =>
        [.. Enumerable.Range(0, count).Select(i => TestEvents.Usage($"user-{i}", -1, $"{prefix}-{i}"))];

    private static IEnumerable<string?> ExternalIds(RecordedRequest request) =>
        PolarJson.Events(request).Select(e => e.TryGetProperty("external_id", out var id) ? id.GetString() : null);

    [Fact]
    public async Task Ingest_splits_batches_at_the_event_count_limit()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 3);

        var report = await host.Gateway.IngestAsync(Grants(7));

        Assert.Equal([3, 3, 1], stub.Requests.Select(r => PolarJson.Events(r).Count));
        Assert.Equal(3, report.Requests);
        Assert.Equal(7, report.Inserted);
        Assert.All(report.Outcomes, o => Assert.Equal(IngestStatus.Inserted, o.Status));
    }

    [Fact]
    public async Task Ingest_sends_events_in_the_order_given()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 2);
        var events = Grants(5);

        await host.Gateway.IngestAsync(events);

        Assert.Equal(events.Select(e => e.ExternalId), stub.Requests.SelectMany(ExternalIds));
    }

    [Fact]
    public async Task Ingest_splits_batches_under_the_10_MiB_body_limit_and_fills_each()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 100_000);
        // About 26 KB an event: fifty 500-character strings.
        var metadata = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => PolarMetadata.Text(new string((char)('a' + (i % 26)), 500)), StringComparer.Ordinal);
        var events = Enumerable.Range(0, 500).Select(i => new PolarEvent("api_usage", null, $"user-{i}", $"grant-{i}", null, metadata)).ToList();
        var eventBytes = JsonSerializer.SerializeToUtf8Bytes(events[0], PolarJsonContext.Default.PolarEvent).Length;

        var report = await host.Gateway.IngestAsync(events);

        Assert.True(stub.Count > 1, "one request would have been over the limit");
        Assert.All(stub.Requests, r => Assert.InRange(r.Body!.Length, 1, PolarGateway.MaxRequestBytes));
        // Each request but the last is full: one more event would have crossed the limit.
        Assert.All(stub.Requests.SkipLast(1), r => Assert.True(r.Body!.Length + 1 + eventBytes > PolarGateway.MaxRequestBytes));
        Assert.Equal(events.Select(e => e.ExternalId), stub.Requests.SelectMany(ExternalIds));
        Assert.Equal(500, report.Inserted);
    }

    [Fact]
    public async Task Event_larger_than_the_body_limit_is_rejected_alone()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);
        var huge = new PolarEvent("api_usage", null, new string('u', PolarGateway.MaxRequestBytes), "grant-huge", null, null);

        var report = await host.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1"), huge]);

        Assert.Equal(IngestStatus.Inserted, report.Outcomes[0].Status);
        Assert.Equal(IngestStatus.Rejected, report.Outcomes[1].Status);
        Assert.Contains("bytes", report.Outcomes[1].Reason, StringComparison.Ordinal);
        Assert.Equal(["grant-1"], stub.Requests.SelectMany(ExternalIds));
    }

    [Fact]
    public async Task Bad_event_is_reported_on_its_own_and_never_fails_its_batch()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);
        var events = Grants(3);
        events[1] = events[1] with { Name = new string('n', 129) };

        var report = await host.Gateway.IngestAsync(events);

        Assert.Equal([IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted], report.Outcomes.Select(o => o.Status));
        Assert.Contains("128", report.Outcomes[1].Reason, StringComparison.Ordinal);
        Assert.Equal(["grant-0", "grant-2"], stub.Requests.SelectMany(ExternalIds));
        Assert.Equal(1, report.Rejected);
    }

    [Fact]
    public async Task Future_dated_event_is_rejected_before_sending()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1", DateTimeOffset.UtcNow.AddHours(1))]);

        Assert.Equal(IngestStatus.Rejected, Assert.Single(report.Outcomes).Status);
        Assert.Equal(0, stub.Count);
    }

    [Fact]
    public async Task Polar_refusing_named_events_rejects_exactly_those_and_resends_the_rest()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(
                ("body.events.1.customer_id", "Customer does not exist."), ("body.events.3.customer_id", "Customer does not exist.")))
            .Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync(Grants(5));

        Assert.Equal(
            [IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted],
            report.Outcomes.Select(o => o.Status));
        Assert.Contains("customer_id: Customer does not exist.", report.Outcomes[1].Reason, StringComparison.Ordinal);
        Assert.Equal(["grant-0", "grant-2", "grant-4"], ExternalIds(stub.Requests[1]));
        Assert.Equal(2, report.Requests);
        Assert.Equal(3, report.Inserted);
    }

    [Fact]
    public async Task Polars_index_is_the_position_in_the_request_not_in_the_list()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.1.customer_id", "Customer does not exist.")))
            .Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub);
        var events = Grants(4);
        events[0] = events[0] with { Name = "" };

        var report = await host.Gateway.IngestAsync(events);

        // Sent: grant-1, grant-2, grant-3; position 1 of that request is grant-2, list index 2.
        Assert.Equal([IngestStatus.Rejected, IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted], report.Outcomes.Select(o => o.Status));
        Assert.Equal(["grant-1", "grant-3"], ExternalIds(stub.Requests[1]));
    }

    [Fact]
    public async Task Refusal_in_a_later_batch_maps_to_that_batchs_events()
    {
        var stub = new StubHandler()
            .Then(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)))
            .Then(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.0.customer_id", "Customer does not exist.")))
            .Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 2);

        var report = await host.Gateway.IngestAsync(Grants(4));

        Assert.Equal([IngestStatus.Inserted, IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted], report.Outcomes.Select(o => o.Status));
        Assert.Equal(["grant-3"], ExternalIds(stub.Requests[2]));
    }

    [Fact]
    public async Task Refusal_naming_no_event_rejects_that_batch_only()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.UnprocessableEntity, """{"error":"organization_token","detail":"Setting organization_id is disallowed when using an organization token."}""")
            .Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 2);

        var report = await host.Gateway.IngestAsync(Grants(3));

        Assert.Equal([IngestStatus.Rejected, IngestStatus.Rejected, IngestStatus.Inserted], report.Outcomes.Select(o => o.Status));
        Assert.Contains("organization_id", report.Outcomes[0].Reason, StringComparison.Ordinal);
        Assert.Equal(2, stub.Count);
        Assert.Equal(1, report.Inserted);
    }

    [Fact]
    public async Task Totals_are_polars_inserted_and_duplicates_summed_over_requests()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.OK, PolarJson.Ingested(inserted: 2, duplicates: 1))
            .Then(HttpStatusCode.OK, PolarJson.Ingested(inserted: 1, duplicates: 0));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 3);

        var report = await host.Gateway.IngestAsync(Grants(4));

        Assert.Equal(3, report.Inserted);
        Assert.Equal(1, report.Duplicates);
        Assert.Equal(2, report.Requests);
        Assert.Equal([IngestStatus.InsertedOrDuplicate, IngestStatus.InsertedOrDuplicate, IngestStatus.InsertedOrDuplicate, IngestStatus.Inserted],
            report.Outcomes.Select(o => o.Status));
    }

    [Fact]
    public async Task Batch_polar_already_had_is_reported_as_duplicates()
    {
        var stub = new StubHandler().Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(0, PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync(Grants(3));

        Assert.All(report.Outcomes, o => Assert.Equal(IngestStatus.Duplicate, o.Status));
        Assert.Equal(0, report.Inserted);
        Assert.Equal(3, report.Duplicates);
    }

    [Fact]
    public async Task Same_external_id_twice_in_one_list_sends_the_first_and_reports_the_second_as_duplicate()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);
        var events = new List<PolarEvent> { TestEvents.Usage("user-1", -5, "grant-1"), TestEvents.Usage("user-2", -1, "grant-2"), TestEvents.Usage("user-1", -5, "grant-1") };

        var report = await host.Gateway.IngestAsync(events);

        Assert.Equal([IngestStatus.Inserted, IngestStatus.Inserted, IngestStatus.Duplicate], report.Outcomes.Select(o => o.Status));
        Assert.Contains("event 0", report.Outcomes[2].Reason, StringComparison.Ordinal);
        Assert.Equal(["grant-1", "grant-2"], stub.Requests.SelectMany(ExternalIds));
        Assert.Equal(2, report.Inserted);
    }

    [Fact]
    public async Task External_ids_repeat_only_when_equal_ordinally()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-a"), TestEvents.Usage("user-1", -1, "GRANT-A")]);

        Assert.All(report.Outcomes, o => Assert.Equal(IngestStatus.Inserted, o.Status));
        Assert.Equal(2, stub.Requests.SelectMany(ExternalIds).Count());
    }

    [Fact]
    public async Task Events_without_external_id_are_never_deduplicated()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);
        var usage = TestEvents.Usage("user-1", 3);

        var report = await host.Gateway.IngestAsync([usage, usage]);

        Assert.All(report.Outcomes, o => Assert.Equal(IngestStatus.Inserted, o.Status));
        Assert.Equal(2, PolarJson.Events(stub.Requests.Single()).Count);
    }

    [Fact]
    public async Task Repeat_of_an_event_polar_refused_is_not_reported_as_duplicate()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.0.customer_id", "Customer does not exist.")))
            .Always(request => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)));
        await using var host = PolarTestHost.ForStub(stub);
        var unknownCustomer = new PolarEvent("api_usage", Guid.NewGuid(), null, "grant-1", null, TestEvents.Metadata(("units", PolarMetadata.Number(-5))));

        var report = await host.Gateway.IngestAsync([unknownCustomer, TestEvents.Usage("user-2", -1, "grant-2"), unknownCustomer]);

        Assert.Equal(IngestStatus.Rejected, report.Outcomes[0].Status);
        Assert.NotEqual(IngestStatus.Duplicate, report.Outcomes[2].Status);
    }

    [Fact]
    public async Task Empty_list_sends_nothing()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync([]);

        Assert.Equal(0, stub.Count);
        Assert.Empty(report.Outcomes);
        Assert.Equal(0, report.Requests);
    }

    [Fact]
    public async Task List_of_only_bad_events_sends_nothing()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub);

        var report = await host.Gateway.IngestAsync([new PolarEvent("api_usage", null, null, "grant-1", null, null)]);

        Assert.Equal(0, stub.Count);
        Assert.Equal(IngestStatus.Rejected, Assert.Single(report.Outcomes).Status);
    }

    [Fact]
    public async Task Outcomes_follow_the_list_one_per_event_with_its_index()
    {
        var stub = InsertingStub();
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxEventsPerRequest = 2);
        var events = Grants(5);
        events[3] = events[3] with { ExternalCustomerId = null };

        var report = await host.Gateway.IngestAsync(events);

        Assert.Equal(Enumerable.Range(0, 5), report.Outcomes.Select(o => o.Index));
    }

    [Fact]
    public async Task Polar_unavailable_fails_the_ingest_loudly()
    {
        var stub = new StubHandler().Always(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0);

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Gateway.IngestAsync(Grants(2)));

        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
    }
}

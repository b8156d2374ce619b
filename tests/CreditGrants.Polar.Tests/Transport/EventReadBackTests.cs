using System.Net;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Transport;

/// <summary>Reading grants back by metadata counts the app's own (user) events only, whatever the server lists.</summary>
public sealed class EventReadBackTests
{
    private static string Event(string source, string name, string grantId) => $$"""
        {"id":"{{Guid.NewGuid()}}","timestamp":"2026-04-15T12:00:00Z","organization_id":"{{Guid.NewGuid()}}","customer_id":"{{Guid.NewGuid()}}",
         "customer":null,"external_customer_id":null,"child_count":0,"parent_id":null,"label":"{{name}}","source":"{{source}}","name":"{{name}}",
         "metadata":{"grant_id":"{{grantId}}","units":-5} }
        """;

    [Fact]
    public async Task Lookups_ask_for_user_events_and_a_system_event_listed_anyway_is_never_a_grant()
    {
        var stub = new StubHandler().Always(request => request.Path == "/v1/events/"
            ? StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(Event("system", "meter.credited", "g-1"), Event("user", "api_usage", "g-1")))
            : StubHandler.Json(HttpStatusCode.NotFound, """{"detail":"Not Found"}"""));
        await using var host = PolarTestHost.ForStub(stub);

        var lookup = await host.Gateway.FindEventsByMetadataAsync("grant_id", ["g-1"]);

        Assert.Contains("source=user", Assert.Single(stub.Requests).Uri.Query, StringComparison.Ordinal);
        Assert.Equal("user", Assert.Single(lookup.Events["g-1"]).Source);
    }
}

using CreditGrants.Customers;
using CreditGrants.Polar;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CreditGrants.Tests;

/// <summary>A customer directory in memory over a test's gateway, trusting entries for an hour unless told.</summary>
internal static class TestDirectory
{
    public static CustomerDirectory Create(IPolarGateway polar, TimeProvider? time = null, ICustomerDirectoryStore? store = null, TimeSpan? trustFor = null) =>
        new(store ?? new InMemoryCustomerDirectoryStore(), polar, time ?? TimeProvider.System,
            Options.Create(new CustomerDirectoryOptions { TrustFor = trustFor ?? TimeSpan.FromHours(1) }), NullLogger<CustomerDirectory>.Instance);
}

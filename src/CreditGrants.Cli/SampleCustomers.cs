using System.Globalization;
using PolarEmulator;

namespace CreditGrants.Cli;

/// <summary>
/// Customers for trying the sample campaigns against the embedded emulator: <c>sample-1</c> … <c>sample-12</c>, odd ones on the
/// free plan and even ones on pro; pro customers and <c>sample-3</c> (a free trial) have an active subscription.
/// </summary>
internal static class SampleCustomers
{
    public const int Count = 12;

    public static IReadOnlyList<EmulatorCustomerSeed> All { get; } = [.. Enumerable.Range(1, Count).Select(Seed)];

    private static EmulatorCustomerSeed Seed(int n)
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"sample-{n}");
        var free = n % 2 == 1;
        return new EmulatorCustomerSeed(id, $"{id}@lovelace.dev", string.Create(CultureInfo.InvariantCulture, $"Sample customer {n}"),
            new Dictionary<string, string> { ["plan"] = free ? "free" : "pro" }, HasActiveSubscription: !free || n == 3);
    }
}

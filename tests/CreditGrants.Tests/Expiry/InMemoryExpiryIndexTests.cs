using CreditGrants.Expiry;
using CreditGrants.Tests.Contracts;

namespace CreditGrants.Tests.Expiry;

/// <summary>The index in memory keeps the contract every index keeps.</summary>
public sealed class InMemoryExpiryIndexTests : ExpiryIndexContract
{
    protected override IExpiryIndex NewIndex() => new InMemoryExpiryIndex();
}

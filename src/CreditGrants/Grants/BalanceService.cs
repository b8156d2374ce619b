using CreditGrants.Polar;
using CreditGrants.Polar.Meters;

namespace CreditGrants.Grants;

/// <summary>Reads a customer's credit on a meter. Polar updates balances in the background, seconds after ingest.</summary>
public sealed class BalanceService(IPolarGateway polar)
{
    public async Task<CreditBalance> GetBalanceAsync(string externalCustomerId, string meterName, CancellationToken cancellationToken = default)
    {
        var customer = await polar.FindCustomerByExternalIdAsync(externalCustomerId, cancellationToken).ConfigureAwait(false)
            ?? throw new GrantException(GrantErrorKind.CustomerNotFound, $"No Polar customer has the external id '{Identity.Display.Escape(externalCustomerId)}'.");
        var meter = await polar.FindMeterAsync(meterName, cancellationToken).ConfigureAwait(false)
            ?? throw new MeterNotGrantableException(meterName, MeterProblem.NotFound, $"No meter is named '{meterName}' (names are case-sensitive).");
        var standing = await polar.GetCustomerMeterAsync(customer.Id, meter.Id, cancellationToken).ConfigureAwait(false);
        return new CreditBalance(externalCustomerId, customer.Id, meter.Name, meter.Id,
            standing?.Balance ?? 0, standing?.ConsumedUnits ?? 0, standing?.CreditedUnits ?? 0);
    }
}

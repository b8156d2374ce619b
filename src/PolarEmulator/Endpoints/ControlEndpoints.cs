using PolarEmulator.Store;

namespace PolarEmulator.Endpoints;

/// <summary>The emulator's own controls under <c>/__emulator/</c> (not Polar's API): they need the token and no scope.</summary>
internal sealed class ControlEndpoints(EmulatorStore store)
{
    /// <summary><c>POST /__emulator/catch-up</c>: ends the event store and balance lags for everything ingested so far; 204.</summary>
    public Task CatchUpAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        store.CatchUp();
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }
}

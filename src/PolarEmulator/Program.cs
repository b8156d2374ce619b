using System.Runtime.InteropServices;
using PolarEmulator.Hosting;

namespace PolarEmulator;

/// <summary>Runs the emulator as its own process until Ctrl+C or SIGTERM.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // Formatting and parsing free of the machine's locale (the build runs with ICU, not invariant mode).
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        var outcome = EmulatorCommandLine.Parse(args, Environment.GetEnvironmentVariable);
        if (outcome.Help)
        {
            Console.WriteLine(EmulatorCommandLine.Usage);
            return 0;
        }

        if (outcome.Options is not { } options)
        {
            await Console.Error.WriteLineAsync(outcome.Error).ConfigureAwait(false);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        PolarEmulatorServer server;
        try
        {
            server = await PolarEmulatorServer.StartAsync(options, logging => logging
                    .AddSimpleConsole(c => c.SingleLine = true)
                    .AddFilter("Microsoft.AspNetCore", LogLevel.Warning), stop.Token)
                .ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"The emulator could not start: {exception.Message}").ConfigureAwait(false);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            Console.WriteLine($"Polar emulator listening on {server.BaseAddress}");
            Console.WriteLine(options.Token is null
                ? $"Accepting the generated token: {server.Token}"
                : "Accepting the token given by --token or POLAR_EMULATOR_TOKEN.");
            Console.WriteLine($"Organization: {server.OrganizationId}");
            if (options.DataFile is { } dataFile)
            {
                Console.WriteLine($"State file: {Path.GetFullPath(dataFile)}");
            }

            foreach (var endpoint in server.WebhookEndpoints)
            {
                Console.WriteLine(options.WebhookEndpoints.Any(e => e.Url == endpoint.Url && e.Secret is not null)
                    ? $"Webhooks to {endpoint.Url}, signed with the secret given."
                    : $"Webhooks to {endpoint.Url}, signed with the generated secret: {endpoint.Secret}");
            }

            Console.WriteLine("Press Ctrl+C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine("Stopping…");
            }
        }

        return 0;
    }
}

using System.Globalization;

namespace PolarEmulator.Hosting;

/// <summary>The standalone emulator's command line, turned into <see cref="EmulatorOptions"/> or a clear refusal.</summary>
internal static class EmulatorCommandLine
{
    public const string TokenVariable = "POLAR_EMULATOR_TOKEN";
    public const int DefaultPort = 8787;

    public const string Usage = """
        Polar emulator: a local stand-in for Polar's REST API (API versions 2026-04, 2026-10 and 2027-01).

        Usage: dotnet run --project src/PolarEmulator -- [options]

          --port <n>                   Loopback port to listen on (default 8787; 0 picks a free port).
          --token <t>                  The bearer token to accept (default: $POLAR_EMULATOR_TOKEN, else a generated polar_oat_ token).
          --seed-meter                 Create the guide's "API Calls" meter (sum of units over api_usage events) unless it exists.
          --seed-customers <n>         Add customers user-1 … user-n (emails user-n@bench.dev) unless taken, for load tests.
          --data <file>                Load state from this JSON file and save it there as it changes.
          --requests-per-minute <n>    Answer 429 beyond n requests per one-minute window (default: no limit).
          --fault-rate <f>             Fraction 0..1 of requests answered 500 or 503.
          --fault-seed <n>             Seed of the fault sequence (default 0): same seed, same faults.
          --latency-ms <n>             Delay added to every request, in milliseconds.
          --drop-rate <f>              Fraction 0..1 of connections aborted without an answer.
          --lag                        Polar's usual lags: events listed 3 s after ingest, balances counted after 15 s.
          --event-lag-ms <n>           Events stay out of GET /v1/events/ for n milliseconds after ingest (default 0).
          --balance-lag-ms <n>         Events stay out of balances for n milliseconds after ingest (default 0).
          --strict-events              Refuse events naming both customer_id and external_customer_id, or an unknown parent_id
                                       (Polar accepts both).
          --webhook <url>[#<secret>]   Send Polar's webhooks to this URL (repeatable), signed with the secret (default: a
                                       generated whsec_ secret, printed).
          --webhook-retry-base-ms <n>  Retry a failed webhook attempt n after min(base*2^(n-1), 20 min) (default 15000).
          --help                       Show this text.
        """;

    /// <summary>What the command line asked for: options to run with, the help text, or an error naming the option.</summary>
    public sealed record Outcome(EmulatorOptions? Options, string? Error, bool Help);

    public static Outcome Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var options = new EmulatorOptions { Port = DefaultPort, Token = NonBlank(environment(TokenVariable)) };
        var faults = FaultOptions.None;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new CommandLineException($"{name} needs a value.");
            try
            {
                switch (name)
                {
                    case "--help" or "-h" or "-?":
                        return new Outcome(null, null, Help: true);
                    case "--port":
                        options = options with { Port = Integer(name, Value(), 0, 65535, "an integer from 0 (a free port) to 65535") };
                        break;
                    case "--token":
                        var token = Value();
                        options = options with
                        {
                            Token = NonBlank(token) ?? throw new CommandLineException("--token is blank; give a token, or leave the option out to have one generated."),
                        };
                        break;
                    case "--seed-meter":
                        options = options with { SeedMeter = true };
                        break;
                    case "--seed-customers":
                        options = options with { SeedCustomers = Integer(name, Value(), 0, 10_000_000, "an integer from 0 to 10000000") };
                        break;
                    case "--data":
                        options = options with { DataFile = NonBlank(Value()) ?? throw new CommandLineException("--data is blank; give a file path.") };
                        break;
                    case "--requests-per-minute":
                        options = options with { RequestsPerMinute = Integer(name, Value(), 1, 1_000_000, "an integer from 1 to 1000000") };
                        break;
                    case "--fault-rate":
                        faults = faults with { ErrorRate = Fraction(name, Value()) };
                        break;
                    case "--fault-seed":
                        faults = faults with { Seed = Integer(name, Value(), int.MinValue, int.MaxValue, "an integer") };
                        break;
                    case "--latency-ms":
                        faults = faults with { Latency = TimeSpan.FromMilliseconds(Integer(name, Value(), 0, 600_000, "an integer from 0 to 600000")) };
                        break;
                    case "--lag":
                        options = options with { EventStoreLag = EmulatorOptions.RealisticLag.EventStore, BalanceLag = EmulatorOptions.RealisticLag.Balance };
                        break;
                    case "--event-lag-ms":
                        options = options with { EventStoreLag = TimeSpan.FromMilliseconds(Integer(name, Value(), 0, 3_600_000, "an integer from 0 to 3600000")) };
                        break;
                    case "--balance-lag-ms":
                        options = options with { BalanceLag = TimeSpan.FromMilliseconds(Integer(name, Value(), 0, 3_600_000, "an integer from 0 to 3600000")) };
                        break;
                    case "--strict-events":
                        options = options with { StrictEventReferences = true };
                        break;
                    case "--webhook":
                        options = options with { WebhookEndpoints = [.. options.WebhookEndpoints, Webhook(Value())] };
                        break;
                    case "--webhook-retry-base-ms":
                        options = options with { WebhookRetryBase = TimeSpan.FromMilliseconds(Integer(name, Value(), 1, 1_200_000, "an integer from 1 to 1200000")) };
                        break;
                    case "--drop-rate":
                        faults = faults with { DropRate = Fraction(name, Value()) };
                        break;
                    default:
                        return new Outcome(null, $"Unknown option '{name}'. Run with --help to see the options.", Help: false);
                }
            }
            catch (CommandLineException exception)
            {
                return new Outcome(null, exception.Message, Help: false);
            }
        }

        return new Outcome(options with { Faults = faults }, null, Help: false);
    }

    private static string? NonBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static int Integer(string name, string value, int min, int max, string accepted) =>
        int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw new CommandLineException($"{name} '{value}' is not valid; use {accepted}.");

    /// <summary><c>url</c> or <c>url#secret</c>: an absolute http(s) URL, and the secret its deliveries are signed with.</summary>
    private static Webhooks.WebhookEndpointOptions Webhook(string value)
    {
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        var (url, secret) = hash < 0 ? (value, null) : (value[..hash], NonBlank(value[(hash + 1)..]));
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? new Webhooks.WebhookEndpointOptions(uri, secret)
            : throw new CommandLineException($"--webhook '{url}' is not valid; use an absolute http or https URL, optionally followed by #<secret>.");
    }

    private static double Fraction(string name, string value) =>
        double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) && number is >= 0 and <= 1
            ? number
            : throw new CommandLineException($"{name} '{value}' is not valid; use a fraction from 0 to 1, such as 0.05.");

    private sealed class CommandLineException(string message) : Exception(message);
}

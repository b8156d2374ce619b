using System.Globalization;

namespace CreditGrants.Bench;

/// <summary>The benchmark's command line: generate files, measure parsing, bulk and naive grants, print the table.</summary>
internal static class BenchCommand
{
    private const string Usage = """
        Benchmarks of bulk credit grants. Run everything with bench/run.sh; the commands, for one measurement at a time:

          generate <file> --rows <n> [--shape ids|emails] [--prefix user] [--first 1] [--variant 0]
          parse    <file> [--name <label>] [--chunk-rows 1000]
          bulk     <file> [--name <label>] [--chunk-rows 1000] [--max-events-per-request <n>] [--requests-per-minute <n>]
                   [--max-requests-per-1000 <x>] [--max-peak-mb <mb>] [--server-pid <pid>]
                   [--directory cold|warm|swept] [--directory-store sqlite|memory] [--directory-file <sqlite file>]
          directory-warm <sqlite file> --from <file>   a warm directory of the file's customers, for bulk --directory-file
          grants   <name>=<file>[,<name>=<file>…] [--directory-store sqlite|memory] [--requests-per-minute <n>] [--server-pid <pid>]
                   single grants as POST /api/grants makes them, file after file in one process (one directory)
          naive    <file> [--name <label>] [--rows <n>] [--baseline <bulk label>] [--requests-per-minute <n>] [--server-pid <pid>]
          campaign <label> [--requests-per-minute <n>] [--max-requests-per-1000 <x>] [--max-peak-mb <mb>] [--server-pid <pid>]
          expiry   <label> [--grants 10000] [--requests-per-minute <n>] [--server-pid <pid>]
                   the expiry sweep over that many due grants, one customer each
          latency  <label> [--rounds 3] [--grants-per-second 2] [--seconds 60] [--customers 1000] [--requests-per-minute <n>]
                   [--directory-store table|memory] [--server-pid <pid>]
                   HTTP grant latency (POST /api/grants through the app's function and DI) idle and with a customer sweep
                   running, rounds alternating; needs Azurite on 127.0.0.1:10000-10002
          revoke   <label> [--rows 10000] [--customers 1000] [--requests-per-minute <n>] [--server-pid <pid>]
                   a bulk job's revocation: that many rows over as many seeded customers, a tenth of them with usage
          report   <results.jsonl>
          compare  <results.jsonl>   every run, then the medians of the runs that share a name, against the first name

        bulk and naive talk to $POLAR_SERVER with the token in $POLAR_ACCESS_TOKEN (never an argument). Without
        --requests-per-minute the gateway's request budget is off. Each measurement prints one JSON line on stdout.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 2 || args[0] is "--help" or "-h")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 || args[0] is "--help" or "-h" ? 0 : 2;
        }

        var (command, file) = (args[0], args[1]);
        var options = Options(args.AsSpan(2));
        string Text(string name, string fallback) => options.GetValueOrDefault(name) ?? fallback;
        int? Number(string name) => options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : null;
        double? Real(string name) => options.TryGetValue(name, out var value) ? double.Parse(value, CultureInfo.InvariantCulture) : null;
        var name = Text("--name", Path.GetFileNameWithoutExtension(file));
        var chunkRows = Number("--chunk-rows") ?? 1000;

        switch (command)
        {
            case "generate":
                var shape = Enum.Parse<BenchFileShape>(Text("--shape", "ids"), ignoreCase: true);
                await BenchFile.WriteAsync(file, Number("--rows") ?? throw new ArgumentException("generate needs --rows."), shape,
                    Text("--prefix", "user"), Number("--first") ?? 1, Number("--variant") ?? 0).ConfigureAwait(false);
                return 0;
            case "parse":
                Print(await ParseBenchmark.RunAsync(name, file, chunkRows).ConfigureAwait(false));
                return 0;
            case "bulk":
                Print(await EndToEndBenchmark.BulkAsync(name, file,
                    Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid")) with
                    {
                        MaxEventsPerRequest = Number("--max-events-per-request"),
                        Directory = Text("--directory", "cold"),
                        DirectoryStore = Text("--directory-store", "sqlite"),
                        DirectoryFile = options.GetValueOrDefault("--directory-file"),
                    },
                    new EndToEndTargets(Real("--max-requests-per-1000"), Real("--max-peak-mb"))).ConfigureAwait(false));
                return 0;
            case "directory-warm":
                Console.Error.WriteLine(await BenchDirectory.WriteWarmFileAsync(file, Text("--from", "")).ConfigureAwait(false));
                return 0;
            case "grants":
                var files = file.Split(',').Select(static f => f.Split('=', 2)).Select(static p => (p[0], p[1])).ToList();
                var polar = Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid")) with { DirectoryStore = Text("--directory-store", "sqlite") };
                foreach (var result in await EndToEndBenchmark.GrantSequenceAsync(files, polar).ConfigureAwait(false))
                {
                    Print(result);
                }

                return 0;
            case "naive":
                Print(await EndToEndBenchmark.NaiveAsync(name, file, Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid")),
                    Number("--rows") ?? long.MaxValue, options.GetValueOrDefault("--baseline")).ConfigureAwait(false));
                return 0;
            case "campaign":
                // The second argument is the label: an allCustomers campaign over every customer the emulator has.
                Print(await CampaignBenchmark.RunAsync(file, Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid")),
                    new EndToEndTargets(Real("--max-requests-per-1000"), Real("--max-peak-mb"))).ConfigureAwait(false));
                return 0;
#if EXPIRY_SWEEP
            case "expiry":
                // The second argument is the label: that many due grants on as many customers, swept once.
                Print(await ExpiryBenchmark.RunAsync(file, Number("--grants") ?? 10_000,
                    Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid"))).ConfigureAwait(false));
                return 0;
#endif
#if GRANT_LATENCY
            case "latency":
                // The second argument is the label.
                var plan = new GrantLatencyPlan(Number("--rounds") ?? 3, Real("--grants-per-second") ?? 2, Number("--seconds") ?? 60,
                    Number("--customers") ?? 1000, Number("--requests-per-minute"), Text("--directory-store", "table"));
                var latencies = await GrantLatencyBenchmark.RunAsync(file, Polar(plan.RequestsPerMinute, chunkRows, Number("--server-pid")), plan)
                    .ConfigureAwait(false);
                foreach (var result in latencies)
                {
                    Console.WriteLine(result.ToJson());
                }

                Console.Error.WriteLine(BenchReport.Line(latencies[^1]));
                return 0;
#endif
#if BULK_REVOCATION
            case "revoke":
                // The second argument is the label: a job of that many rows over as many seeded customers, revoked once.
                Print(await RevokeBenchmark.RunAsync(file, Number("--rows") ?? 10_000, Number("--customers") ?? 1_000,
                    Polar(Number("--requests-per-minute"), chunkRows, Number("--server-pid"))).ConfigureAwait(false));
                return 0;
#endif
            case "report":
                Console.WriteLine(BenchReport.Table(Results(file)));
                return 0;
            case "compare":
                Console.WriteLine(CompareReport.Table(Results(file)));
                return 0;
            default:
                Console.Error.WriteLine($"Unknown command '{command}'.\n{Usage}");
                return 2;
        }
    }

    private static List<BenchResult> Results(string path) =>
        File.ReadLines(path).Where(l => l.StartsWith('{')).Select(BenchResult.FromJson).ToList();

    private static Dictionary<string, string> Options(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i]] = args[i + 1];
        }

        return options;
    }

    private static PolarSettings Polar(int? requestsPerMinute, int chunkRows, int? serverProcessId)
    {
        var server = Environment.GetEnvironmentVariable(PolarHost.ServerVariable)
            ?? throw new ArgumentException($"Set {PolarHost.ServerVariable} to the emulator's URL.");
        var token = Environment.GetEnvironmentVariable(PolarHost.TokenVariable)
            ?? throw new ArgumentException($"Set {PolarHost.TokenVariable} to the emulator's token.");
        return new PolarSettings(server, token, requestsPerMinute, chunkRows, serverProcessId);
    }

    private static void Print(BenchResult result)
    {
        Console.Error.WriteLine(BenchReport.Line(result));
        Console.WriteLine(result.ToJson());
    }
}

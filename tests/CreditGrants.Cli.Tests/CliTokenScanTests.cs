using System.Text;
using CreditGrants.Cli;
using PolarEmulator;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// The Polar token never appears in anything <c>credits</c> writes: every command that talks to Polar is run at
/// <c>--verbose</c> (every call and retry logged, stack traces printed) against an emulator that fails, rate-limits, drops
/// connections and loses answers, and the failing cases too (a refused token, a Polar that is always down, nothing
/// listening, bad input). Stdout, stderr and every file the runs leave behind (results files, campaign state) are searched
/// for the token, and for any 12 characters in a row of its random part, so that a shortened or partly masked token counts
/// as a leak as well.
/// </summary>
public sealed class CliTokenScanTests : IAsyncLifetime
{
    /// <summary>How long a piece of the token's random part counts as a leak.</summary>
    private const int FragmentLength = 12;

    private static readonly string Random = Guid.NewGuid().ToString("N");

    /// <summary>A token no other text in the run could contain by chance.</summary>
    private static readonly string Token = $"polar_oat_CliScanCanary{Random}";

    /// <summary>A wrong token (refused by the emulator): it must not be printed either.</summary>
    private static readonly string WrongToken = $"polar_oat_CliScanWrong{Guid.NewGuid():N}";

    private readonly string _dir = Directory.CreateTempSubdirectory("credits-token-scan-").FullName;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private PolarEmulatorServer _faulty = null!;
    private PolarEmulatorServer _down = null!;

    public async Task InitializeAsync()
    {
        _faulty = await PolarEmulatorServer.StartAsync(new EmulatorOptions
        {
            SeedMeter = true,
            Token = Token,
            Faults = new FaultOptions
            {
                Seed = 7,
                ErrorRate = 0.10,
                RateLimitRate = 0.05,
                DropRate = 0.02,
                LostAnswerRate = 0.02,
                SpikeRate = 0.05,
                SpikeLatency = TimeSpan.FromMilliseconds(100),
            },
        });
        _down = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, Token = Token, Faults = new FaultOptions { Seed = 3, ErrorRate = 1.0 } });
    }

    public async Task DisposeAsync()
    {
        await _faulty.DisposeAsync();
        await _down.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
        var account = CreditGrants.Storage.StorageAccount.FromConnectionString(TestStorage.ConnectionString);
        account.Tables.DeleteTable($"budget{_id}");
        account.Tables.DeleteTable($"campaignstate{_id}");
        account.Blobs.GetBlobContainerClient($"campaigns-{_id}").DeleteIfExists();
    }

    /// <summary>What of the tokens a text holds: each whole token, and each run of <see cref="FragmentLength"/> characters of the random part.</summary>
    private static List<string> Leaks(string text)
    {
        var found = new List<string>();
        foreach (var secret in new[] { Token, WrongToken })
        {
            if (text.Contains(secret, StringComparison.OrdinalIgnoreCase))
            {
                found.Add(secret);
            }
        }

        for (var i = 0; i + FragmentLength <= Random.Length; i++)
        {
            var fragment = Random.Substring(i, FragmentLength);
            if (text.Contains(fragment, StringComparison.OrdinalIgnoreCase))
            {
                found.Add($"…{fragment}…");
            }
        }

        return found;
    }

    private Dictionary<string, string?> Settings(PolarEmulatorServer? server, bool tokenInEnvironment = false)
    {
        var settings = new Dictionary<string, string?>
        {
            // Riding out the faulty Polar's faults takes retries; a Polar that is down or absent needs one to show it is logged.
            ["Polar__MaxRetries"] = server == _faulty ? "8" : "1",
            ["Polar__MaxRetryDelaySeconds"] = "1",
            ["PolarBudget__Table"] = $"budget{_id}",
            ["Campaigns__Container"] = $"campaigns-{_id}",
            ["Campaigns__StateTable"] = $"campaignstate{_id}",
        };
        if (server is not null)
        {
            settings[PolarConnection.ServerVariable] = server.BaseAddress.AbsoluteUri;
        }

        if (tokenInEnvironment)
        {
            settings[PolarConnection.TokenVariable] = Token;
        }

        return settings;
    }

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_search_finds_the_token_whole_and_in_part()
    {
        Assert.Contains(Token, Leaks($"Authorization: Bearer {Token}"));
        Assert.NotEmpty(Leaks($"token ending …{Token[^FragmentLength..]}"));
        Assert.NotEmpty(Leaks($"token starting {Token[..(Token.Length - Random.Length + FragmentLength)]}…"));
        Assert.Equal([WrongToken], Leaks(WrongToken));
        Assert.Empty(Leaks($"polar_oat_CliScanCanary{Random[..(FragmentLength - 1)]}"));
    }

    [Fact]
    public async Task No_command_prints_or_writes_the_token_at_verbose_under_faults_and_failures()
    {
        var tokenFile = WriteFile("token.txt", Token + "\n");
        var wrongTokenFile = WriteFile("wrong-token.txt", WrongToken);
        var dataDir = Path.Combine(_dir, "data");
        var bulkFile = WriteFile("grants.csv", "external_customer_id,email,units\n" +
            string.Concat(Enumerable.Range(1, 30).Select(i => $"scan-{i},scan-{i}@lovelace.dev,{i}\n")) + "scan-bad,,-4\n");
        var campaign = WriteFile("scan-campaign.json", $$"""
            {"id":"scan-{{_id}}","units":3,"schedule":{"once":"2026-01-01T00:00:00Z"},
             "audience":{"externalIds":["scan-1","scan-2","scan-3","scan-nobody"]},"grantPolicy":"oncePerCustomer"}
            """);
        var campaignWhileDown = WriteFile("scan-down-campaign.json", File.ReadAllText(campaign).Replace($"scan-{_id}", $"scan-down-{_id}", StringComparison.Ordinal));
        var invalidCampaign = WriteFile("invalid-campaign.json", """{"id":"Bad Id","units":0}""");
        string[] file = ["--polar-token-file", tokenFile, "--verbose"];
        string[] storage = ["--storage", TestStorage.ConnectionString];

        var runs = new List<(string Name, CliRun Run)>();
        async Task Run(string name, Dictionary<string, string?> settings, params string[] args) =>
            runs.Add((name, await CliRun.RunAsync(settings, [.. args, "--data-dir", dataDir])));

        // Working commands against the faulty Polar: the token in a file, and in the environment.
        await Run("meters ensure", Settings(_faulty), ["meters", "ensure", .. file]);
        await Run("grant", Settings(_faulty), ["grant", "--customer", "scan-1", "--email", "scan-1@lovelace.dev", "--units", "5", "--grant-id", "scan-g1", .. file]);
        await Run("grant again", Settings(_faulty), ["grant", "--customer", "scan-1", "--units", "5", "--grant-id", "scan-g1", "--json", .. file]);
        await Run("grant, token in env", Settings(_faulty, tokenInEnvironment: true), "grant", "--customer", "scan-2", "--units", "2", "--grant-id", "scan-g2", "--verbose");
        await Run("balance", Settings(_faulty), ["balance", "--customer", "scan-1", .. file]);
        await Run("balance --json", Settings(_faulty, tokenInEnvironment: true), "balance", "--customer", "scan-1", "--json", "--verbose");
        await Run("bulk run", Settings(_faulty), ["bulk", "run", bulkFile, "--out", Path.Combine(_dir, "grants.results.csv"), .. file]);
        await Run("bulk run --dry-run --json", Settings(_faulty), ["bulk", "run", bulkFile, "--dry-run", "--json", "--batch", "dry", "--out", Path.Combine(_dir, "dry.results.csv"), .. file]);
        await Run("bulk run --storage", Settings(_faulty), ["bulk", "run", bulkFile, "--batch", "budget-run", "--out", Path.Combine(_dir, "budget-run.results.csv"), .. storage, .. file]);
        await Run("campaigns preview", Settings(_faulty), ["campaigns", "preview", campaign, .. file]);
        await Run("campaigns run --local-state", Settings(_faulty), ["campaigns", "run", campaign, "--local-state", .. file]);
        await Run("campaigns run --storage --json", Settings(_faulty), ["campaigns", "run", campaign, "--json", .. storage, .. file]);

        // Failures: a refused token, a Polar always down, nothing listening, bad input.
        await Run("refused token", Settings(_faulty), "grant", "--customer", "scan-3", "--units", "1", "--grant-id", "scan-g3", "--polar-token-file", wrongTokenFile, "--verbose");
        await Run("refused token, bulk", Settings(_faulty), "bulk", "run", bulkFile, "--batch", "refused", "--out", Path.Combine(_dir, "refused.results.csv"), "--polar-token-file", wrongTokenFile, "--verbose");
        await Run("Polar down", Settings(_down), ["grant", "--customer", "scan-4", "--units", "1", "--grant-id", "scan-g4", .. file]);
        await Run("Polar down, bulk", Settings(_down), ["bulk", "run", bulkFile, "--batch", "down", "--out", Path.Combine(_dir, "down.results.csv"), .. file]);
        await Run("Polar down, campaign", Settings(_down), ["campaigns", "run", campaignWhileDown, "--local-state", "--json", .. file]);
        var nothing = Settings(null);
        nothing[PolarConnection.ServerVariable] = "http://127.0.0.1:1/";
        await Run("nothing listening", nothing, ["balance", "--customer", "scan-1", .. file]);
        await Run("bad units", Settings(_faulty), ["grant", "--customer", "scan-5", "--units", "-5", "--grant-id", "scan-g5", .. file]);
        await Run("bad server", Settings(null), ["balance", "--customer", "scan-1", "--polar-server", "staging", .. file]);
        await Run("token without server", Settings(null, tokenInEnvironment: true), "balance", "--customer", "scan-1", "--verbose");
        await Run("missing bulk file", Settings(_faulty), ["bulk", "run", Path.Combine(_dir, "nope.csv"), .. file]);
        await Run("invalid campaign", Settings(_faulty), ["campaigns", "run", invalidCampaign, "--local-state", .. file]);
        await Run("bad storage", Settings(_faulty), ["bulk", "run", bulkFile, "--storage", "AccountName=x;Garbage", .. file]);

        // Everything captured: each run's stdout and stderr, and every file left in the folder but the token files themselves.
        var captured = runs.Select(r => (Name: $"{r.Name} (exit {r.Run.ExitCode})", Text: r.Run.Out + "\n" + r.Run.Error)).ToList();
        var files = Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories).Where(f => f != tokenFile && f != wrongTokenFile).ToList();
        foreach (var path in files)
        {
            captured.Add(($"file {Path.GetRelativePath(_dir, path)}", await File.ReadAllTextAsync(path)));
        }

        // The runs did what their names say, so the scan covers successes and each kind of failure.
        var codes = runs.ToDictionary(r => r.Name, r => r.Run.ExitCode);
        Assert.All(new[] { "meters ensure", "grant", "grant again", "grant, token in env", "balance", "balance --json", "campaigns preview" },
            name => Assert.Equal(ExitCodes.Ok, codes[name]));
        Assert.All(new[] { "bulk run", "bulk run --dry-run --json", "bulk run --storage" }, name => Assert.Equal(ExitCodes.RowsRejected, codes[name]));
        Assert.All(new[] { "campaigns run --local-state", "campaigns run --storage --json" }, name => Assert.Equal(ExitCodes.Ok, codes[name]));
        Assert.Equal(ExitCodes.RefusedByPolar, codes["refused token"]);
        Assert.Equal(ExitCodes.RefusedByPolar, codes["refused token, bulk"]);
        Assert.Equal(ExitCodes.Unavailable, codes["Polar down"]);
        Assert.Equal(ExitCodes.Unavailable, codes["Polar down, campaign"]);
        Assert.Contains(codes["Polar down, bulk"], new[] { ExitCodes.Unavailable, ExitCodes.RowsRejected });
        Assert.Equal(ExitCodes.Unavailable, codes["nothing listening"]);
        Assert.All(new[] { "bad units", "bad server", "token without server", "missing bulk file", "invalid campaign", "bad storage" },
            name => Assert.Equal(ExitCodes.InvalidInput, codes[name]));
        Assert.Contains(runs, r => r.Name == "grant" && r.Run.Error.Contains("debug:", StringComparison.Ordinal));

        Assert.Contains(files, f => f.EndsWith("grants.results.csv", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("down.results.csv", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith(".state.json", StringComparison.Ordinal));
        // The message names where the token was found, never the token itself.
        var leaking = captured.Where(c => Leaks(c.Text).Count > 0).Select(c => c.Name).ToList();
        Assert.True(leaking.Count == 0, $"The Polar token (or a part of it) appears in: {string.Join("; ", leaking)}");
        Assert.NotEmpty(Leaks(string.Concat(captured.Select(c => c.Text)) + Token));
    }
}

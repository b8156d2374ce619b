using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
#if CUSTOMER_DIRECTORY
using CreditGrants.Customers;
#endif

namespace CreditGrants.Bench;

/// <summary>
/// The customer directory a run starts from (<c>--directory</c>), and where it is kept (<c>--directory-store</c>).
/// <list type="bullet">
/// <item><c>cold</c>: empty, as a first run against an organization (the run sweeps or reads customers itself).</item>
/// <item><c>warm</c>: every external id of the file recorded as confirmed now and a complete sweep noted now: the state a
/// running app or CLI is in within an hour (<c>CustomerDirectory:TrustFor</c>) of sweeping the organization. Written
/// straight into the store, without Polar, so the emulator's cost of listing a large organization is not paid first.</item>
/// <item><c>swept</c>: a real <c>CustomerDirectory.SweepAsync</c> of Polar's customer list before the clock starts;
/// its requests are not counted in the run's.</item>
/// </list>
/// Stores: <c>sqlite</c> (the CLI's <c>SqliteCustomerDirectoryStore</c>, in a temporary file deleted after the run; the
/// default where the commit has it) or <c>memory</c> (<c>InMemoryCustomerDirectoryStore</c>, what tests and hosts without
/// state use). Commits without a directory ignore both options and say so in the run's note.
/// </summary>
public static class BenchDirectory
{
    /// <summary>The directory's starting states: cold, warm, swept.</summary>
    public static readonly string[] Modes = ["cold", "warm", "swept"];

    /// <summary>
    /// Registers the directory's store before <c>AddGrantServices</c>, whose <c>TryAdd</c> keeps it: <c>sqlite</c>, a new
    /// file in the temporary folder, deleted when the process exits, or <c>memory</c> (what <c>AddGrantServices</c> adds).
    /// </summary>
    public static void AddStore(IServiceCollection services, string store)
    {
        if (store is not ("sqlite" or "memory"))
        {
            throw new ArgumentException($"--directory-store is sqlite or memory, not '{store}'.");
        }
#if SQLITE_DIRECTORY
        if (store == "sqlite")
        {
            var path = Path.Combine(Path.GetTempPath(), $"bench-directory-{Guid.NewGuid():N}.db");
            services.AddSingleton<ICustomerDirectoryStore>(new CreditGrants.Cli.SqliteCustomerDirectoryStore(path));
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
                {
                    File.Delete(file);
                }
            };
        }
#else
        _ = services;
#endif
    }

    /// <summary>Brings the directory to <paramref name="mode"/> for the file at <paramref name="path"/>; returns what was done, for the run's note.</summary>
    public static async Task<string> PrepareAsync(IServiceProvider services, string mode, string store, string path)
    {
        if (!Modes.Contains(mode))
        {
            throw new ArgumentException($"--directory is one of {string.Join(", ", Modes)}, not '{mode}'.");
        }
#if CUSTOMER_DIRECTORY
        var where = services.GetRequiredService<ICustomerDirectoryStore>() is InMemoryCustomerDirectoryStore ? "memory" : store;
        switch (mode)
        {
            case "warm":
                var directory = services.GetRequiredService<ICustomerDirectoryStore>();
                var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
                long entries = 0;
                foreach (var batch in File.ReadLines(path).Skip(1).Select(l => l[..l.IndexOf(',', StringComparison.Ordinal)]).Distinct().Chunk(10_000))
                {
                    await directory.SaveAsync([.. batch.Select(id => new CustomerDirectoryEntry(id, null, now))]).ConfigureAwait(false);
                    entries += batch.Length;
                }

                var state = await directory.ReadSweepAsync().ConfigureAwait(false);
                if (!await directory.TryWriteSweepAsync(new CustomerSweepState(now, entries, now, null, null), state.Version).ConfigureAwait(false))
                {
                    throw new InvalidOperationException("Could not note the warm directory's sweep.");
                }

                return string.Create(CultureInfo.InvariantCulture, $"directory warm ({where}): {entries:N0} entries, swept now");
            case "swept":
                var sweep = await services.GetRequiredService<CustomerDirectory>().SweepAsync().ConfigureAwait(false);
                return string.Create(CultureInfo.InvariantCulture,
                    $"directory swept before the clock ({where}): {sweep.Customers:N0} customers in {sweep.Requests:N0} requests, not counted");
            default:
                return $"directory cold ({where})";
        }
#else
        _ = services;
        _ = store;
        _ = path;
        await Task.CompletedTask.ConfigureAwait(false);
        return mode == "cold" ? "no customer directory in this commit" : $"directory {mode} asked, but this commit has no customer directory";
#endif
    }
}

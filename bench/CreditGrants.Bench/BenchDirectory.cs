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
    /// Registers the directory's store before <c>AddGrantServices</c>, whose <c>TryAdd</c> keeps it: <c>sqlite</c>, at
    /// <paramref name="file"/> (kept) or else a new file in the temporary folder, deleted when the process exits, or
    /// <c>memory</c> (what <c>AddGrantServices</c> adds).
    /// </summary>
    public static void AddStore(IServiceCollection services, string store, string? file)
    {
        if (store is not ("sqlite" or "memory"))
        {
            throw new ArgumentException($"--directory-store is sqlite or memory, not '{store}'.");
        }
#if SQLITE_DIRECTORY
        if (store == "sqlite")
        {
            var path = file ?? Path.Combine(Path.GetTempPath(), $"bench-directory-{Guid.NewGuid():N}.db");
            services.AddSingleton<ICustomerDirectoryStore>(new CreditGrants.Cli.SqliteCustomerDirectoryStore(path));
            if (file is null)
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteFile(path);
            }
        }
#else
        _ = services;
        _ = file;
#endif
    }

    /// <summary>
    /// Writes a warm directory (see <c>warm</c> above) for the file at <paramref name="csv"/> into the SQLite file at
    /// <paramref name="file"/>, replacing it: run in a process of its own, so that the measured process's memory and time
    /// do not include writing it. Returns what was done; a commit without the CLI's store writes nothing.
    /// </summary>
    public static async Task<string> WriteWarmFileAsync(string file, string csv)
    {
#if SQLITE_DIRECTORY
        DeleteFile(file);
        return await WarmAsync(new CreditGrants.Cli.SqliteCustomerDirectoryStore(file), TimeProvider.System, csv, "sqlite file").ConfigureAwait(false);
#else
        _ = file;
        _ = csv;
        await Task.CompletedTask.ConfigureAwait(false);
        return "no customer directory in this commit: nothing written";
#endif
    }

    private static void DeleteFile(string path)
    {
        foreach (var name in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            File.Delete(name);
        }
    }

    /// <summary>Brings the directory to <paramref name="mode"/> for the file at <paramref name="path"/>; returns what was done, for the run's note.</summary>
    public static async Task<string> PrepareAsync(IServiceProvider services, string mode, string store, string? file, string path)
    {
        if (!Modes.Contains(mode))
        {
            throw new ArgumentException($"--directory is one of {string.Join(", ", Modes)}, not '{mode}'.");
        }
#if CUSTOMER_DIRECTORY
        var where = services.GetRequiredService<ICustomerDirectoryStore>() is InMemoryCustomerDirectoryStore ? "memory" : store;
        switch (mode)
        {
            case "warm" when file is not null && where == "sqlite":
                return $"directory warm ({where}): written beforehand by another process";
            case "warm":
                return await WarmAsync(services.GetRequiredService<ICustomerDirectoryStore>(), services.GetRequiredService<TimeProvider>(), path, where)
                    .ConfigureAwait(false);
            case "swept":
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var sweep = await services.GetRequiredService<CustomerDirectory>().SweepAsync().ConfigureAwait(false);
                // Background work, reported on its own: what it took here, and what Polar's limits make of it.
                return string.Create(CultureInfo.InvariantCulture,
                    $"directory swept before the clock ({where}): {sweep.Customers:N0} customers in {sweep.Requests:N0} requests and {clock.Elapsed.TotalSeconds:0.0} s, " +
                    $"not counted; at Polar's limits {sweep.Requests / 500.0:0.#} min at 500/min, {sweep.Requests / 100.0:0.#} min at 100/min");
            default:
                return $"directory cold ({where})";
        }
#else
        _ = services;
        _ = store;
        _ = file;
        _ = path;
        await Task.CompletedTask.ConfigureAwait(false);
        return mode == "cold" ? "no customer directory in this commit" : $"directory {mode} asked, but this commit has no customer directory";
#endif
    }

#if CUSTOMER_DIRECTORY
    /// <summary>Every external id of the file recorded as confirmed now, and a complete sweep noted now.</summary>
    private static async Task<string> WarmAsync(ICustomerDirectoryStore directory, TimeProvider time, string csv, string where)
    {
        var now = time.GetUtcNow();
        long entries = 0;
        foreach (var batch in File.ReadLines(csv).Skip(1).Select(static l => l[..l.IndexOf(',', StringComparison.Ordinal)]).Distinct().Chunk(10_000))
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
    }
#endif
}

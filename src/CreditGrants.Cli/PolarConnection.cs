using CreditGrants.Polar;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PolarEmulator;

namespace CreditGrants.Cli;

/// <summary>
/// Where <c>credits</c> sends its Polar calls: the configured server with the token from the environment or a file,
/// or, with neither server nor token, an embedded Polar emulator whose state lives in the data folder.
/// </summary>
public sealed class PolarConnection : IAsyncDisposable
{
    public const string ServerVariable = "POLAR_SERVER";
    public const string TokenVariable = "POLAR_ACCESS_TOKEN";
    public const string EmulatorStateFile = "polar-emulator.json";

    /// <summary>Where earlier versions kept the embedded emulator's state: <c>.credits</c> in the current folder.</summary>
    public const string LegacyDataDir = ".credits";

    /// <summary>
    /// The request budget against the embedded emulator when <c>Polar__RequestsPerMinute</c> is unset: the emulator has no
    /// limit, so pacing at Polar's 500 a minute would only make local runs wait.
    /// </summary>
    public const int EmbeddedRequestsPerMinute = 100_000;

    /// <summary>How often a run waiting for the data folder checks whether it is free.</summary>
    internal static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(100);

    private readonly PolarEmulatorServer? _emulator;
    private readonly IDisposable? _dataFolderLock;

    private PolarConnection(ServiceProvider services, PolarEmulatorServer? emulator, IDisposable? dataFolderLock)
    {
        Services = services;
        _emulator = emulator;
        _dataFolderLock = dataFolderLock;
    }

    public IServiceProvider Services { get; }

    public bool IsEmbedded => _emulator is not null;

    public static async Task<PolarConnection> OpenAsync(CliSettings settings, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(error);
        var server = settings.Server ?? settings.Environment(ServerVariable);
        var token = ReadToken(settings);
        PolarEmulatorServer? emulator = null;
        IDisposable? dataFolderLock = null;
        string? directoryPath = null;
        string? expiriesPath = null;
        if (server is null && token is null)
        {
            var dataDir = DataFolder.Resolve(settings.DataDir, settings.Environment);
            DataFolder.Create(dataDir);
            // One run at a time per data folder: each run loads the emulator's state and saves it when it ends,
            // so two at once would each save their own copy over the other's grants.
            dataFolderLock = await DataFolder.LockAsync(dataDir, error, LockPollInterval, cancellationToken).ConfigureAwait(false);
            var stateFile = Path.Combine(dataDir, EmulatorStateFile);
            var isNew = !File.Exists(stateFile);
            try
            {
                emulator = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, DataFile = stateFile }, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidDataException or KeyNotFoundException
                                           or InvalidOperationException or FormatException or IOException or UnauthorizedAccessException)
            {
                // Never start over on top of state that cannot be read: that would drop every grant it holds.
                dataFolderLock.Dispose();
                throw new CliInputException(
                    $"--data-dir '{dataDir}' cannot be used: the embedded emulator's state ({EmulatorStateFile}) cannot be read ({FirstLine(ex.Message)}). "
                    + "Move that file away to start from nothing, or pass another --data-dir.", ex);
            }
            catch
            {
                dataFolderLock.Dispose();
                throw;
            }

            // Said once, when the state is created (and with --verbose); on every later call it would only be noise.
            if (isNew || settings.Verbose)
            {
                var later = settings.DataDir is null && settings.Environment(DataFolder.Variable) is null
                    ? " (later runs from any folder use it too)"
                    : $" (later runs use it when given the same --data-dir or {DataFolder.Variable})";
                await error.WriteLineAsync(isNew
                    ? $"credits: no Polar server configured; using the embedded Polar emulator, with new, empty state in {dataDir}{later}. "
                      + $"Set {ServerVariable} and {TokenVariable} to use Polar."
                    : $"credits: no Polar server configured; using the embedded Polar emulator (state in {dataDir}). "
                      + $"Set {ServerVariable} and {TokenVariable} to use Polar.").ConfigureAwait(false);
            }
            if (settings.DataDir is null && settings.Environment(DataFolder.Variable) is null
                && Path.GetFullPath(LegacyDataDir) is var legacy && legacy != dataDir && File.Exists(Path.Combine(legacy, EmulatorStateFile)))
            {
                await error.WriteLineAsync(
                    $"credits: {legacy} holds state an earlier version kept in the current folder; pass --data-dir {LegacyDataDir} to use it.")
                    .ConfigureAwait(false);
            }

            server = emulator.BaseAddress.AbsoluteUri;
            token = emulator.Token;
            directoryPath = SqliteCustomerDirectoryStore.PathFor(dataDir, server, token, embedded: true);
            expiriesPath = SqliteExpiryIndex.PathFor(dataDir, server, token, embedded: true);
            if (isNew)
            {
                // The emulator starts with no customers: what an earlier directory knew of its customers is gone with them.
                DeleteDirectoryFile(directoryPath);
                // And no grants: an earlier index's expiries are of grants gone too.
                DeleteDirectoryFile(expiriesPath);
            }
        }
        else if (server is null)
        {
            throw new CliInputException($"A Polar token is set but no server: pass --polar-server production|sandbox|<url> or set {ServerVariable}.");
        }
        else if (token is null)
        {
            throw new CliInputException($"No Polar token: set {TokenVariable} or pass --polar-token-file <path> (never the token itself as an argument).");
        }

        try
        {
            PolarClientOptions.ResolveServer(server);
        }
        catch (ArgumentException ex)
        {
            throw new CliInputException($"--polar-server: {ex.Message.Split(" (Parameter", StringSplitOptions.None)[0]}");
        }

        directoryPath ??= DirectoryPathFor(settings, server, token);
        expiriesPath ??= ExpiriesPathFor(settings, server, token);
        var embedded = emulator is not null;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Configuration).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            // Without --verbose a failure is told once, as the command's one-line error: retries (Polly) log nothing.
            logging.SetMinimumLevel(settings.Verbose ? LogLevel.Debug : LogLevel.Error);
            if (!settings.Verbose)
            {
                logging.AddFilter("Polly", LogLevel.None);
            }

            logging.AddProvider(new TextWriterLoggerProvider(error));
        });
        services.AddOptions<Grants.GrantOptions>().Bind(configuration.GetSection(Grants.GrantOptions.SectionName));
        services.AddOptions<Bulk.BulkOptions>().Bind(configuration.GetSection(Bulk.BulkOptions.SectionName));
        services.AddPolarGateway(options =>
        {
            configuration.GetSection(PolarClientOptions.SectionName).Bind(options);
            options.Server = server;
            options.AccessToken = token;
            if (embedded)
            {
                options.RequestsPerMinute ??= EmbeddedRequestsPerMinute;
            }
        });
        services.AddOptions<Customers.CustomerDirectoryOptions>().Bind(configuration.GetSection(Customers.CustomerDirectoryOptions.SectionName));
        if (directoryPath is not null)
        {
            services.AddSingleton<Customers.ICustomerDirectoryStore>(new SqliteCustomerDirectoryStore(directoryPath));
        }

        if (expiriesPath is not null)
        {
            services.AddSingleton<Expiry.IExpiryIndex>(new SqliteExpiryIndex(expiriesPath));
        }

        services.AddOptions<Expiry.ExpiryOptions>().Bind(configuration.GetSection(Expiry.ExpiryOptions.SectionName));
        services.AddGrantServices();
        settings.Services?.Invoke(services);
        return new PolarConnection(services.BuildServiceProvider(), emulator, dataFolderLock);
    }

    /// <summary>The directory file for a Polar server in the data folder; null (a directory in memory) when there is no data folder.</summary>
    private static string? DirectoryPathFor(CliSettings settings, string server, string token)
    {
        try
        {
            return SqliteCustomerDirectoryStore.PathFor(DataFolder.Resolve(settings.DataDir, settings.Environment), server, token, embedded: false);
        }
        catch (CliInputException)
        {
            return null;
        }
    }

    /// <summary>The expiry index file for a Polar server in the data folder; null (an index in memory) when there is no data folder.</summary>
    private static string? ExpiriesPathFor(CliSettings settings, string server, string token)
    {
        try
        {
            return SqliteExpiryIndex.PathFor(DataFolder.Resolve(settings.DataDir, settings.Environment), server, token, embedded: false);
        }
        catch (CliInputException)
        {
            return null;
        }
    }

    private static void DeleteDirectoryFile(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            if (File.Exists(file))
            {
                File.Delete(file);
            }
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim().TrimEnd('.');

    private static string? ReadToken(CliSettings settings)
    {
        if (settings.TokenFile is { } file)
        {
            try
            {
                var token = File.ReadAllText(file).Trim();
                return token.Length > 0 ? token : throw new CliInputException($"--polar-token-file: '{file}' is empty; it must hold the Polar access token.");
            }
            catch (IOException ex)
            {
                throw new CliInputException($"--polar-token-file: cannot read '{file}': {ex.Message}");
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new CliInputException($"--polar-token-file: cannot read '{file}': {ex.Message}");
            }
        }

        var fromEnvironment = settings.Environment(TokenVariable);
        return string.IsNullOrWhiteSpace(fromEnvironment) ? null : fromEnvironment.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        await ((IAsyncDisposable)Services).DisposeAsync().ConfigureAwait(false);
        if (_emulator is not null)
        {
            await _emulator.DisposeAsync().ConfigureAwait(false);
        }

        // Only once the emulator has saved its state may the next run load it.
        _dataFolderLock?.Dispose();
    }
}

/// <summary>What the global options and the environment say about the connection and the run.</summary>
public sealed record CliSettings(
    string? Server,
    string? TokenFile,
    string? DataDir,
    bool Verbose,
    Func<string, string?> Environment,
    IReadOnlyDictionary<string, string?> Configuration)
{
    /// <summary>More services for this run (the app's shared request budget when <c>--storage</c> is given).</summary>
    public Action<IServiceCollection>? Services { get; init; }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

/// <summary><c>credits</c>: the operator's command line for grants, balances and meters.</summary>
public sealed partial class CreditsCli
{
    private readonly Option<string?> _server = new("--polar-server")
    {
        HelpName = "production|sandbox|url",
        Description = $"production, sandbox or a URL (default: env {PolarConnection.ServerVariable}; with no server and no token, the embedded emulator)",
    };

    private readonly Option<string?> _tokenFile = new("--polar-token-file")
    {
        HelpName = "file",
        Description = $"A file holding the Polar access token (default: env {PolarConnection.TokenVariable})",
    };

    private readonly Option<string?> _dataDir = new("--data-dir")
    {
        HelpName = "dir",
        Description = $"Where the embedded emulator keeps its state (default: env {DataFolder.Variable}, else one folder per user, ~/.local/share/credits)",
    };

    private readonly Option<bool> _json = new("--json") { Description = "Print one JSON object on stdout", Recursive = true };
    private readonly Option<bool> _verbose = new("--verbose") { Description = "Show stack traces, and log every call and retry", Recursive = true };

    /// <summary>The options of commands that talk to Polar (or to the embedded emulator); the others do not list them.</summary>
    private Option[] PolarOptions => [_server, _tokenFile, _dataDir];

    private readonly Func<string, string?> _environment;
    private readonly IReadOnlyDictionary<string, string?> _configuration;
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    /// <summary>A command line writing to the given streams, reading variables and app settings (<c>Grants:DefaultMeter</c>, …) from the given sources.</summary>
    public CreditsCli(TextWriter output, TextWriter error, Func<string, string?> environment, IReadOnlyDictionary<string, string?>? configuration = null)
    {
        // Everything printed goes through the terminal-safe writer; only the Spectre console writes underneath it.
        _out = TerminalSafeWriter.Wrap(output);
        _error = TerminalSafeWriter.Wrap(error);
        _environment = environment;
        _configuration = configuration ?? new Dictionary<string, string?>();
    }

    /// <summary>Runs one command line and returns its exit code (<see cref="ExitCodes"/>); cancelling the token is Ctrl+C.</summary>
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var parse = BuildRootCommand().Parse(args);
        if (parse.Errors.Count > 0)
        {
            await _error.WriteLineAsync($"credits: {CommandLineErrors.Describe(parse)}").ConfigureAwait(false);
            return ExitCodes.InvalidInput;
        }

        // Ctrl+C is the caller's to turn into a cancelled token (Program.cs); every command then ends with exit code 130.
        return await parse.InvokeAsync(new InvocationConfiguration { Output = _out, Error = _error, ProcessTerminationTimeout = null }, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Every command that runs something, as typed after <c>credits</c> ("bulk run", "grant", …), for tests that walk them all.</summary>
    internal IReadOnlyList<string> CommandPaths()
    {
        static IEnumerable<string> Walk(Command command, string prefix) => command.Subcommands.Count == 0
            ? [prefix.Trim()]
            : command.Subcommands.SelectMany(c => Walk(c, $"{prefix} {c.Name}"));
        return [.. Walk(BuildRootCommand(), "")];
    }

    private RootCommand BuildRootCommand()
    {
        var root = new RootCommand("credits: grant usage credits to Polar customers. Exit codes: 0 done, 1 other failure, 2 invalid input, " +
            "3 refused by Polar, 4 Polar or Azure Storage unavailable, 5 rows rejected, 130 stopped by Ctrl+C.");
        root.Options.Add(_json);
        root.Options.Add(_verbose);

        root.Subcommands.Add(GrantCommand());
        root.Subcommands.Add(BalanceCommand());
        root.Subcommands.Add(UsageCommand());
        root.Subcommands.Add(GrantsCommand());
        root.Subcommands.Add(MetersCommand());
        root.Subcommands.Add(CustomersCommand());
        root.Subcommands.Add(new Command("bulk", "Grant credits to many customers from a CSV file")
        {
            BulkRunCommand(), BulkSubmitCommand(), BulkStatusCommand(), BulkRetryCommand(), BulkRevokeCommand(),
        });
        root.Subcommands.Add(CampaignsCommand());
        root.Subcommands.Add(RulesCommand());
        root.Subcommands.Add(WebhooksCommand());
        return root;
    }

    private Command GrantCommand()
    {
        var customer = new Option<string>("--customer") { Description = "The customer's external id (your id for them)", Required = true };
        var email = new Option<string?>("--email") { Description = "Creates the customer with this email when missing" };
        var name = new Option<string?>("--name") { Description = "The name of a customer created now" };
        var units = new Option<string>("--units") { Description = "Credits to grant, a number > 0", Required = true };
        var grantId = new Option<string>("--grant-id") { Description = "The grant's idempotency key: the same id never grants twice", Required = true };
        var meter = new Option<string?>("--meter") { Description = "The meter (default: Grants:DefaultMeter, 'API Calls')" };
        var reason = new Option<string?>("--reason") { Description = "Why, in a few words (kept on the event)" };
        var expiresAt = new Option<string?>("--expires-at")
        {
            HelpName = "instant",
            Description = "When the unspent credits expire: ISO 8601 with an offset, such as 2027-01-31T23:00:00Z (takes effect at the end of its UTC hour)",
        };
        var expiresIn = new Option<string?>("--expires-in")
        {
            HelpName = "duration",
            Description = "Or how long from now: an ISO 8601 duration such as P30D or PT12H",
        };
        var carryOver = new Option<bool>("--carry-over")
        {
            Description = "Keep the unspent units over Polar's meter resets: the Functions app, subscribed to Polar's webhooks, grants them again at each reset",
        };
        var command = new Command("grant", "Grant credits to one customer") { customer, email, name, units, grantId, meter, reason, expiresAt, expiresIn, carryOver };
        AddPolarOptions(command);
        command.SetAction(async (parse, ct) =>
        {
            // Input is checked before Polar (or the embedded emulator) is reached, so a typo costs nothing.
            var request = new GrantRequest(parse.GetValue(grantId), parse.GetValue(customer), null, parse.GetValue(email),
                parse.GetValue(name), parse.GetValue(units), parse.GetValue(meter), parse.GetValue(reason), "cli",
                ExpiresAt: parse.GetValue(expiresAt), ExpiresIn: parse.GetValue(expiresIn), CarryOver: parse.GetValue(carryOver));
            var validation = new GrantValidator(ConfiguredGrantOptions(), Clock).Validate(request);
            if (!validation.IsValid)
            {
                foreach (var error in validation.Errors)
                {
                    await _error.WriteLineAsync($"credits: --{OptionName(error.Field)}: {error}").ConfigureAwait(false);
                }

                return ExitCodes.InvalidInput;
            }

            return await RunAsync(parse, services => GrantAsync(services, validation.Grant!, parse, ct), ct).ConfigureAwait(false);
        });
        return command;
    }

    private async Task<int> GrantAsync(IServiceProvider services, CreditGrant grant, ParseResult parse, CancellationToken ct)
    {
        var outcome = await services.GetRequiredService<GrantService>().GrantAsync(grant, ct).ConfigureAwait(false);
        if (parse.GetValue(_json))
        {
            await WriteJsonAsync(GrantOutcomeJson.From(outcome), GrantsJsonContext.Default.GrantOutcomeJson).ConfigureAwait(false);
        }
        else
        {
            await _out.WriteLineAsync(Describe(outcome)).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>The grant rules as the environment sets them (Grants__MaxUnitsPerGrant, …), for checks made before connecting.</summary>
    private GrantOptions ConfiguredGrantOptions()
    {
        var options = new GrantOptions();
        new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build()
            .GetSection(GrantOptions.SectionName).Bind(options);
        return options;
    }

    private Command BalanceCommand()
    {
        var customer = new Option<string>("--customer") { Description = "The customer's external id", Required = true };
        var meter = new Option<string?>("--meter") { Description = "The meter (default: Grants:DefaultMeter, 'API Calls')" };
        var command = new Command("balance", "Show a customer's credit on a meter") { customer, meter };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunAsync(parse, async services =>
        {
            var meterName = parse.GetValue(meter) ?? services.GetRequiredService<IOptions<GrantOptions>>().Value.DefaultMeter;
            var balance = await services.GetRequiredService<BalanceService>().GetBalanceAsync(parse.GetValue(customer)!, meterName, ct)
                .ConfigureAwait(false);
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(CreditBalanceJson.From(balance), GrantsJsonContext.Default.CreditBalanceJson).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(
                    $"""
                    Customer  {balance.ExternalCustomerId} ({balance.CustomerId})
                    Meter     {balance.Meter}
                    Balance   {Number(balance.Balance)}   (credit left: grants and credits minus usage; Polar's consumed_units {Number(balance.ConsumedUnits)} are usage net of grants, credited_units {balance.CreditedUnits})
                    """).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command MetersCommand()
    {
        var meter = new Option<string>("--meter") { Description = "The meter's name", DefaultValueFactory = _ => "API Calls" };
        var eventName = new Option<string>("--event") { Description = "The event name it counts", DefaultValueFactory = _ => "api_usage" };
        var property = new Option<string>("--property") { Description = "The metadata property it sums", DefaultValueFactory = _ => "units" };
        var ensure = new Command("ensure", "Create the guide's meter (Sum of a property over events with a name) unless it exists")
        {
            meter, eventName, property,
        };
        AddPolarOptions(ensure);
        ensure.SetAction((parse, ct) => RunAsync(parse, async services =>
        {
            // The id rule of every way in (grants look meters up by this name through it too).
            var name = CreditGrants.Identity.Identifier.Trim(parse.GetValue(meter)!);
            if (name.Length < 3)
            {
                throw new CliInputException($"--meter '{CreditGrants.Identity.Display.Escape(name)}': a meter name needs at least 3 characters.");
            }

            if (CreditGrants.Identity.Identifier.Check(name) is [var problem, ..])
            {
                throw new CliInputException($"--meter '{CreditGrants.Identity.Display.Shorten(name)}' {problem.Message}.");
            }

            var (requestedEvent, requestedProperty) = (parse.GetValue(eventName)!, parse.GetValue(property)!);
            var (found, created) = await services.GetRequiredService<IPolarGateway>()
                .EnsureMeterAsync(name, requestedEvent, requestedProperty, ct).ConfigureAwait(false);
            var ensured = MeterEnsured.From(found, created, requestedEvent, requestedProperty);
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(ensured, CliJsonContext.Default.MeterEnsured).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(ensured.Describe()).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return new Command("meters", "Manage meters") { ensure };
    }

    /// <summary>Runs a command that talks to Polar: opens the connection, runs, and maps failures to exit codes.</summary>
    private async Task<int> RunAsync(ParseResult parse, Func<IServiceProvider, Task<int>> action, CancellationToken cancellationToken,
        Action<IServiceCollection>? services = null) =>
        await RunGuardedAsync(parse, async () =>
        {
            var settings = new CliSettings(parse.GetValue(_server), parse.GetValue(_tokenFile), parse.GetValue(_dataDir), parse.GetValue(_verbose),
                _environment, _configuration) { Services = services };
            await using var connection = await PolarConnection.OpenAsync(settings, _error, cancellationToken).ConfigureAwait(false);
            return await action(connection.Services).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Runs any command body, printing a failure as one line (a stack trace only with --verbose) and returning its exit code;
    /// a run stopped by Ctrl+C exits 130.
    /// </summary>
    private async Task<int> RunGuardedAsync(ParseResult parse, Func<Task<int>> action, CancellationToken cancellationToken)
    {
        var verbose = parse.GetValue(_verbose);
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await _error.WriteLineAsync("credits: stopped.").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (Exception ex)
        {
            var (code, message) = CliErrors.Describe(ex);
            await _error.WriteLineAsync($"credits: {message}").ConfigureAwait(false);
            if (verbose)
            {
                await _error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return code;
        }
    }

    private void AddPolarOptions(Command command)
    {
        foreach (var option in PolarOptions)
        {
            command.Options.Add(option);
        }
    }

    private async Task WriteJsonAsync<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        await _out.WriteLineAsync(JsonSerializer.Serialize(value, typeInfo)).ConfigureAwait(false);

    private static string Describe(GrantOutcome outcome)
    {
        var who = outcome.ExternalCustomerId is { } external ? $"'{external}'" : $"customer {outcome.CustomerId}";
        var verb = outcome.Status == GrantStatus.Granted ? "Granted" : "Already granted (duplicate, nothing changed):";
        var customerNote = outcome.CustomerCreated ? " Created the customer."
            : !outcome.CustomerExists ? " No customer has this external id yet; Polar counts the grant once one is created." : "";
        var expiryNote = outcome.ExpiresAt is { } expires
            ? $" Expires at {GrantExpiry.Format(expires)}, taking effect at {GrantExpiry.Format(GrantExpiry.TakesEffectAt(expires))} (expiries take effect at whole UTC hours)."
            : "";
        var carryNote = outcome.CarryOver ? " Carried over meter resets: what a reset wipes of it is granted again." : "";
        return $"{verb} {Number(outcome.Units)} units to {who} on meter '{outcome.Meter}' (grant {outcome.GrantId}, event {outcome.EventId}).{customerNote}{expiryNote}{carryNote}";
    }

    /// <summary>A number of units as every human-readable line writes it: thousands separated, as counts are ("2,500 of 250,000 units").</summary>
    private static string Number(decimal value) => value.ToString("#,0.######", CultureInfo.InvariantCulture);

    private static string OptionName(string field) => field switch
    {
        "customer.externalId" or "customer" => "customer",
        "customer.email" => "email",
        "customer.name" => "name",
        "grantId" => "grant-id",
        "expiresAt" => "expires-at",
        "expiresIn" => "expires-in",
        _ => field,
    };
}

using System.Globalization;
using CreditFunctions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace TimerEngine.Tests;

/// <summary>
/// The test assembly run as a process of its own, one app instance on the timer engine:
/// <c>dotnet TimerEngine.Tests.dll engine &lt;hostId&gt; &lt;listenerLockRecoveryPollingSeconds&gt;</c>, with the app's settings in
/// environment variables prefixed <see cref="SettingsPrefix"/> (<c>__</c> for <c>:</c>), so that no secret is on the command
/// line. It writes <c>started</c>, then one line per invocation (<c>invocation &lt;IsPastDue&gt; &lt;ScheduleStatus.Next, ISO
/// 8601&gt; ok</c>, or <c>failed</c>), and stops its host when it reads <c>stop</c> (or end of input), then writes <c>stopped</c>.
/// </summary>
internal static class Program
{
    /// <summary>The prefix of the environment variables that carry the app's settings to the process.</summary>
    public const string SettingsPrefix = "TIMER_ENGINE_";

    public static async Task<int> Main(string[] args)
    {
        if (args is not ["engine", var hostId, var recoverySeconds])
        {
            await Console.Error.WriteLineAsync("usage: TimerEngine.Tests engine <hostId> <listenerLockRecoveryPollingSeconds>");
            return 2;
        }

        var settings = new ConfigurationBuilder().AddEnvironmentVariables(SettingsPrefix).Build();
        var services = new ServiceCollection().AddLogging().AddCreditFunctions(settings).BuildServiceProvider();
        await using (services)
        {
            var recovery = TimeSpan.FromSeconds(int.Parse(recoverySeconds, CultureInfo.InvariantCulture));
            var engine = await CampaignTimerEngine.StartAsync(hostId, services, settings, async (timer, run) =>
            {
                var outcome = "ok";
                try
                {
                    await run();
                }
                catch (Exception)
                {
                    outcome = "failed";
                    throw;
                }
                finally
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"invocation {timer.IsPastDue} {timer.ScheduleStatus?.Next:O} {outcome}"));
                }
            }, recovery);
            await using (engine)
            {
                Console.WriteLine("started");
                while (await Console.In.ReadLineAsync() is { } line && line != "stop")
                {
                }
            }
        }

        Console.WriteLine("stopped");
        return 0;
    }
}

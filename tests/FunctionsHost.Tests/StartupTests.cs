using FunctionsHost.Tests.Host;
using FunctionsHost.Tests.Rpc;

namespace FunctionsHost.Tests;

/// <summary>The published app starts as the Functions host starts it: Program.cs, the whole DI graph, telemetry, options.</summary>
[Collection(SharedWorker.Name)]
public sealed class StartupTests(AppUnderHost app)
{
    [Fact]
    public void Worker_answers_init_with_success_within_the_startup_limit()
    {
        Assert.Equal(StatusResult.Types.Status.Success, app.Host.InitResponse.Result.Status);
        Assert.True(app.Host.TimeToInit < AppUnderHost.StartupLimit, $"init took {app.Host.TimeToInit}");
        Assert.False(string.IsNullOrEmpty(app.Host.InitResponse.WorkerVersion));
    }
}

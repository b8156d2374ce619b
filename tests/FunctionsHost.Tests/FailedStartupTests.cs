using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>The test host tells a worker that cannot start from one that can: a startup failure fails, naming its cause.</summary>
public sealed class FailedStartupTests
{
    [Fact]
    public async Task A_setting_that_fails_options_validation_stops_the_worker_before_it_connects()
    {
        var settings = AppSettings.Sample();
        settings["Bulk__ChunkRows"] = "0";

        var (host, failure) = await WorkerHost.TryStartAsync(AppSettings.AppDirectory, settings, AppUnderHost.StartupLimit);
        await using (host)
        {
            var error = Assert.IsType<WorkerStartException>(failure);
            Assert.True(host.HasExited, error.Message);
            Assert.Contains("exited", error.Message, StringComparison.Ordinal);
            Assert.Contains("ChunkRows", error.WorkerOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_app_folder_without_the_app_is_not_a_started_worker()
    {
        var empty = Directory.CreateTempSubdirectory("no-app-");
        try
        {
            File.Copy(Path.Combine(AppSettings.AppDirectory, "worker.config.json"), Path.Combine(empty.FullName, "worker.config.json"));

            var (host, failure) = await WorkerHost.TryStartAsync(empty.FullName, AppSettings.Sample(), AppUnderHost.StartupLimit);
            await using (host)
            {
                Assert.IsType<WorkerStartException>(failure);
                Assert.Null(host.InitResponse);
            }
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }
}

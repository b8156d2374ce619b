using System.Runtime.InteropServices;

namespace Infrastructure.Tests;

/// <summary>Where the Bicep CLI from NuGet cannot run, the tests that need it are skipped with the reason instead of failing.</summary>
public sealed class BicepAvailabilityTests
{
    [Fact]
    public void Linux_x64_runs_the_bicep_tests() =>
        Assert.Null(BicepAvailability.Evaluate(null, isLinux: true, Architecture.X64, "linux-x64"));

    [Theory]
    [InlineData(false, Architecture.X64, "win-x64")]
    [InlineData(false, Architecture.Arm64, "osx-arm64")]
    [InlineData(true, Architecture.Arm64, "linux-arm64")]
    public void Other_platforms_skip_them_saying_why(bool isLinux, Architecture architecture, string runtime)
    {
        var reason = BicepAvailability.Evaluate(null, isLinux, architecture, runtime);

        Assert.NotNull(reason);
        Assert.Contains("linux-x64 only", reason, StringComparison.Ordinal);
        Assert.Contains(runtime, reason, StringComparison.Ordinal);
        Assert.Contains("BICEP_PATH", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bicep_path_runs_them_anywhere() =>
        Assert.Null(BicepAvailability.Evaluate("/opt/bicep", isLinux: false, Architecture.Arm64, "osx-arm64"));
}

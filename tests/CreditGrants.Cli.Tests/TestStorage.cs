using System.Net.Sockets;

namespace CreditGrants.Cli.Tests;

/// <summary>The storage the CLI's storage tests use: Azurite on its default ports, or env <c>CREDITS_TEST_STORAGE</c>.</summary>
internal static class TestStorage
{
    public static string ConnectionString { get; } = Environment.GetEnvironmentVariable("CREDITS_TEST_STORAGE") ?? "UseDevelopmentStorage=true";

    /// <summary>Fails with what to do when the default Azurite is not listening (another storage is taken as given).</summary>
    public static async Task EnsureRunningAsync()
    {
        if (!ConnectionString.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", 10000).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            throw new InvalidOperationException("Azurite is not listening on 127.0.0.1:10000-10002: run 'bash scripts/test.sh', which starts it.", ex);
        }
    }
}

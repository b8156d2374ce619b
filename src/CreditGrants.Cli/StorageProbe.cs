using System.Net;
using System.Net.Sockets;
using CreditGrants.Storage;

namespace CreditGrants.Cli;

/// <summary>
/// Checks that something answers at the storage account's endpoints before the first request, so that a storage that is not
/// running fails at once with what to do, instead of after the SDK's retries (about 24 seconds).
/// </summary>
internal static class StorageProbe
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task EnsureReachableAsync(StorageAccount account, CancellationToken cancellationToken)
    {
        // Behind a proxy only the proxy is reached directly; those endpoints are left to the SDK.
        var endpoints = new[] { account.Blobs.Uri, account.Queues.Uri, account.Tables.Uri }
            .Where(u => IsLocal(u.Host) || HttpClient.DefaultProxy.IsBypassed(u))
            .Select(u => (u.Host, u.Port)).Distinct();
        foreach (var (host, port) in endpoints)
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                await client.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw Unreachable(host, port, ex.SocketErrorCode, ex);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unreachable(host, port, SocketError.TimedOut, ex);
            }
        }
    }

    private static StorageUnavailableException Unreachable(string host, int port, SocketError error, Exception inner) => error switch
    {
        SocketError.ConnectionRefused when IsLocal(host) => new(
            $"Azure Storage is not running at {host}:{port}: start Azurite with --skipApiVersionCheck " +
            "(npx azurite --silent --skipApiVersionCheck --location .azurite), or check --storage.", inner),
        SocketError.HostNotFound or SocketError.NoData => new(
            $"No Azure Storage answers at {host}: check the account name or connection string in --storage, and your network.", inner),
        _ => new($"Azure Storage at {host}:{port} could not be reached ({error}): check --storage and your network.", inner),
    };

    private static bool IsLocal(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}

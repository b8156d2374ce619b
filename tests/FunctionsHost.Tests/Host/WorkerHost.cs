using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionsHost.Tests.Rpc;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionsHost.Tests.Host;

/// <summary>
/// The Functions host's side of the worker protocol for one published app: it starts the app's worker process as the host
/// does (worker.config.json's executable and worker path, the host's command-line arguments, app settings as environment
/// variables), serves <c>FunctionRpc.EventStream</c> over gRPC on loopback, and walks the worker through init, worker
/// indexing (the metadata request), function load and invocations. Binding expressions (<c>%Name%</c>) are resolved from
/// the app settings as the host's indexing does, and an unresolved one is an indexing error, as it is there.
/// </summary>
internal sealed class WorkerHost : IAsyncDisposable
{
    /// <summary>The runtime version this host says it is; the app was checked by hand under Functions host 4.1037.</summary>
    public const string HostVersion = "4.1037.0";

    /// <summary>What the host passes as <c>--grpcMaxMessageLength</c> (int.MaxValue, its default).</summary>
    public const int MaxMessageLength = int.MaxValue;

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _pending = new();
    private readonly TaskCompletionSource<StartStream> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _streamClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentQueue<RpcLog> _logs = new();
    private readonly StringBuilder _output = new();
    private readonly WebApplication _server;
    private IServerStreamWriter<StreamingMessage>? _writer;
    private Process? _process;

    private WorkerHost(WebApplication server, string appDirectory, IReadOnlyDictionary<string, string> settings)
    {
        _server = server;
        AppDirectory = appDirectory;
        Settings = settings;
    }

    /// <summary>The published app's folder (the script root).</summary>
    public string AppDirectory { get; }

    /// <summary>The app settings the worker was started with, as environment variables (<c>Section__Key</c>).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    public string WorkerId { get; } = Guid.NewGuid().ToString();

    public string RequestId { get; } = Guid.NewGuid().ToString();

    /// <summary>The address the worker was told to connect to (<c>--functions-uri</c>).</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>How long from starting the process to the worker's successful init response.</summary>
    public TimeSpan TimeToInit { get; private set; }

    public WorkerInitResponse InitResponse { get; private set; } = null!;

    public FunctionMetadataResponse MetadataResponse { get; private set; } = null!;

    /// <summary>The functions the worker reported, by name, as the host indexed them.</summary>
    public IReadOnlyDictionary<string, IndexedFunction> Functions { get; private set; } = new Dictionary<string, IndexedFunction>();

    /// <summary>
    /// The contract every HTTP exchange through <see cref="HostHttp"/> is checked against: the API's OpenAPI document by
    /// default; null checks nothing (for a test that breaks the contract on purpose).
    /// </summary>
    public OpenApiContract? HttpContract { get; set; } = OpenApiContract.Repository;

    /// <summary>The worker's load answers, by function name.</summary>
    public IReadOnlyDictionary<string, FunctionLoadResponse> LoadResponses { get; private set; } = new Dictionary<string, FunctionLoadResponse>();

    /// <summary>Logs the worker sent over the stream (its ILogger output and the app's).</summary>
    public IReadOnlyCollection<RpcLog> Logs => _logs.ToArray();

    /// <summary>What the worker process wrote to stdout and stderr.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process?.HasExited ?? false;

    /// <summary>
    /// Starts the worker of the app in <paramref name="appDirectory"/> with <paramref name="settings"/> as its app settings,
    /// and takes it through init, indexing and load. Throws <see cref="WorkerStartException"/> (with the worker's output)
    /// when the process exits, or a step fails or does not answer within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<WorkerHost> StartAsync(string appDirectory, IReadOnlyDictionary<string, string> settings, TimeSpan timeout)
    {
        var host = await ListenAsync(appDirectory, settings);
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            await host.InitializeAsync(deadline.Token);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the worker and returns once it answered init or failed, whichever comes first: for tests of a worker that
    /// must not start. <see cref="InitResponse"/> is null when it never answered.
    /// </summary>
    public static async Task<(WorkerHost Host, Exception? Failure)> TryStartAsync(
        string appDirectory, IReadOnlyDictionary<string, string> settings, TimeSpan timeout)
    {
        var host = await ListenAsync(appDirectory, settings);
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            await host.InitializeAsync(deadline.Token);
            return (host, null);
        }
        catch (WorkerStartException e)
        {
            return (host, e);
        }
    }

    private static async Task<WorkerHost> ListenAsync(string appDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = null;
            o.MaxSendMessageSize = null;
        });
        builder.Services.AddSingleton<FunctionRpcEndpoint.Owner>();
        var server = builder.Build();
        var host = new WorkerHost(server, appDirectory, settings);
        server.MapGrpcService<FunctionRpcEndpoint>();
        server.Services.GetRequiredService<FunctionRpcEndpoint.Owner>().Host = host;
        await server.StartAsync();
        var address = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        host.Endpoint = new Uri(address.EndsWith('/') ? address : address + "/");
        return host;
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        StartProcess();
        await WaitAsync(_started.Task, "the worker's StartStream", cancellationToken);

        var init = await RequestAsync("init", new StreamingMessage
        {
            WorkerInitRequest = new WorkerInitRequest
            {
                HostVersion = HostVersion,
                WorkerDirectory = AppDirectory,
                FunctionAppDirectory = AppDirectory,
            },
        }, cancellationToken);
        InitResponse = init.WorkerInitResponse;
        TimeToInit = clock.Elapsed;
        Ensure(InitResponse.Result, "WorkerInitResponse");

        var metadata = await RequestAsync("metadata", new StreamingMessage
        {
            FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = AppDirectory },
        }, cancellationToken);
        MetadataResponse = metadata.FunctionMetadataResponse;
        Ensure(MetadataResponse.Result, "FunctionMetadataResponse");
        if (MetadataResponse.UseDefaultMetadataIndexing)
        {
            throw new WorkerStartException("The worker asked for the host's own indexing (functions.json files); this app is worker-indexed.", Output);
        }

        Functions = MetadataResponse.FunctionMetadataResults
            .Select(m => IndexedFunction.Index(m, Settings))
            .ToDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);

        // The host sends one load request per function unless the worker handles a collection.
        var loads = Functions.Values.Select(async f =>
        {
            var answer = await RequestAsync("load:" + f.Metadata.FunctionId, new StreamingMessage
            {
                FunctionLoadRequest = f.LoadRequest(),
            }, cancellationToken);
            return (f.Name, answer.FunctionLoadResponse);
        });
        LoadResponses = (await Task.WhenAll(loads)).ToDictionary(p => p.Name, p => p.FunctionLoadResponse, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, response) in LoadResponses)
        {
            Ensure(response.Result, $"FunctionLoadResponse of {name}");
        }
    }

    /// <summary>Invokes a function as the host does: its inputs, trigger metadata and a trace context.</summary>
    public async Task<InvocationResponse> InvokeAsync(string functionName, IEnumerable<ParameterBinding> inputs,
        IReadOnlyDictionary<string, TypedData>? triggerMetadata = null, CancellationToken cancellationToken = default)
    {
        var function = Function(functionName);
        var request = new InvocationRequest
        {
            FunctionId = function.Metadata.FunctionId,
            InvocationId = Guid.NewGuid().ToString(),
            TraceContext = new RpcTraceContext
            {
                TraceParent = $"00-{Guid.NewGuid():N}-{Guid.NewGuid().ToString("N")[..16]}-00",
                TraceState = "",
            },
        };
        request.InputData.AddRange(inputs);
        foreach (var (key, value) in triggerMetadata ?? new Dictionary<string, TypedData>())
        {
            request.TriggerMetadata.Add(key, value);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(RequestTimeout);
        var answer = await RequestAsync("invoke:" + request.InvocationId, new StreamingMessage { InvocationRequest = request }, deadline.Token);
        return answer.InvocationResponse;
    }

    /// <summary>The indexed function of that name; fails the test naming the functions there are.</summary>
    public IndexedFunction Function(string name) =>
        Functions.TryGetValue(name, out var function)
            ? function
            : throw new InvalidOperationException($"The worker indexed no function '{name}'; it has: {string.Join(", ", Functions.Keys)}.");

    /// <summary>Whether the worker declared a capability in its init response.</summary>
    public bool HasCapability(string name) => InitResponse.Capabilities.ContainsKey(name);

    private void StartProcess()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppDirectory, "worker.config.json")));
        var description = config.RootElement.GetProperty("description");
        var executable = description.GetProperty("defaultExecutablePath").GetString()!;
        var workerPath = Path.Combine(AppDirectory, description.GetProperty("defaultWorkerPath").GetString()!);
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = AppDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The arguments the host passes (RpcWorkerContext): the old names and the --functions-* ones the .NET worker reads.
        start.ArgumentList.Add(workerPath);
        foreach (var (name, value) in new[]
        {
            ("--host", Endpoint.Host), ("--port", Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("--workerId", WorkerId), ("--requestId", RequestId), ("--grpcMaxMessageLength", MaxMessageLength.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("--functions-uri", Endpoint.AbsoluteUri), ("--functions-worker-id", WorkerId), ("--functions-request-id", RequestId),
            ("--functions-grpc-max-message-length", MaxMessageLength.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        })
        {
            start.ArgumentList.Add(name);
            start.ArgumentList.Add(value);
        }

        // Only the app settings and what a process needs to run: nothing of the test runner's environment leaks in.
        var inherited = start.Environment.Where(e => IsProcessVariable(e.Key)).ToArray();
        start.Environment.Clear();
        foreach (var (key, value) in inherited)
        {
            start.Environment[key] = value;
        }

        foreach (var (key, value) in Settings)
        {
            start.Environment[key] = value;
        }

        // What the host adds for every worker (RpcWorkerProcess).
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = AppDirectory;
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = AppDirectory;
        start.Environment["AzureWebJobsScriptRoot"] = AppDirectory;

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private static bool IsProcessVariable(string name) =>
        name is "PATH" or "HOME" or "TMPDIR" or "LANG" or "USER"
        || name.StartsWith("DOTNET_", StringComparison.Ordinal)
        || name.StartsWith("NUGET_", StringComparison.Ordinal);

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private async Task<StreamingMessage> RequestAsync(string key, StreamingMessage message, CancellationToken cancellationToken)
    {
        var answer = new TaskCompletionSource<StreamingMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_pending.TryAdd(key, answer))
        {
            throw new InvalidOperationException($"A request '{key}' is already waiting for its answer.");
        }

        message.RequestId = RequestId;
        await SendAsync(message, cancellationToken);
        try
        {
            return await WaitAsync(answer.Task, $"the answer to {message.ContentCase}", cancellationToken);
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    private async Task SendAsync(StreamingMessage message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var writer = _writer ?? throw new WorkerStartException("No worker stream is open to send to.", Output);
            await writer.WriteAsync(message, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // Waits for a step, failing early (with the worker's output) when the process exits or the stream closes first.
    private async Task<T> WaitAsync<T>(Task<T> step, string what, CancellationToken cancellationToken)
    {
        var exited = _process is null ? Task.Delay(Timeout.Infinite, cancellationToken) : _process.WaitForExitAsync(cancellationToken);
        var first = await Task.WhenAny(step, exited, _streamClosed.Task, Task.Delay(Timeout.Infinite, cancellationToken));
        if (first == step)
        {
            return await step;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            throw new WorkerStartException($"The worker did not send {what} in time.", Output);
        }

        if (_process is { HasExited: true })
        {
            // Let the output readers drain what the process wrote last.
            await _process.WaitForExitAsync(CancellationToken.None);
            throw new WorkerStartException($"The worker process exited (code {_process.ExitCode}) before sending {what}.", Output);
        }

        throw new WorkerStartException($"The worker closed its stream before sending {what}.", Output);
    }

    private void Ensure(StatusResult result, string what)
    {
        if (result.Status != StatusResult.Types.Status.Success)
        {
            throw new WorkerStartException(
                $"{what}: {result.Status}: {result.Exception?.Message}{Environment.NewLine}{result.Exception?.StackTrace}", Output);
        }
    }

    // Called by the gRPC endpoint: the worker opened its stream.
    private void Attach(IServerStreamWriter<StreamingMessage> writer) => _writer = writer;

    // Called by the gRPC endpoint for every message the worker sends.
    private void Receive(StreamingMessage message)
    {
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.StartStream:
                _started.TrySetResult(message.StartStream);
                break;
            case StreamingMessage.ContentOneofCase.WorkerInitResponse:
                Complete("init", message);
                break;
            case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
                Complete("metadata", message);
                break;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                Complete("load:" + message.FunctionLoadResponse.FunctionId, message);
                break;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponseCollection:
                foreach (var load in message.FunctionLoadResponseCollection.FunctionLoadResponses)
                {
                    Complete("load:" + load.FunctionId, new StreamingMessage { FunctionLoadResponse = load });
                }

                break;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                Complete("invoke:" + message.InvocationResponse.InvocationId, message);
                break;
            case StreamingMessage.ContentOneofCase.RpcLog:
                _logs.Enqueue(message.RpcLog);
                break;
            default:
                break;
        }
    }

    private void Complete(string key, StreamingMessage message)
    {
        if (_pending.TryGetValue(key, out var waiting))
        {
            waiting.TrySetResult(message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            // The host's graceful stop: WorkerTerminate with a grace period, then the process is killed.
            try
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await SendAsync(new StreamingMessage { WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)) } }, quick.Token);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(grace.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or Grpc.Core.RpcException or WorkerStartException or IOException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        _process?.Dispose();
        _streamClosed.TrySetResult();
        await _server.StopAsync();
        await _server.DisposeAsync();
        _writeLock.Dispose();
    }

    /// <summary>The gRPC service the worker connects to: hands its stream to the host that started it.</summary>
    private sealed class FunctionRpcEndpoint(FunctionRpcEndpoint.Owner owner) : FunctionRpc.FunctionRpcBase
    {
        public override async Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream,
            ServerCallContext context)
        {
            var host = owner.Host ?? throw new InvalidOperationException("No host owns this endpoint.");
            host.Attach(responseStream);
            try
            {
                await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
                {
                    host.Receive(message);
                }
            }
            catch (OperationCanceledException)
            {
                // The host stopped.
            }
            catch (IOException)
            {
                // The worker went away mid-message.
            }
            finally
            {
                host._streamClosed.TrySetResult();
            }
        }

        /// <summary>Which host the endpoint belongs to (one server per host).</summary>
        public sealed class Owner
        {
            public WorkerHost? Host { get; set; }
        }
    }
}

/// <summary>The worker could not be started, initialized, indexed or loaded; the message ends with what the worker wrote.</summary>
internal sealed class WorkerStartException(string message, string workerOutput)
    : Exception($"{message}{Environment.NewLine}--- worker output ---{Environment.NewLine}{Tail(workerOutput)}")
{
    public string WorkerOutput { get; } = workerOutput;

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];
}

/// <summary>
/// One function as the host indexes it from the worker's metadata: its raw bindings parsed, and every <c>%Name%</c>
/// expression in them resolved from the app settings (an unresolved one is an error, as the host's indexing makes it).
/// </summary>
internal sealed record IndexedFunction(string Name, RpcFunctionMetadata Metadata, IReadOnlyList<JsonObject> Bindings,
    IReadOnlyList<JsonObject> ResolvedBindings, IReadOnlyList<string> Errors)
{
    /// <summary>The trigger binding (the one whose type ends in <c>Trigger</c>).</summary>
    public JsonObject Trigger => Bindings.Single(b => ((string?)b["type"])?.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>The trigger binding with its expressions resolved.</summary>
    public JsonObject ResolvedTrigger => ResolvedBindings[Bindings.ToList().IndexOf(Trigger)];

    public static IndexedFunction Index(RpcFunctionMetadata metadata, IReadOnlyDictionary<string, string> settings)
    {
        var errors = new List<string>();
        var bindings = metadata.RawBindings.Select(raw => JsonNode.Parse(raw)!.AsObject()).ToArray();
        var resolved = bindings.Select(b => Resolve(b.DeepClone(), settings, errors)!.AsObject()).ToArray();
        return new IndexedFunction(metadata.Name, metadata, bindings, resolved, errors);
    }

    /// <summary>The load request the host sends for this function (GrpcWorkerChannel.GetFunctionLoadRequest).</summary>
    public FunctionLoadRequest LoadRequest()
    {
        var request = new FunctionLoadRequest
        {
            FunctionId = Metadata.FunctionId,
            Metadata = new RpcFunctionMetadata
            {
                Name = Metadata.Name,
                Directory = Metadata.Directory ?? "",
                EntryPoint = Metadata.EntryPoint ?? "",
                ScriptFile = Metadata.ScriptFile ?? "",
                IsProxy = false,
            },
        };
        foreach (var binding in Bindings)
        {
            var info = new BindingInfo
            {
                Type = (string)binding["type"]!,
                Direction = ((string?)binding["direction"])?.ToLowerInvariant() switch
                {
                    "out" => BindingInfo.Types.Direction.Out,
                    "inout" => BindingInfo.Types.Direction.Inout,
                    _ => BindingInfo.Types.Direction.In,
                },
            };
            if (binding["dataType"] is JsonValue dataType && System.Enum.TryParse<BindingInfo.Types.DataType>((string?)dataType, ignoreCase: true, out var parsed))
            {
                info.DataType = parsed;
            }

            request.Metadata.Bindings.Add((string)binding["name"]!, info);
        }

        foreach (var (key, value) in Metadata.Properties)
        {
            request.Metadata.Properties.Add(key, value);
        }

        return request;
    }

    private static JsonNode? Resolve(JsonNode? node, IReadOnlyDictionary<string, string> settings, List<string> errors)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(p => p.Key).ToArray())
                {
                    o[key] = Resolve(o[key]?.DeepClone(), settings, errors);
                }

                return o;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    a[i] = Resolve(a[i]?.DeepClone(), settings, errors);
                }

                return a;
            case JsonValue v when v.TryGetValue(out string? text) && text.Count(c => c == '%') >= 2:
                return JsonValue.Create(AppSettings.ResolveExpression(text, settings, errors));
            default:
                return node;
        }
    }
}

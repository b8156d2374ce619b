using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Bulk;

namespace CreditGrants.Storage.Bulk;

/// <summary>
/// A message on the bulk queue. It carries no rows, only references (claim check): <c>plan</c> names a job whose uploaded
/// file is to be planned; <c>chunk</c> names a job and the byte range of one of its chunks in the uploaded file; <c>settle</c>
/// names a finished job whose unchecked rows wait for a sweep of the customer list (background work that sweeps a slice at a
/// time, then settles them); <c>revoke</c> names a run of a job's queued revocation and, once that run is planned, one slice
/// of its customers (<see cref="BulkRevokeSlice"/>; without a slice it plans the run).
/// </summary>
public sealed record BulkMessage(string Kind, string JobId, BulkChunk? Chunk = null, BulkRevokeSlice? Revoke = null)
{
    public const string PlanKind = "plan";
    public const string ChunkKind = "chunk";
    public const string SettleKind = "settle";
    public const string RevokeKind = "revoke";

    /// <summary>Queue messages are at most 64 KiB once Base64-encoded; a chunk's JSON must stay well below.</summary>
    public const int MaxChunkJsonLength = 30_000;

    public static BulkMessage Plan(string jobId) => new(PlanKind, jobId);

    public static BulkMessage ForChunk(string jobId, BulkChunk chunk) => new(ChunkKind, jobId, chunk);

    public static BulkMessage Settle(string jobId) => new(SettleKind, jobId);

    /// <summary>A queued revocation's message: run <paramref name="run"/> of the job, planned (null slice) or one slice of it.</summary>
    public static BulkMessage ForRevocation(string jobId, int run, int? slice = null) => new(RevokeKind, jobId, Revoke: new BulkRevokeSlice(run, slice));

    public string ToJson() => JsonSerializer.Serialize(this, BulkJsonContext.Default.BulkMessage);

    /// <summary>Reads a message; anything else is a <see cref="BulkMessageException"/> (it can never succeed).</summary>
    public static BulkMessage Parse(BinaryData body)
    {
        ArgumentNullException.ThrowIfNull(body);
        BulkMessage? message;
        try
        {
            message = JsonSerializer.Deserialize(body, BulkJsonContext.Default.BulkMessage);
        }
        catch (JsonException ex)
        {
            throw new BulkMessageException($"The queue message is not a bulk message: {ex.Message}", ex);
        }

        return message switch
        {
            null => throw new BulkMessageException("The queue message is empty."),
            { JobId: var id } when !BulkJobId.IsWellFormed(id) => throw new BulkMessageException($"The queue message names no valid job id ('{id}')."),
            { Kind: PlanKind or SettleKind } => message,
            { Kind: ChunkKind, Chunk: not null } => message,
            { Kind: ChunkKind } => throw new BulkMessageException($"The chunk message of job {message.JobId} carries no chunk."),
            { Kind: RevokeKind, Revoke: { Run: > 0, Slice: null or >= 0 } } => message,
            { Kind: RevokeKind } => throw new BulkMessageException($"The revoke message of job {message.JobId} carries no run (a number from 1) or a negative slice."),
            _ => throw new BulkMessageException($"Unknown message kind '{message.Kind}'; expected '{PlanKind}', '{ChunkKind}', '{SettleKind}' or '{RevokeKind}'."),
        };
    }
}

/// <summary>Which part of a queued revocation a <c>revoke</c> message names: the run (from 1) and the slice (from 0), or no slice for the run's plan.</summary>
public sealed record BulkRevokeSlice(int Run, int? Slice);

/// <summary>A queue message that no retry can process.</summary>
public sealed class BulkMessageException : Exception
{
    public BulkMessageException(string message) : base(message) { }

    public BulkMessageException() { }

    public BulkMessageException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>camelCase JSON for bulk messages, chunk descriptions and job status.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BulkMessage))]
[JsonSerializable(typeof(BulkChunk))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(long[]))]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(BulkJobStatus))]
[JsonSerializable(typeof(BulkSubmission))]
[JsonSerializable(typeof(BulkRetry))]
[JsonSerializable(typeof(BulkRevocationProgress))]
[JsonSerializable(typeof(BulkRevocationAccepted))]
public sealed partial class BulkJsonContext : JsonSerializerContext;

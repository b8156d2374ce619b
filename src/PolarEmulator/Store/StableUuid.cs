using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PolarEmulator.Store;

/// <summary>UUID v4s derived from stable facts (SHA-256, version and variant bits set), so ids survive a restart without being stored.</summary>
internal static class StableUuid
{
    /// <summary>The id derived from another id and a number: the n-th event of an organization, an order's line item.</summary>
    public static Guid From(Guid id, int n)
    {
        Span<byte> input = stackalloc byte[20];
        id.TryWriteBytes(input[..16], bigEndian: true, out _);
        BinaryPrimitives.WriteInt32BigEndian(input[16..], n);
        return FromHash(input);
    }

    /// <summary>The first 16 bytes of the SHA-256 of <paramref name="input"/>, made a UUID version 4.</summary>
    public static Guid FromHash(ReadOnlySpan<byte> input)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x40);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}

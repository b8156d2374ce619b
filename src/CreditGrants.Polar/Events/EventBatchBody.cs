using System.Text.Json;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Events;

/// <summary>Builds ingest bodies from events serialized one by one, so batches can be cut by their exact size.</summary>
internal static class EventBatchBody
{
    private static readonly byte[] Prefix = "{\"events\":["u8.ToArray();
    private static readonly byte[] Suffix = "]}"u8.ToArray();

    /// <summary>The bytes a body adds around its events: the envelope and one comma between each two.</summary>
    public static int Overhead(int eventCount) => Prefix.Length + Suffix.Length + Math.Max(0, eventCount - 1);

    public static byte[] Serialize(PolarEvent polarEvent) =>
        JsonSerializer.SerializeToUtf8Bytes(polarEvent, PolarJsonContext.Default.PolarEvent);

    public static byte[] Build(IEnumerable<byte[]> events)
    {
        var list = events as IReadOnlyCollection<byte[]> ?? events.ToList();
        var body = new byte[list.Sum(e => e.Length) + Overhead(list.Count)];
        var position = 0;
        Prefix.CopyTo(body, position);
        position += Prefix.Length;
        var first = true;
        foreach (var item in list)
        {
            if (!first)
            {
                body[position++] = (byte)',';
            }

            item.CopyTo(body, position);
            position += item.Length;
            first = false;
        }

        Suffix.CopyTo(body, position);
        return body;
    }
}

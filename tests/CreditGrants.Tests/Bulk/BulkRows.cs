using CreditGrants.Bulk;
using CreditGrants.Grants;

namespace CreditGrants.Tests.Bulk;

/// <summary>Reads a small bulk file's rows as the queue function does: planned, then its one chunk read with a validator.</summary>
internal static class BulkRows
{
    public static async Task<List<BulkRow>> ReadAsync(string csv, GrantValidator validator)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(csv);
        var plan = await BulkGrantFile.PlanAsync(new MemoryStream(bytes), 100);
        var chunk = plan.Chunks[0];
        var reading = new BulkReading(plan.Format, plan.Columns, BulkGrantIds.ForBatch("b"), new BulkDefaults());
        var rows = new List<BulkRow>();
        await foreach (var row in BulkGrantFile.ReadChunkAsync(new MemoryStream(bytes[(int)chunk.StartByte..(int)chunk.EndByte]), reading, chunk, validator, "bulk"))
        {
            rows.Add(row);
        }

        return rows;
    }
}

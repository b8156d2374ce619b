using CreditGrants.Bulk;
using CreditGrants.Grants;

namespace CreditGrants.Bench;

/// <summary>Plans a file and reads its chunks back from their byte ranges, exactly as <see cref="BulkRunner.RunFileAsync"/> does.</summary>
public static class FileChunks
{
    public static async Task<BulkFilePlan> PlanAsync(string path, int chunkRows)
    {
        var file = File.OpenRead(path);
        await using (file.ConfigureAwait(false))
        {
            return await BulkGrantFile.PlanAsync(file, chunkRows).ConfigureAwait(false);
        }
    }

    public static async IAsyncEnumerable<List<BulkRow>> ReadAsync(string path, BulkFilePlan plan, GrantValidator validator)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var source = $"bulk:{plan.ContentHash[..12]}";
        var reading = new BulkReading(plan.Format, plan.Columns, BulkGrantIds.ForBatch(Path.GetFileNameWithoutExtension(path)), new BulkDefaults());
        foreach (var chunk in plan.Chunks)
        {
            var rows = new List<BulkRow>(chunk.Rows);
            var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                input.Seek(chunk.StartByte, SeekOrigin.Begin);
                var slice = new SliceStream(input, chunk.EndByte - chunk.StartByte);
                await foreach (var row in BulkGrantFile.ReadChunkAsync(slice, reading, chunk, validator, source)
                                   .ConfigureAwait(false))
                {
                    rows.Add(row);
                }
            }

            yield return rows;
        }
    }
}

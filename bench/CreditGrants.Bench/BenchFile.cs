using System.Globalization;
using System.Text;

namespace CreditGrants.Bench;

/// <summary>The shapes of generated bulk files: by external id alone, or with the email (and a reason) that lets a missing customer be created.</summary>
public enum BenchFileShape
{
    /// <summary><c>external_customer_id,units</c>: rows go straight to ingest by external id.</summary>
    Ids,

    /// <summary><c>external_customer_id,units,email,reason</c>: one customer read (and a create if missing) per distinct customer.</summary>
    Emails,
}

/// <summary>Writes bulk grant files of customers <c>{prefix}-{n}</c> (emails <c>{prefix}-{n}@bench.dev</c>), one row per customer.</summary>
public static class BenchFile
{
    public static async Task WriteAsync(Stream destination, long rows, BenchFileShape shape, string prefix = "user", long first = 1, int variant = 0)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var writer = new StreamWriter(destination, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteLineAsync(shape == BenchFileShape.Ids ? "external_customer_id,units" : "external_customer_id,units,email,reason")
                .ConfigureAwait(false);
            var line = new StringBuilder(96);
            for (long i = 0; i < rows; i++)
            {
                var n = first + i;
                // The variant shifts the units, so files of the same customers differ in content hash and so in grant ids.
                var units = ((i + variant) % 100) + 1;
                line.Clear().Append(CultureInfo.InvariantCulture, $"{prefix}-{n},{units}");
                if (shape == BenchFileShape.Emails)
                {
                    line.Append(CultureInfo.InvariantCulture, $",{prefix}-{n}@bench.dev,Benchmark grant");
                }

                await writer.WriteLineAsync(line).ConfigureAwait(false);
            }
        }
    }

    public static async Task WriteAsync(string path, long rows, BenchFileShape shape, string prefix = "user", long first = 1, int variant = 0)
    {
        var file = File.Create(path);
        await using (file.ConfigureAwait(false))
        {
            await WriteAsync(file, rows, shape, prefix, first, variant).ConfigureAwait(false);
        }
    }
}

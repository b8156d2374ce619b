using CsvHelper;

namespace CreditGrants.Cli.Tests;

/// <summary>Reads a results file the way a spreadsheet would: by the names of its header row.</summary>
internal static class Csv
{
    /// <summary>Each row as a map from column name to cell.</summary>
    public static List<IReadOnlyDictionary<string, string>> Rows(string text)
    {
        using var reader = CsvReader.FromText(text, CsvReaderOptions.Default with { Separator = ',', HasHeader = true });
        reader.ReadHeader();
        var header = reader.Headers.ToList();
        var rows = new List<IReadOnlyDictionary<string, string>>();
        while (reader.Read())
        {
            rows.Add(header.Select((name, i) => (name, value: reader.GetString(i))).ToDictionary(p => p.name, p => p.value, StringComparer.Ordinal));
        }

        return rows;
    }
}

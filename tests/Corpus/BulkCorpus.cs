using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Testing;

/// <summary>
/// The corpus of malformed (and tricky but valid) bulk files under <c>tests/Corpus/bulk</c>, each with its expected outcome in
/// <c>cases.json</c>: the exit code of <c>credits bulk run</c> (2 = the file is refused, 5 = some rows rejected, 0 = all
/// granted), the error for a refused file, each row's status and reason, and the balance each customer must end with
/// (null: the customer must not exist, so nothing was granted or created for it).
/// </summary>
internal static class BulkCorpus
{
    /// <summary>The folder the project file copies the corpus to.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Corpus", "bulk");

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyList<BulkCase> Cases { get; } =
        JsonSerializer.Deserialize<List<BulkCase>>(File.ReadAllText(Path.Combine(Folder, "cases.json")), Json)!;

    /// <summary>The case names, for xunit's MemberData.</summary>
    public static TheoryData<string> Names()
    {
        var names = new TheoryData<string>();
        foreach (var c in Cases)
        {
            names.Add(c.File);
        }

        return names;
    }

    public static BulkCase Case(string file) => Cases.Single(c => c.File == file);
}

/// <summary>One corpus file and what must come of it.</summary>
internal sealed record BulkCase(string File, int Exit, string? Error, IReadOnlyList<BulkCaseRow>? Rows, Dictionary<string, decimal?>? Balances, string? Note)
{
    public string Path => System.IO.Path.Combine(BulkCorpus.Folder, File);

    /// <summary>Checks a results file's rows (as maps of column to cell) against the expected ones, in order.</summary>
    public void AssertRows(IReadOnlyList<IReadOnlyDictionary<string, string>> results)
    {
        var expected = Rows ?? [];
        Assert.True(expected.Count == results.Count,
            $"{File}: expected {expected.Count} result rows, got {results.Count}: {string.Join(" | ", results.Select(r => r["status"] + " " + r["reason"]))}");
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Status == results[i]["status"], $"{File}, row {i + 1}: expected {expected[i].Status}, got {results[i]["status"]} ({results[i]["reason"]})");
            if (expected[i].Reason is { } reason)
            {
                Assert.Contains(reason, results[i]["reason"], StringComparison.Ordinal);
            }

            if (expected[i].Line is { } line)
            {
                Assert.Equal(line.ToString(System.Globalization.CultureInfo.InvariantCulture), results[i]["line"]);
            }
        }
    }
}

/// <summary>A row's expected status (<c>granted</c>, <c>rejected</c>, …), and a part of its reason and its line when they matter.</summary>
internal sealed record BulkCaseRow(string Status, string? Reason, [property: JsonPropertyName("line")] long? Line);

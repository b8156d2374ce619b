using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Grants;

namespace CreditGrants.Tests.Bulk;

public sealed class BulkGrantFileTests
{
    private static readonly GrantValidator Validator = new(new GrantOptions());

    private static MemoryStream Csv(string text, bool bom = false) =>
        new((bom ? Encoding.UTF8.GetPreamble() : []).Concat(Encoding.UTF8.GetBytes(text)).ToArray());

    private static Task<BulkFilePlan> PlanAsync(string text, int chunkRows = 1000, bool bom = false) =>
        BulkGrantFile.PlanAsync(Csv(text, bom), chunkRows);

    private static Task<List<BulkRow>> RowsAsync(string text, int chunkRows = 1000, BulkDefaults? defaults = null, bool bom = false, string batch = "test") =>
        RowsAsync(Csv(text, bom).ToArray(), chunkRows, defaults, batch);

    /// <summary>Plans the bytes, then reads every chunk from its own byte range, as the queue function does.</summary>
    internal static async Task<List<BulkRow>> RowsAsync(byte[] bytes, int chunkRows = 1000, BulkDefaults? defaults = null, string batch = "test")
    {
        defaults ??= new BulkDefaults();
        var plan = await BulkGrantFile.PlanAsync(new MemoryStream(bytes), chunkRows, defaults);
        var reading = new BulkReading(plan.Format, plan.Columns, BulkGrantIds.ForBatch(batch), defaults);
        var rows = new List<BulkRow>();
        foreach (var chunk in plan.Chunks)
        {
            var slice = new MemoryStream(bytes, (int)chunk.StartByte, (int)(chunk.EndByte - chunk.StartByte));
            await foreach (var row in BulkGrantFile.ReadChunkAsync(slice, reading, chunk, Validator, "test"))
            {
                rows.Add(row);
            }
        }

        return rows;
    }

    [Fact]
    public async Task Columns_are_found_by_name_in_any_order_and_case()
    {
        var rows = await RowsAsync("Units,EMAIL,External_Customer_Id\n5,ada@lovelace.dev,user-1\n");

        var grant = Assert.Single(rows).Grant!;
        Assert.Equal(5m, grant.Units);
        Assert.Equal("user-1", grant.Customer.ExternalId);
        Assert.Equal("ada@lovelace.dev", grant.Customer.Email);
    }

    [Fact]
    public async Task An_unknown_column_is_an_error_naming_it()
    {
        var error = await Assert.ThrowsAsync<BulkFileException>(() => PlanAsync("external_customer_id,units,credits\nu,1,2\n"));

        Assert.Contains("'credits'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Accepted columns", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_required_column_is_an_error()
    {
        var error = await Assert.ThrowsAsync<BulkFileException>(() => PlanAsync("external_customer_id,email\nu,a@b.dev\n"));

        Assert.Contains("'units' column is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_duplicated_column_is_an_error()
    {
        var error = await Assert.ThrowsAsync<BulkFileException>(() => PlanAsync("external_customer_id,units,Units\nu,1,2\n"));

        Assert.Contains("'units' appears twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_file_is_an_error()
    {
        await Assert.ThrowsAsync<BulkFileException>(() => PlanAsync(""));
    }

    [Fact]
    public async Task Quoted_fields_with_separators_and_doubled_quotes_are_read_per_rfc_4180()
    {
        var rows = await RowsAsync("external_customer_id,units,reason\r\nu1,1,\"Spring, \"\"promo\"\"\"\r\nu2,2,plain\r\n");

        Assert.Equal(2, rows.Count);
        Assert.Equal("Spring, \"promo\"", rows[0].Grant!.Reason);
        Assert.Equal((2, 3), (rows[0].Line, rows[1].Line));
    }

    [Fact]
    public async Task A_quoted_cell_may_not_span_lines_and_never_swallows_the_next_rows()
    {
        var rows = await RowsAsync("external_customer_id,units,reason\nu1,1,\"Spring\nline two\"\nu2,2,plain\n");

        Assert.Equal([2L, 3, 4], rows.Select(r => r.Line));
        Assert.StartsWith("line 2 opens a quoted cell that is not closed on this line", rows[0].Rejection, StringComparison.Ordinal);
        Assert.False(rows[1].IsValid);
        Assert.Equal("u2", rows[2].Grant!.Customer.ExternalId);
    }

    [Fact]
    public async Task A_byte_order_mark_is_accepted()
    {
        var rows = await RowsAsync("external_customer_id,units\nu1,3\n", bom: true);

        Assert.Equal(3m, Assert.Single(rows).Grant!.Units);
    }

    [Fact]
    public async Task Chunks_cover_every_row_once_in_order()
    {
        var text = "external_customer_id,units\n" + string.Concat(Enumerable.Range(1, 25).Select(i => $"user-{i},{i}\n"));

        var plan = await PlanAsync(text, chunkRows: 10);
        var rows = await RowsAsync(text, chunkRows: 10);

        Assert.Equal([10, 10, 5], plan.Chunks.Select(c => c.Rows).ToArray());
        Assert.Equal(25, plan.Rows);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => $"user-{i}"), rows.Select(r => r.Grant!.Customer.ExternalId));
        Assert.Equal(Enumerable.Range(2, 25).Select(i => (long)i), rows.Select(r => r.Line));
    }

    [Fact]
    public async Task A_bad_row_is_rejected_with_line_column_value_and_reason_and_others_go_on()
    {
        var rows = await RowsAsync("external_customer_id,units,email\nu1,5,\nu2,-5,\nu3,7,not-an-email\nu4,1,\n");

        Assert.Equal([true, false, false, true], rows.Select(r => r.IsValid).ToArray());
        Assert.Equal("line 3, column units, value '-5': must be a number greater than 0; to take credits back, grant a compensating usage event",
            rows[1].Rejection);
        Assert.StartsWith("line 4, column email, value 'not-an-email'", rows[2].Rejection, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_without_grant_id_get_ids_from_batch_and_their_own_content_not_their_line()
    {
        const string Text = "external_customer_id,units\nu1,5\nu2,6\n";

        var first = await RowsAsync(Text);
        var again = await RowsAsync(Text);
        var withRowAbove = await RowsAsync("external_customer_id,units\nu0,1\nu1,5\nu2,6\n");
        var otherBatch = await RowsAsync(Text, batch: "next-month");

        Assert.Equal(first.Select(r => r.Grant!.GrantId), again.Select(r => r.Grant!.GrantId));
        Assert.NotEqual(first[0].Grant!.GrantId, first[1].Grant!.GrantId);
        Assert.Equal(first.Select(r => r.Grant!.GrantId), withRowAbove.Skip(1).Select(r => r.Grant!.GrantId));
        Assert.DoesNotContain(otherBatch[0].Grant!.GrantId, first.Select(r => r.Grant!.GrantId));
    }

    [Fact]
    public async Task Identical_rows_are_separate_grants_even_across_chunks()
    {
        var rows = await RowsAsync("external_customer_id,units\nu1,5\nu2,1\nu1,5\nu1,5.0\n", chunkRows: 2);

        Assert.Equal(4, rows.Select(r => r.Grant!.GrantId).Distinct().Count());
    }

    [Fact]
    public async Task Email_name_and_reason_are_not_part_of_a_derived_id()
    {
        var before = await RowsAsync("external_customer_id,units,email,reason\nu1,5,ada@lovelace,x\n");
        var fixedEmail = await RowsAsync("external_customer_id,units,email,reason\nu1,5,ada@lovelace.dev,y\n");

        Assert.False(before[0].IsValid);
        Assert.Equal(RowsKey(before[0]), fixedEmail[0].Grant!.GrantId.Value);
    }

    /// <summary>The derived id of a rejected row, recomputed as the reader does, to compare with the row once fixed.</summary>
    private static string RowsKey(BulkRow row) =>
        BulkGrantIds.ForBatch("test").Derive(new BulkGrantFile.RowKey("x:" + row.ExternalCustomerId, row.Units!, ""), row.Line, 0).Value;

    [Fact]
    public async Task A_grant_id_repeated_in_the_file_rejects_the_second_row_even_across_chunks()
    {
        var rows = await RowsAsync("external_customer_id,units,grant_id\nu1,5,g-1\nu2,6,g-2\nu3,7,g-1\n", chunkRows: 2);

        Assert.True(rows[0].IsValid);
        Assert.True(rows[1].IsValid);
        Assert.False(rows[2].IsValid);
        Assert.Contains("line 4, column grant_id, value 'g-1'", rows[2].Rejection, StringComparison.Ordinal);
    }

    [Fact]
    public async Task File_defaults_apply_to_rows_that_leave_meter_and_reason_empty()
    {
        var rows = await RowsAsync("external_customer_id,units,reason\nu1,5,\nu2,6,own\n", defaults: new BulkDefaults("Storage", "Spring promo"));

        Assert.Equal(("Storage", "Spring promo"), (rows[0].Grant!.Meter, rows[0].Grant!.Reason));
        Assert.Equal("own", rows[1].Grant!.Reason);
    }

    [Fact]
    public async Task Checking_the_header_applies_the_plans_rules()
    {
        var columns = await BulkGrantFile.CheckHeaderAsync(Csv("units,external_customer_id\nu1,5\n"));
        var error = await Assert.ThrowsAsync<BulkFileException>(() => BulkGrantFile.CheckHeaderAsync(Csv("customer,units\nu1,5\n")));

        Assert.Equal((0, 1), (columns.Units, columns.ExternalCustomerId));
        Assert.Contains("'customer'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_that_never_ends_is_refused_without_reading_the_whole_file()
    {
        var file = new MemoryStream(Encoding.UTF8.GetBytes("\"external_customer_id,units\n" + new string('x', 4 * 1024 * 1024)));
        using var unbuffered = new BufferedStream(file, 4096);

        await Assert.ThrowsAsync<BulkFileException>(() => BulkGrantFile.CheckHeaderAsync(unbuffered));

        Assert.True(file.Position < 1024 * 1024, $"read {file.Position} bytes");
    }

    [Fact]
    public async Task The_content_hash_changes_with_any_byte()
    {
        var a = await PlanAsync("external_customer_id,units\nu1,5\n");
        var b = await PlanAsync("external_customer_id,units\nu1,6\n");

        Assert.NotEqual(a.ContentHash, b.ContentHash);
        Assert.Equal(a.ContentHash, (await PlanAsync("external_customer_id,units\nu1,5\n")).ContentHash);
    }
}

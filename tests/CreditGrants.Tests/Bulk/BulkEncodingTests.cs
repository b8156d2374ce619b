using System.Text;
using CreditGrants.Bulk;

namespace CreditGrants.Tests.Bulk;

/// <summary>The encodings a bulk file may come in, checked in every pass, whatever sizes the stream hands its bytes over in.</summary>
public sealed class BulkEncodingTests
{
    /// <summary>Hands over one byte per read, so that every multi-byte character is cut between two reads.</summary>
    private sealed class TrickleStream(byte[] bytes) : ForwardOnlyReadStream
    {
        private int _position;

        public override int Read(Span<byte> buffer)
        {
            if (_position == bytes.Length || buffer.IsEmpty)
            {
                return 0;
            }

            buffer[0] = bytes[_position++];
            return 1;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
    }

    [Fact]
    public async Task Utf8_cut_between_reads_at_every_byte_is_read_whole()
    {
        var bytes = Encoding.UTF8.GetBytes("external_customer_id,name,units\nj\u00f6rg,J\u00f6rg \u20ac \U0001F600,5\n");

        var plan = await BulkGrantFile.PlanAsync(new TrickleStream(bytes), 1000);

        Assert.Equal(1, plan.Rows);
    }

    [Theory]
    [InlineData(new byte[] { 0xE9, (byte)',' }, 3)]
    [InlineData(new byte[] { 0xC3, (byte)'\n' }, 3)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98 }, 3)]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, 3)]
    [InlineData(new byte[] { 0xC0, 0xAF }, 3)]
    public async Task Bytes_that_are_not_utf8_are_refused_at_their_line_however_the_reads_fall(byte[] bad, int line)
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes("external_customer_id,units\nu1,5\nu"), .. bad, .. Encoding.UTF8.GetBytes(",6\n")];

        foreach (var stream in new Stream[] { new MemoryStream(bytes), new TrickleStream(bytes) })
        {
            var error = await Assert.ThrowsAsync<BulkFileException>(() => BulkGrantFile.PlanAsync(stream, 1000));
            Assert.StartsWith($"Line {line} is not valid UTF-8", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_utf16_file_is_transcoded_with_its_line_breaks_kept()
    {
        var text = "external_customer_id,units\r\nren\u00e9e,5\r\n";
        var output = new MemoryStream();

        await BulkFileEncoding.TranscodeToUtf8Async(new MemoryStream([.. Encoding.BigEndianUnicode.GetPreamble(), .. Encoding.BigEndianUnicode.GetBytes(text)]),
            BulkFileEncoding.Of([0xFE, 0xFF])!, output);

        Assert.Equal(Encoding.UTF8.GetBytes(text), output.ToArray());
    }

    [Fact]
    public async Task Planning_a_utf16_file_without_transcoding_it_is_refused_rather_than_misread()
    {
        var bytes = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("external_customer_id,units\nu1,5\n")).ToArray();

        var error = await Assert.ThrowsAsync<BulkFileException>(() => BulkGrantFile.PlanAsync(new MemoryStream(bytes), 1000));

        Assert.Contains("convert it to UTF-8", error.Message, StringComparison.Ordinal);
    }
}

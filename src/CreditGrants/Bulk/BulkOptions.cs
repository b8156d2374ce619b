using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Bulk;

/// <summary>Bulk grant settings; bound from the <c>Bulk</c> configuration section.</summary>
public sealed class BulkOptions
{
    public const string SectionName = "Bulk";

    /// <summary>The storage queue of bulk work (split and chunk messages); its poison queue is <c>&lt;name&gt;-poison</c>.</summary>
    [Required]
    public string QueueName { get; set; } = "grant-work";

    /// <summary>The blob container uploaded files are kept in.</summary>
    [Required]
    public string UploadsContainer { get; set; } = "bulk-uploads";

    /// <summary>The blob container results files are written to.</summary>
    [Required]
    public string ResultsContainer { get; set; } = "bulk-results";

    /// <summary>The table of job progress.</summary>
    [Required]
    public string JobsTable { get; set; } = "jobs";

    /// <summary>Rows per chunk: one queue message, one ingest request for existing customers. At most 2,500, so that a
    /// chunk message (with the lines of repeated grant ids) always fits a 64 KiB queue message.</summary>
    [Range(1, 2500)]
    public int ChunkRows { get; set; } = 1000;

    /// <summary>The largest file <c>POST /api/bulk-grants</c> accepts, in bytes.</summary>
    [Range(1, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 100L * 1024 * 1024;
}

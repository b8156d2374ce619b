using System.Security.Cryptography;
using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>A submission that stopped halfway is finished by the next upload of the same file, and only then.</summary>
public sealed class BulkSubmissionTests : IAsyncLifetime
{
    private const string File = "external_customer_id,units\nuser-1,5\n";
    private BulkApp _app = null!;

    public async Task InitializeAsync() => _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 2 });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    /// <summary>The job row an upload writes first, as if the upload had stopped right after it, <paramref name="age"/> ago.</summary>
    private async Task<string> StoppedSubmissionAsync(TimeSpan age)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(File)));
        var jobId = BulkJobId.Derive(hash, new BulkDefaults(), BulkApp.DefaultBatch);
        Assert.True(await _app.Store.TryAddJobAsync(new JobEntity
        {
            PartitionKey = jobId,
            ContentHash = hash,
            FileBytes = Encoding.UTF8.GetByteCount(File),
            UploadBlob = BulkStore.UploadBlobName(jobId),
            SubmittedAt = DateTimeOffset.UtcNow - age,
        }, CancellationToken.None));
        return jobId;
    }

    [Fact]
    public async Task An_upload_that_stopped_before_enqueueing_is_finished_by_the_next_upload_of_the_file()
    {
        var jobId = await StoppedSubmissionAsync(BulkJobs.StalledSubmission + TimeSpan.FromMinutes(1));

        var submission = await _app.SubmitAsync(File);
        await _app.DrainAsync();

        Assert.Equal(jobId, submission.JobId);
        Assert.True(submission.Created);
        Assert.Equal(BulkJobState.Completed, (await _app.StatusAsync(jobId)).Status);
        Assert.Equal(5m, await _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task An_upload_of_a_file_another_upload_is_storing_right_now_starts_nothing()
    {
        var jobId = await StoppedSubmissionAsync(TimeSpan.FromSeconds(5));

        var submission = await _app.SubmitAsync(File);

        Assert.Equal(jobId, submission.JobId);
        Assert.False(submission.Created);
        Assert.Empty(await _app.ReceiveAsync());
    }
}

using Azure;
using Azure.Storage.Blobs;
using CreditGrants.Rules;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Rules;

/// <summary>
/// The rule documents of the <c>Rules:Container</c> blob container, one <c>&lt;id&gt;.json</c> each (what
/// <c>credits rules upload</c> writes), validated on every read: an invalid document, or one whose id is not its blob's
/// name, is logged with its errors and skipped, and the other rules still grant.
/// </summary>
public sealed partial class BlobGrantRuleSource(Func<StorageAccount> account, IOptions<RuleOptions> options, RuleValidator validator,
    ILogger<BlobGrantRuleSource> logger) : IGrantRuleSource
{
    private readonly Lazy<BlobContainerClient> _container = new(() => account().Blobs.GetBlobContainerClient(options.Value.Container));

    public BlobContainerClient Container => _container.Value;

    /// <summary>The blob a rule's document is stored as.</summary>
    public static string BlobName(string ruleId) => ruleId + ".json";

    public async Task<IReadOnlyList<GrantRule>> ListAsync(CancellationToken cancellationToken)
    {
        var rules = new List<GrantRule>();
        try
        {
            await foreach (var blob in Container.GetBlobsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (!blob.Name.EndsWith(".json", StringComparison.Ordinal))
                {
                    continue;
                }

                var content = await Container.GetBlobClient(blob.Name).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
                var validation = validator.Validate(content.Value.Content.ToString());
                if (!validation.IsValid || BlobName(validation.Rule!.Id) != blob.Name)
                {
                    LogInvalid(blob.Name, validation.IsValid
                        ? $"the document's id '{validation.Rule!.Id}' is not its blob's name; store it as {BlobName(validation.Rule.Id)}"
                        : string.Join("; ", validation.Errors));
                    continue;
                }

                rules.Add(validation.Rule);
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No container yet: no rule was ever uploaded.
        }

        return rules;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Rule document {Blob} is invalid and grants nothing: {Error}")]
    private partial void LogInvalid(string blob, string error);
}

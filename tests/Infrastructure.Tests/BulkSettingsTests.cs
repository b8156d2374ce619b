using System.Globalization;
using CreditGrants.Bulk;

namespace Infrastructure.Tests;

/// <summary>The bulk settings Bicep deploys are the code's defaults, so Azure behaves as the tests and the README say.</summary>
[Collection(SharedBicepRun.Name)]
public sealed class BulkSettingsTests(InfrastructureFixture infra)
{
    public static TheoryData<string> ParameterFiles => new(Repository.ParameterFiles);

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Bulk_app_settings_are_the_bulk_options_defaults(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var defaults = new BulkOptions();

        Assert.Equal(defaults.ChunkRows.ToString(CultureInfo.InvariantCulture), settings["Bulk__ChunkRows"]);
        Assert.Equal(defaults.MaxFileBytes.ToString(CultureInfo.InvariantCulture), settings["Bulk__MaxFileBytes"]);
        Assert.Equal(defaults.QueueName, settings["Bulk__QueueName"]);
        Assert.Equal(defaults.UploadsContainer, settings["Bulk__UploadsContainer"]);
        Assert.Equal(defaults.ResultsContainer, settings["Bulk__ResultsContainer"]);
        Assert.Equal(defaults.JobsTable, settings["Bulk__JobsTable"]);
    }
}

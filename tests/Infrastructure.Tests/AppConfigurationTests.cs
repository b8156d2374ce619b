using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;

namespace Infrastructure.Tests;

/// <summary>How configuration keys are found, shown on small examples in this assembly.</summary>
public sealed class AppConfigurationTests
{
    [Fact]
    public void Settable_properties_of_an_options_class_are_section_keys()
    {
        var keys = Keys();
        Assert.Contains("Sample__Name", keys);
        Assert.Contains("Sample__Limit", keys);
        Assert.Contains("Sample__Window", keys);
    }

    [Fact]
    public void Computed_and_collection_properties_are_not_keys()
    {
        var keys = Keys();
        Assert.DoesNotContain("Sample__Computed", keys);
        Assert.DoesNotContain("Sample__Tags", keys);
    }

    [Fact]
    public void Nested_options_objects_give_nested_keys()
    {
        var keys = Keys();
        Assert.Contains("Sample__Retry__Attempts", keys);
        Assert.DoesNotContain("Sample__Retry", keys);
    }

    [Fact]
    public void Configuration_key_name_attribute_renames_the_key() =>
        Assert.Contains("Sample__renamed_key", Keys());

    [Fact]
    public void Types_without_a_section_name_are_not_options() =>
        Assert.DoesNotContain(Keys(), k => k.StartsWith("NotOptions", StringComparison.Ordinal));

    [Fact]
    public void Placeholders_in_trigger_attributes_are_setting_names()
    {
        var names = AppConfiguration.Placeholders(typeof(AppConfigurationTests).Assembly).Select(p => p.Name).ToArray();
        Assert.Contains("SampleSchedule", names);
        Assert.Contains("SampleQueue", names);
    }

    [Fact]
    public void Placeholder_configuration_paths_become_app_setting_names() =>
        Assert.Contains("Sample__Queue", AppConfiguration.Placeholders(typeof(AppConfigurationTests).Assembly).Select(p => p.Name));

    [Fact]
    public void Bindings_without_a_connection_use_azure_web_jobs_storage()
    {
        var connections = AppConfiguration.Connections(typeof(AppConfigurationTests).Assembly).Select(c => c.Name).ToArray();
        Assert.Contains("OtherStorage", connections);
        Assert.Contains(AppConfiguration.DefaultConnection, connections);
    }

    private static string[] Keys() =>
        AppConfiguration.OptionsKeys([typeof(AppConfigurationTests).Assembly]).Select(k => k.Key).ToArray();
}

#pragma warning disable CA1822 // Shapes for reflection only.
internal sealed class SampleOptions
{
    public const string SectionName = "Sample";

    public string Name { get; set; } = "";

    public int? Limit { get; set; }

    public TimeSpan Window { get; init; }

    public string Computed => Name + "!";

    public List<string> Tags { get; set; } = [];

    public SampleRetry Retry { get; set; } = new();

    [ConfigurationKeyName("renamed_key")]
    public string Renamed { get; set; } = "";
}

internal sealed class SampleRetry
{
    public int Attempts { get; set; }
}

internal sealed class NotOptions
{
    public string Value { get; set; } = "";
}

internal sealed class SampleFunctions
{
    [Function("Timer")]
    public void Timer([TimerTrigger("%SampleSchedule%")] TimerInfo timer)
    {
    }

    [Function("Queue")]
    public void Queue([QueueTrigger("%SampleQueue%")] string message)
    {
    }

    [Function("Nested")]
    public void Nested([QueueTrigger("%Sample:Queue%")] string message)
    {
    }

    [Function("Other")]
    public void Other([QueueTrigger("fixed-name", Connection = "OtherStorage")] string message)
    {
    }
}
#pragma warning restore CA1822

namespace Infrastructure.Tests;

/// <summary>The function app's settings hold every key the app's code reads, under the names it reads them by.</summary>
[Collection(SharedBicepRun.Name)]
public sealed class AppSettingsTests(InfrastructureFixture infra)
{
    public static TheoryData<string> ParameterFiles => new(Repository.ParameterFiles);

    [Fact]
    public void Options_discovery_finds_the_polar_options_and_skips_computed_properties()
    {
        var keys = AppConfiguration.OptionsKeys().Select(k => k.Key).ToArray();
        Assert.Contains("Polar__AccessToken", keys);
        Assert.Contains("Polar__RequestsPerMinute", keys);
        Assert.DoesNotContain("Polar__BaseAddress", keys);
        Assert.DoesNotContain("Polar__EffectiveRequestsPerMinute", keys);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_options_property_has_an_app_setting(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var missing = AppConfiguration.OptionsKeys().Where(k => !settings.ContainsKey(k.Key)).ToArray();
        Assert.True(missing.Length == 0, $"{file}: no app setting for {string.Join(", ", missing)}. Add them to appSettings in infra/main.bicep.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_app_setting_of_an_options_section_is_a_property_of_its_class(string file)
    {
        // Catches a renamed or removed option whose old name Bicep still sets.
        var keys = AppConfiguration.OptionsKeys().Select(k => k.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var sections = keys.Select(k => k[..(k.IndexOf("__", StringComparison.Ordinal) + 2)]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var lists = AppConfiguration.CollectionKeys().Select(k => k.Key + "__").ToArray();
        var stale = infra.Snapshot(file).AppSettings.Keys
            .Where(s => sections.Any(p => s.StartsWith(p, StringComparison.OrdinalIgnoreCase)) && !keys.Contains(s))
            .Where(s => !lists.Any(l => s.StartsWith(l, StringComparison.OrdinalIgnoreCase) && s[l.Length..].All(char.IsAsciiDigit) && s.Length > l.Length))
            .ToArray();
        Assert.True(stale.Length == 0, $"{file}: app settings no options property reads: {string.Join(", ", stale)}.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_list_option_has_its_first_item_as_an_app_setting(string file)
    {
        // Polar:WebhookSecrets is read as Polar__WebhookSecrets__0, __1, …
        var settings = infra.Snapshot(file).AppSettings;
        var lists = AppConfiguration.CollectionKeys();
        Assert.Contains(lists, k => k.Key == "Polar__WebhookSecrets");
        var missing = lists.Where(k => !settings.ContainsKey(k.Key + "__0")).ToArray();
        Assert.True(missing.Length == 0, $"{file}: no app setting <key>__0 for the list options {string.Join(", ", missing)}. Add them to appSettings in infra/main.bicep.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void App_setting_names_use_double_underscores_where_configuration_uses_colons(string file)
    {
        // Linux app settings cannot contain ':'; the .NET configuration reads '__' as the separator.
        var invalid = infra.Snapshot(file).AppSettings.Keys.Where(k => !k.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')).ToArray();
        Assert.True(invalid.Length == 0, $"{file}: invalid app setting names {string.Join(", ", invalid)}.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_trigger_placeholder_has_an_app_setting(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var missing = AppConfiguration.Placeholders().Where(p => !settings.ContainsKey(p.Name)).ToArray();
        Assert.True(missing.Length == 0, $"{file}: no app setting for placeholder {string.Join(", ", missing)}.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_binding_connection_has_identity_based_settings(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var missing = AppConfiguration.Connections()
            .Where(c => !settings.ContainsKey($"{c.Name}__credential") || !settings.Keys.Any(k => k.StartsWith($"{c.Name}__", StringComparison.Ordinal) && k.EndsWith("ServiceUri", StringComparison.Ordinal)))
            .ToArray();
        Assert.True(missing.Length == 0, $"{file}: no identity-based connection settings (<name>__credential, <name>__<service>ServiceUri) for {string.Join(", ", missing)}.");
    }
}

using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Infrastructure.Tests;

/// <summary>
/// The configuration keys the app reads, found by reflection over its assemblies rather
/// than listed by hand, so that a new option or trigger shows up here on its own.
/// </summary>
public static partial class AppConfiguration
{
    /// <summary>Where options classes and functions live, one per layer.</summary>
    public static readonly string[] AssemblyNames = ["CreditGrants.Polar", "CreditGrants", "CreditGrants.Storage", "CreditFunctions"];

    /// <summary>The storage connection a binding uses when it names none.</summary>
    public const string DefaultConnection = "AzureWebJobsStorage";

    public static IReadOnlyList<Assembly> Assemblies { get; } =
        AssemblyNames.Select(n => Assembly.Load(new AssemblyName(n))).ToArray();

    /// <summary>
    /// Options classes: types with a <c>public const string SectionName</c>. Each settable
    /// public property is a key <c>Section__Property</c> (nested options objects recurse;
    /// collections are skipped, as their keys depend on the data).
    /// </summary>
    public static IReadOnlyList<OptionsKey> OptionsKeys() => OptionsKeys(Assemblies);

    public static IReadOnlyList<OptionsKey> OptionsKeys(IEnumerable<Assembly> assemblies) =>
        assemblies.SelectMany(LoadableTypes)
            .Select(t => (Type: t, Section: SectionName(t)))
            .Where(t => t.Section is not null)
            .SelectMany(t => Keys(t.Section!, t.Type, depth: 0).Select(k => new OptionsKey(k, t.Type)))
            .ToArray();

    /// <summary>
    /// List options: public collection properties of options classes (such as <c>Polar:WebhookSecrets</c>), whose keys are
    /// <c>Section__Property__0</c>, <c>__1</c>, … in app settings.
    /// </summary>
    public static IReadOnlyList<OptionsKey> CollectionKeys() =>
        Assemblies.SelectMany(LoadableTypes)
            .Select(t => (Type: t, Section: SectionName(t)))
            .Where(t => t.Section is not null)
            .SelectMany(t => t.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType) && p.GetIndexParameters().Length == 0)
                .Select(p => new OptionsKey($"{t.Section}__{ConfigurationKeyName(p) ?? p.Name}", t.Type)))
            .ToArray();

    /// <summary>
    /// Names in <c>%Name%</c> placeholders of Functions binding attributes in CreditFunctions,
    /// as app setting names (<c>%Bulk:QueueName%</c> reads the app setting <c>Bulk__QueueName</c>).
    /// </summary>
    public static IReadOnlyList<BindingUse> Placeholders() => Placeholders(FunctionsAssembly);

    public static IReadOnlyList<BindingUse> Placeholders(Assembly functions) =>
        BindingAttributes(functions)
            .SelectMany(b => StringProperties(b.Attribute)
                .SelectMany(v => PlaceholderPattern().Matches(v).Select(m => new BindingUse(SettingName(m.Groups[1].Value), b.Member, b.Attribute))))
            .ToArray();

    /// <summary>Connections named by Functions binding attributes in CreditFunctions (the default one where none is named).</summary>
    public static IReadOnlyList<BindingUse> Connections() => Connections(FunctionsAssembly);

    public static IReadOnlyList<BindingUse> Connections(Assembly functions) =>
        BindingAttributes(functions)
            .Where(b => b.Attribute.GetType().GetProperty("Connection") is { PropertyType: var t } && t == typeof(string))
            .Select(b => new BindingUse(
                b.Attribute.GetType().GetProperty("Connection")!.GetValue(b.Attribute) is string { Length: > 0 } name ? SettingName(name) : DefaultConnection,
                b.Member,
                b.Attribute))
            .ToArray();

    // Configuration paths use ':'; app settings on Linux spell it '__'.
    private static string SettingName(string configurationPath) => configurationPath.Replace(":", "__", StringComparison.Ordinal);

    private static string? SectionName(Type type) =>
        type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field
        && field.FieldType == typeof(string)
            ? (string?)field.GetRawConstantValue()
            : null;

    private static IEnumerable<string> Keys(string prefix, Type type, int depth)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.SetMethod is not { IsPublic: true })
            {
                continue;
            }

            var key = $"{prefix}__{ConfigurationKeyName(property) ?? property.Name}";
            var valueType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (IsScalar(valueType))
            {
                yield return key;
            }
            else if (!typeof(IEnumerable).IsAssignableFrom(valueType) && depth < 5)
            {
                foreach (var nested in Keys(key, valueType, depth + 1))
                {
                    yield return nested;
                }
            }
        }
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal)
        || type == typeof(TimeSpan) || type == typeof(DateTimeOffset) || type == typeof(DateTime)
        || type == typeof(Guid) || type == typeof(Uri);

    // The binder honours [ConfigurationKeyName("x")]; read it by name to need no reference to it.
    private static string? ConfigurationKeyName(PropertyInfo property) =>
        property.CustomAttributes
            .FirstOrDefault(a => a.AttributeType.FullName == "Microsoft.Extensions.Configuration.ConfigurationKeyNameAttribute")
            ?.ConstructorArguments.FirstOrDefault().Value as string;

    private static Assembly FunctionsAssembly => Assemblies.Single(a => a.GetName().Name == "CreditFunctions");

    private static IEnumerable<(Attribute Attribute, string Member)> BindingAttributes(Assembly functions)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in LoadableTypes(functions))
        {
            foreach (var method in type.GetMethods(all))
            {
                var name = $"{type.Name}.{method.Name}";
                var attributes = method.GetCustomAttributes(inherit: false)
                    .Concat(method.ReturnParameter.GetCustomAttributes(inherit: false))
                    .Concat(method.GetParameters().SelectMany(p => p.GetCustomAttributes(inherit: false)));
                foreach (var attribute in attributes.OfType<Attribute>().Where(IsFunctionsAttribute))
                {
                    yield return (attribute, name);
                }
            }

            // Output bindings on the properties of a multi-output return type.
            foreach (var property in type.GetProperties(all))
            {
                foreach (var attribute in property.GetCustomAttributes(inherit: false).OfType<Attribute>().Where(IsFunctionsAttribute))
                {
                    yield return (attribute, $"{type.Name}.{property.Name}");
                }
            }
        }
    }

    private static bool IsFunctionsAttribute(Attribute attribute) =>
        attribute.GetType().Namespace?.StartsWith("Microsoft.Azure.Functions.Worker", StringComparison.Ordinal) == true;

    private static IEnumerable<string> StringProperties(Attribute attribute) =>
        attribute.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(string) && p.GetIndexParameters().Length == 0)
            .Select(p => p.GetValue(attribute) as string)
            .OfType<string>();

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>();
        }
    }

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex PlaceholderPattern();
}

/// <summary>A configuration key an options class reads.</summary>
public sealed record OptionsKey(string Key, Type OptionsType)
{
    public override string ToString() => $"{Key} ({OptionsType.Name})";
}

/// <summary>A setting name a Functions binding uses, and where.</summary>
public sealed record BindingUse(string Name, string Member, Attribute Attribute)
{
    public override string ToString() => $"{Name} ({Attribute.GetType().Name} on {Member})";
}

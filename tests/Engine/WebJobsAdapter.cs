using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.Configuration;

namespace CreditGrants.Testing;

/// <summary>
/// What the trigger-engine tests need to host one adapter of an app function in the WebJobs SDK: the <c>%Setting%</c>
/// resolution the Functions host applies to a trigger attribute, a type locator that shows the host only the adapter, and an
/// activator that hands it the adapter instance. Linked into CreditFunctions.Tests (queue) and TimerEngine.Tests (timer).
/// </summary>
internal static class WebJobsAdapter
{
    /// <summary>Resolves <c>%Name%</c> placeholders as the host does: from the app's settings (<c>:</c> or <c>__</c>).</summary>
    /// <exception cref="InvalidOperationException">The app has no such setting.</exception>
    public static string Resolve(string value, IConfiguration settings) =>
        value is ['%', .. var name, '%']
            ? settings[name] ?? settings[name.Replace("__", ":", StringComparison.Ordinal)]
              ?? throw new InvalidOperationException($"The app has no setting '{name}' for '{value}'.")
            : value;

    /// <summary>Shows the host only the given types, so that it indexes the adapter and nothing else of the test assembly.</summary>
    public sealed class OnlyTypes(params Type[] types) : ITypeLocator
    {
        public IReadOnlyList<Type> GetTypes() => types;
    }

    /// <summary>Hands the host the one adapter instance for every invocation.</summary>
    public sealed class SingleInstance(object job) : IJobActivator
    {
        public T CreateInstance<T>() => (T)job;
    }
}

namespace PolarEmulator.Http;

/// <summary>Handles a matched route; <paramref name="values"/> holds the path parameters.</summary>
internal delegate Task RouteHandler(HttpContext context, IReadOnlyDictionary<string, string> values);

/// <summary>
/// One operation of Polar's API: method, path template (collections end with a slash), the scopes that allow it, and its
/// handler, or null for an operation Polar has and the emulator does not serve.
/// </summary>
internal sealed record PolarRoute(string Method, string Template, IReadOnlyList<string> Scopes, RouteHandler? Handler)
{
    public string[] Segments { get; } = Template.Split('/');
}

/// <summary>What routing made of a request.</summary>
internal abstract record RouteMatch
{
    public sealed record Found(PolarRoute Route, IReadOnlyDictionary<string, string> Values) : RouteMatch;

    public sealed record MethodNotAllowed : RouteMatch;

    /// <summary>The path exists with (or without) a trailing slash: Starlette answers 307 to it.</summary>
    public sealed record Redirect(string Path) : RouteMatch;

    public sealed record NotFound : RouteMatch;
}

/// <summary>
/// Matches paths the way Polar's Starlette router does: exact segments (a trailing slash matters), the most literal
/// template first, 405 for a known path with another method, and 307 to the slash-toggled path when only that exists.
/// </summary>
internal sealed class PolarRouter(IReadOnlyList<PolarRoute> routes)
{
    public IReadOnlyList<PolarRoute> Routes { get; } = routes;

    public RouteMatch Match(string method, string path)
    {
        var candidates = Candidates(path);
        if (candidates.Count > 0)
        {
            var found = candidates.FirstOrDefault(c => string.Equals(c.Route.Method, method, StringComparison.OrdinalIgnoreCase));
            return found is not null ? found : new RouteMatch.MethodNotAllowed();
        }

        var toggled = path.EndsWith('/') ? path.TrimEnd('/') : path + "/";
        return toggled.Length > 0 && Candidates(toggled).Count > 0 ? new RouteMatch.Redirect(toggled) : new RouteMatch.NotFound();
    }

    private List<RouteMatch.Found> Candidates(string path)
    {
        var segments = path.Split('/');
        var matches = new List<(RouteMatch.Found Match, int Literals, int Order)>();
        for (var order = 0; order < Routes.Count; order++)
        {
            var route = Routes[order];
            if (route.Segments.Length != segments.Length)
            {
                continue;
            }

            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            var literals = 0;
            var matched = true;
            for (var i = 0; i < segments.Length && matched; i++)
            {
                var template = route.Segments[i];
                if (template.StartsWith('{') && template.EndsWith('}'))
                {
                    matched = segments[i].Length > 0;
                    values[template[1..^1]] = segments[i];
                }
                else
                {
                    matched = string.Equals(template, segments[i], StringComparison.Ordinal);
                    literals++;
                }
            }

            if (matched)
            {
                matches.Add((new RouteMatch.Found(route, values), literals, order));
            }
        }

        return [.. matches.OrderByDescending(m => m.Literals).ThenBy(m => m.Order).Select(m => m.Match)];
    }
}

using System.Globalization;
using System.Text;

namespace Infrastructure.Tests;

/// <summary>
/// Evaluates the few ARM template expressions a snapshot leaves unevaluated, so that tests
/// compare settings with plain strings. <c>environment()</c> is Azure's public cloud;
/// <c>reference(id, …).p</c> becomes <c>reference(id).p</c> and <c>parameters('n')</c>
/// becomes <c>parameters(n)</c>, since only Azure knows those values. Anything else is
/// rejected, so a test never passes on an expression it did not understand.
/// </summary>
public static class ArmExpression
{
    private static readonly Dictionary<string, object> PublicCloud = new(StringComparer.Ordinal)
    {
        ["suffixes"] = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["storage"] = "core.windows.net",
            ["keyvaultDns"] = ".vault.azure.net",
        },
    };

    public static string Evaluate(string value)
    {
        if (!value.StartsWith('[') || value.StartsWith("[[", StringComparison.Ordinal))
        {
            return value.StartsWith("[[", StringComparison.Ordinal) ? value[1..] : value;
        }

        var parser = new Parser(value[1..^1]);
        var result = parser.Expression();
        parser.End();
        return result as string ?? throw new FormatException($"'{value}' is not a string.");
    }

    /// <summary>What <see cref="Evaluate"/> writes for a property of a resource only Azure can read.</summary>
    public static string Reference(string resourceId, string property) => $"reference({resourceId}).{property}";

    private sealed class Parser(string text)
    {
        private int position;

        public object Expression()
        {
            var value = Primary();
            while (Peek() == '.')
            {
                position++;
                var member = Identifier();
                value = value switch
                {
                    Dictionary<string, object> members when members.TryGetValue(member, out var next) => next,
                    ReferenceValue reference => Reference(reference.ResourceId, member),
                    _ => throw Error($"cannot read '{member}'"),
                };
            }

            return value;
        }

        public void End()
        {
            SkipSpaces();
            if (position != text.Length)
            {
                throw Error("unexpected text");
            }
        }

        private object Primary()
        {
            SkipSpaces();
            if (Peek() == '\'')
            {
                return StringLiteral();
            }

            var name = Identifier();
            var arguments = Arguments();
            return name switch
            {
                "format" => string.Format(CultureInfo.InvariantCulture, Text(arguments[0]), arguments.Skip(1).ToArray()),
                "concat" => string.Concat(arguments.Select(Text)),
                "environment" => PublicCloud,
                "reference" => new ReferenceValue(Text(arguments[0])),
                "parameters" => $"parameters({Text(arguments[0])})",
                _ => throw Error($"function '{name}' is not supported"),
            };
        }

        private List<object> Arguments()
        {
            Expect('(');
            var arguments = new List<object>();
            if (Peek() == ')')
            {
                position++;
                return arguments;
            }

            while (true)
            {
                arguments.Add(Expression());
                var next = Peek();
                position++;
                if (next == ')')
                {
                    return arguments;
                }

                if (next != ',')
                {
                    throw Error("expected ',' or ')'");
                }
            }
        }

        private string StringLiteral()
        {
            Expect('\'');
            var result = new StringBuilder();
            while (position < text.Length)
            {
                var c = text[position++];
                if (c != '\'')
                {
                    result.Append(c);
                }
                else if (position < text.Length && text[position] == '\'')
                {
                    result.Append('\'');
                    position++;
                }
                else
                {
                    return result.ToString();
                }
            }

            throw Error("unterminated string");
        }

        private string Identifier()
        {
            SkipSpaces();
            var start = position;
            while (position < text.Length && (char.IsLetterOrDigit(text[position]) || text[position] == '_'))
            {
                position++;
            }

            return position > start ? text[start..position] : throw Error("expected a name");
        }

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw Error($"expected '{c}'");
            }

            position++;
        }

        private char? Peek()
        {
            SkipSpaces();
            return position < text.Length ? text[position] : null;
        }

        private void SkipSpaces()
        {
            while (position < text.Length && text[position] == ' ')
            {
                position++;
            }
        }

        private string Text(object value) => value as string ?? throw Error("expected a string");

        private FormatException Error(string what) => new($"ARM expression '[{text}]' at {position}: {what}.");
    }

    private sealed record ReferenceValue(string ResourceId);
}

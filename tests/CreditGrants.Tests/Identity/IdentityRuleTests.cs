using CreditGrants.Grants;
using CreditGrants.Identity;

namespace CreditGrants.Tests.Identity;

/// <summary>
/// The one id rule (issue #18): lookalike ids (other normalization, invisible characters) never become grants to someone
/// else, every way in trims the same spaces, and whatever is echoed cannot drive a terminal.
/// </summary>
public sealed class IdentityRuleTests
{
    private const string Nfc = "jos\u00E9-u01";
    private const string Nfd = "jose\u0301-u01";

    private readonly GrantValidator _validator = new(new GrantOptions());

    private GrantValidation Validate(string? externalId = "user-1", string? grantId = "g-1", string? email = null, string? name = null,
        string? reason = null, string? meter = null) =>
        _validator.Validate(new GrantRequest(grantId, externalId, null, email, name, "10", meter, reason, "test"));

    public static TheoryData<string, string> Lookalikes => new()
    {
        { Nfd, "not in Unicode normalization form C" },
        { "acme\u200D-g01", "U+200D (zero width joiner) at character 5" },
        { "acme\u200B-g01", "U+200B (zero width space) at character 5" },
        { "\uFEFFacme-g01", "U+FEFF (byte order mark) at character 1" },
        { "acme-g01\u200F", "U+200F (right-to-left mark) at character 9" },
        { "acme\u202E10g-", "U+202E (right-to-left override) at character 5" },
        { "a\u2066cme", "U+2066 (left-to-right isolate) at character 2" },
    };

    [Theory]
    [MemberData(nameof(Lookalikes))]
    public void A_lookalike_external_id_goes_only_to_a_customer_that_holds_exactly_it_and_never_creates_one(string externalId, string message)
    {
        var result = Validate(externalId, email: "jose@ruiz.dev", name: "José Ruiz");

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        var customer = result.Grant!.Customer;
        Assert.Equal(externalId, customer.ExternalId);
        Assert.Contains(message, customer.MustExistBecause, StringComparison.Ordinal);
        Assert.Null(customer.Email);
        Assert.Null(customer.Name);
    }

    [Fact]
    public void The_nfd_message_names_the_combining_mark_and_the_nfc_form()
    {
        var why = Validate(Nfd).Grant!.Customer.MustExistBecause!;

        Assert.Contains("U+0301 (combining acute accent) at character 5", why, StringComparison.Ordinal);
        Assert.Contains($"'{Nfc}'", why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("acme\u001B]0;credits: all grants OK\u0007", "U+001B (escape) at character 5")]
    [InlineData("acme\u0000", "U+0000 (NUL) at character 5")]
    [InlineData("acme\uFFFD", "wrong encoding")]
    public void An_external_id_that_can_be_nobodys_is_refused_naming_the_code_point(string externalId, string message)
    {
        var error = Assert.Single(Validate(externalId).Errors);

        Assert.Equal("customer.externalId", error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001B', error.ToString());
        Assert.DoesNotContain('\u0007', error.ToString());
    }

    [Fact]
    public void An_unpaired_surrogate_is_refused_and_echoed_escaped()
    {
        // Built in code: theory data cannot carry a lone surrogate (it is replaced by U+FFFD on the way).
        var externalId = "acme" + (char)0xD800 + "x";

        var error = Assert.Single(Validate(externalId).Errors);

        Assert.Contains("U+D800 at character 5", error.Message, StringComparison.Ordinal);
        Assert.Contains("half of a surrogate pair", error.Message, StringComparison.Ordinal);
        Assert.Equal("lone\\uD800", Display.Escape("lone" + (char)0xD800));
    }

    [Theory]
    [InlineData(" user-1", "user-1")]
    [InlineData("user-1\u00A0", "user-1")]
    [InlineData("\u3000user-1\u2003", "user-1")]
    [InlineData("\tuser-1\r\n", "user-1")]
    public void External_ids_meters_and_emails_are_trimmed_of_the_same_unicode_spaces(string raw, string trimmed)
    {
        var result = Validate(raw, meter: raw, email: raw + "@lovelace.dev".Trim());

        Assert.Equal(trimmed, Identifier.Trim(raw));
        Assert.Equal(trimmed, result.Grant?.Customer.ExternalId ?? Validate(raw).Grant!.Customer.ExternalId);
        Assert.Equal(trimmed, Validate(meter: raw).Grant!.Meter);
    }

    [Theory]
    [InlineData("promo-g3 ", "promo-g3")]
    [InlineData(" promo-g3", "promo-g3")]
    [InlineData("promo-g3\u00A0", "promo-g3")]
    public void A_grant_id_with_spaces_at_an_end_is_refused_naming_its_trimmed_form(string grantId, string trimmed)
    {
        var error = Assert.Single(Validate(grantId: grantId).Errors);

        Assert.Equal("grantId", error.Field);
        Assert.Contains($"send '{trimmed}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("g\u200D1")]
    [InlineData("g\u0065\u0301")]
    [InlineData("g\u001B1")]
    public void A_grant_id_with_invisible_control_or_unnormalized_characters_is_refused(string grantId)
    {
        Assert.Equal("grantId", Assert.Single(Validate(grantId: grantId).Errors).Field);
    }

    [Theory]
    [InlineData("customer.name", "Ada \u202ELovelace")]
    [InlineData("customer.name", "Ada\u2067 Lovelace")]
    [InlineData("reason", "Welcome\u001B[2K credits")]
    [InlineData("reason", "two\nlines")]
    public void Names_and_reasons_refuse_bidi_overrides_and_control_characters(string field, string value)
    {
        var result = field == "reason" ? Validate(reason: value) : Validate(name: value, email: "ada@lovelace.dev");

        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.DoesNotContain(error.ToString(), c => char.IsControl(c) || c is '\u202E' or '\u2067');
    }

    [Theory]
    [InlineData("Zo\u00EB \u200D\U0001F469\u200D\U0001F4BB")]
    [InlineData("\u05D3\u05D5\u05D3 \u200F(David)")]
    public void Names_keep_joiners_and_marks_that_scripts_and_emoji_need(string name)
    {
        Assert.True(Validate(name: name, email: "zoe@credits.dev").IsValid);
    }

    [Fact]
    public void Lengths_count_code_points_as_polar_does()
    {
        var emoji = string.Concat(Enumerable.Repeat("\U0001F600", 101));

        var error = Assert.Single(Validate(name: emoji, email: "x@credits.dev").Errors.Where(e => e.Field == "customer.name").Append(
            Assert.Single(Validate(grantId: string.Concat(Enumerable.Repeat("\U0001F600", 201))).Errors)));

        Assert.Contains("is 201 characters", error.Message, StringComparison.Ordinal);
        Assert.True(Validate(name: emoji, email: "x@credits.dev").IsValid, "101 emoji are 101 characters, under the 256 allowed");
    }

    [Fact]
    public void Shortened_echoes_never_cut_a_surrogate_pair()
    {
        var shown = Display.Shorten(string.Concat(Enumerable.Repeat("\U0001F600", 101)), 80);

        Assert.DoesNotContain('\uFFFD', shown);
        Assert.False(shown.Where((c, i) => char.IsHighSurrogate(c) && (i + 1 == shown.Length || !char.IsLowSurrogate(shown[i + 1]))).Any());
        Assert.EndsWith("…", shown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a\u001B]0;title\u0007b", "a\\u001B]0;title\\u0007b")]
    [InlineData("x\u202Ey", "x\\u202Ey")]
    [InlineData("x\u009By", "x\\u009By")]
    [InlineData("plain é \U0001F600", "plain é \U0001F600")]
    [InlineData("jose\u0301-u01", "jose\\u0301-u01")]
    [InlineData("\u0915\u094D\u0937", "\u0915\u094D\u0937")]
    public void Echoed_values_show_control_format_and_lone_surrogate_characters_escaped(string raw, string shown)
    {
        Assert.Equal(shown, Display.Escape(raw));
    }
}

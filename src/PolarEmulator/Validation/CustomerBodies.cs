using System.Text.Json;
using System.Text.RegularExpressions;
using PolarEmulator.Store;
using PolarEmulator.Wire;

namespace PolarEmulator.Validation;

/// <summary>Validates customer create and update bodies against Polar's schema (<c>CustomerCreate</c>, <c>CustomerUpdate</c>).</summary>
internal static partial class CustomerBodies
{
    private static readonly string[] Types = ["individual", "team"];

    private static readonly string[] EuVatCountries =
        ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"];

    private static readonly Dictionary<string, string> TaxIdFormats = new(StringComparer.Ordinal)
    {
        ["GB"] = "gb_vat", ["US"] = "us_ein", ["CA"] = "ca_bn", ["AU"] = "au_abn", ["CH"] = "ch_vat", ["NO"] = "no_vat",
        ["NZ"] = "nz_gst", ["IN"] = "in_gst", ["JP"] = "jp_cn", ["BR"] = "br_cnpj", ["MX"] = "mx_rfc", ["SG"] = "sg_uen",
    };

    public static (CustomerDraft? Draft, Guid? OrganizationId, List<ValidationIssue> Issues) ParseCreate(JsonElement body)
    {
        var issues = new List<ValidationIssue>();
        var reader = new FieldReader(body, Issues.Loc("body"), issues);
        var type = reader.OptionalChoice("type", Types, literal: true) ?? "individual";
        var email = type == "individual" ? reader.RequiredString("email") : reader.OptionalString("email");
        email = CheckEmail(reader, email);
        var name = reader.OptionalString("name", maxLength: 256);
        var externalId = NormalizeExternalId(reader.OptionalString("external_id"));
        var metadata = reader.Metadata("metadata") ?? [];
        var address = Address(reader);
        var taxId = TaxId(reader, reader.OptionalString("tax_id"), address);
        var locale = reader.OptionalString("locale");
        var organizationId = reader.OptionalUuid4("organization_id");
        return issues.Count > 0
            ? (null, null, issues)
            : (new CustomerDraft(email, name, externalId, type, metadata, address, taxId, locale), organizationId, issues);
    }

    public static (CustomerPatch? Patch, List<ValidationIssue> Issues) ParseUpdate(JsonElement body, bool allowExternalId)
    {
        var issues = new List<ValidationIssue>();
        var reader = new FieldReader(body, Issues.Loc("body"), issues);
        var email = reader.Has("email") ? Optional<string?>.Of(CheckEmail(reader, reader.OptionalString("email"))) : Optional<string?>.Unset;
        var name = reader.IsPresent("name") ? Optional<string?>.Of(reader.OptionalString("name", maxLength: 256)) : Optional<string?>.Unset;
        var externalId = allowExternalId && reader.IsPresent("external_id")
            ? Optional<string?>.Of(NormalizeExternalId(reader.OptionalString("external_id")))
            : Optional<string?>.Unset;
        var type = reader.Has("type") ? Optional<string>.Of(reader.OptionalChoice("type", Types) ?? "individual") : Optional<string>.Unset;
        var metadata = reader.IsPresent("metadata")
            ? Optional<IReadOnlyDictionary<string, JsonElement>>.Of(reader.Metadata("metadata") ?? [])
            : Optional<IReadOnlyDictionary<string, JsonElement>>.Unset;
        var address = reader.IsPresent("billing_address") ? Optional<AddressResource?>.Of(Address(reader)) : Optional<AddressResource?>.Unset;
        var taxId = reader.IsPresent("tax_id")
            ? Optional<IReadOnlyList<string>?>.Of(TaxId(reader, reader.OptionalString("tax_id"), address.Value))
            : Optional<IReadOnlyList<string>?>.Unset;
        var locale = reader.IsPresent("locale") ? Optional<string?>.Of(reader.OptionalString("locale")) : Optional<string?>.Unset;
        return issues.Count > 0 ? (null, issues) : (new CustomerPatch(email, name, externalId, type, metadata, address, taxId, locale), issues);
    }

    private static string? NormalizeExternalId(string? externalId) =>
        externalId?.Trim() is { Length: > 0 } trimmed ? trimmed : null;

    private static string? CheckEmail(FieldReader reader, string? email)
    {
        if (email is null)
        {
            return null;
        }

        var (normalized, refusal) = EmailAddress.Check(email);
        if (refusal is not null)
        {
            reader.Issues.Add(new ValidationIssue("value_error", reader.At("email"),
                $"value is not a valid email address: {refusal}", Issues.Text(email), Issues.Ctx("reason", refusal)));
        }

        return normalized;
    }

    private static AddressResource? Address(FieldReader reader)
    {
        if (!reader.Target.TryGetProperty("billing_address", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var location = reader.At("billing_address");
        if (value.ValueKind != JsonValueKind.Object)
        {
            reader.Issues.Add(Issues.ModelType(location, value));
            return null;
        }

        var address = new FieldReader(value, location, reader.Issues);
        var country = address.RequiredString("country");
        if (country is not null && !CountryCode().IsMatch(country))
        {
            reader.Issues.Add(new ValidationIssue("enum", address.At("country"), "Input should be an ISO 3166-1 alpha-2 country code", Issues.Text(country)));
        }

        return new AddressResource(
            address.OptionalString("line1"), address.OptionalString("line2"), address.OptionalString("postal_code"),
            address.OptionalString("city"), address.OptionalString("state"), country ?? "");
    }

    /// <summary>Polar stores a tax id with its format, derived from the billing country.</summary>
    private static string[]? TaxId(FieldReader reader, string? taxId, AddressResource? address)
    {
        if (taxId is null)
        {
            return null;
        }

        var country = address?.Country;
        var format = country is null ? null : EuVatCountries.Contains(country) ? "eu_vat" : TaxIdFormats.GetValueOrDefault(country);
        if (format is null)
        {
            reader.Issues.Add(Issues.ValueError(reader.At("tax_id"), Issues.Text(taxId),
                "Invalid tax ID: the emulator validates tax IDs only with a billing address in the EU, GB, US, CA, AU, CH, NO, NZ, IN, JP, BR, MX or SG."));
            return null;
        }

        return [taxId, format];
    }

    [GeneratedRegex("^[A-Z]{2}$")]
    private static partial Regex CountryCode();
}

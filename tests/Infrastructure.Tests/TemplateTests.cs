using System.Text.Json.Nodes;
using static Infrastructure.Tests.DeploymentSnapshot;

namespace Infrastructure.Tests;

/// <summary>
/// What a deployment of main.bicep creates, checked on the snapshot of each parameter file:
/// no shared keys anywhere, one user-assigned identity for everything, least-privilege roles.
/// </summary>
[Collection(SharedBicepRun.Name)]
public sealed class TemplateTests(InfrastructureFixture infra)
{
    private const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";

    public static TheoryData<string> ParameterFiles => new(Repository.ParameterFiles);

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Storage_account_refuses_shared_keys(string file)
    {
        var storage = Storage(file);
        Assert.Equal("false", Text(storage["allowSharedKeyAccess"]));
        Assert.Equal("true", Text(storage["defaultToOAuthAuthentication"]));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Storage_account_has_no_public_blob_access(string file)
    {
        Assert.Equal("false", Text(Storage(file)["allowBlobPublicAccess"]));
        var containers = infra.Snapshot(file).OfType("Microsoft.Storage/storageAccounts/blobServices/containers").ToArray();
        Assert.NotEmpty(containers);
        Assert.All(containers, c => Assert.Equal("None", Text(c["properties"]?["publicAccess"])));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Storage_account_takes_only_https_with_tls_1_2(string file)
    {
        Assert.Equal("true", Text(Storage(file)["supportsHttpsTrafficOnly"]));
        Assert.Equal("TLS1_2", Text(Storage(file)["minimumTlsVersion"]));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Function_app_is_https_only_with_tls_1_2_and_ftp_off(string file)
    {
        var snapshot = infra.Snapshot(file);
        var site = snapshot.FunctionApp["properties"]!;
        Assert.Equal("true", Text(site["httpsOnly"]));
        Assert.Equal("1.2", Text(site["siteConfig"]?["minTlsVersion"]));
        Assert.Equal("Disabled", Text(site["siteConfig"]?["ftpsState"]));
        var basicAuth = snapshot.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
            .ToDictionary(p => Text(p["name"])!.Split('/')[^1], p => Text(p["properties"]?["allow"]));
        Assert.Equal("false", basicAuth.GetValueOrDefault("ftp"));
        Assert.Equal("false", basicAuth.GetValueOrDefault("scm"));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Function_app_runs_dotnet_10_isolated_on_flex_consumption(string file)
    {
        var snapshot = infra.Snapshot(file);
        var plan = snapshot.Only("Microsoft.Web/serverfarms");
        Assert.Equal("FC1", Text(plan["sku"]?["name"]));
        Assert.Equal("FlexConsumption", Text(plan["sku"]?["tier"]));
        Assert.Equal("true", Text(plan["properties"]?["reserved"]));

        var site = snapshot.FunctionApp;
        Assert.Equal("functionapp,linux", Text(site["kind"]));
        Assert.Equal(Text(plan["id"]), Text(site["properties"]?["serverFarmId"]));
        var config = site["properties"]!["functionAppConfig"]!;
        Assert.Equal("dotnet-isolated", Text(config["runtime"]?["name"]));
        Assert.Equal("10.0", Text(config["runtime"]?["version"]));
        Assert.NotNull(config["scaleAndConcurrency"]?["instanceMemoryMB"]);
        Assert.NotNull(config["scaleAndConcurrency"]?["maximumInstanceCount"]);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Function_app_runs_as_the_user_assigned_identity_only(string file)
    {
        var snapshot = infra.Snapshot(file);
        var identity = snapshot.FunctionApp["identity"]!;
        Assert.Equal("UserAssigned", Text(identity["type"]));
        Assert.Equal([snapshot.IdentityId], identity["userAssignedIdentities"]!.AsObject().Select(p => p.Key));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Key_vault_references_resolve_with_the_user_assigned_identity(string file)
    {
        var snapshot = infra.Snapshot(file);
        Assert.Equal(snapshot.IdentityId, Text(snapshot.FunctionApp["properties"]?["keyVaultReferenceIdentity"]));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Host_storage_is_reached_with_the_identity_and_service_uris(string file)
    {
        var snapshot = infra.Snapshot(file);
        var settings = snapshot.AppSettings;
        var account = snapshot.StorageAccountName;
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal(ArmExpression.Reference(snapshot.IdentityId, "clientId"), Setting(settings, "AzureWebJobsStorage__clientId"));
        Assert.Equal($"https://{account}.blob.core.windows.net/", Setting(settings, "AzureWebJobsStorage__blobServiceUri"));
        Assert.Equal($"https://{account}.queue.core.windows.net/", Setting(settings, "AzureWebJobsStorage__queueServiceUri"));
        Assert.Equal($"https://{account}.table.core.windows.net/", Setting(settings, "AzureWebJobsStorage__tableServiceUri"));

        // A connection string would carry the account key the account refuses anyway.
        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.DoesNotContain(settings, s => s.Value.Contains("AccountKey", StringComparison.OrdinalIgnoreCase));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Deployment_package_is_read_with_the_identity(string file)
    {
        var snapshot = infra.Snapshot(file);
        var storage = snapshot.FunctionApp["properties"]!["functionAppConfig"]!["deployment"]!["storage"]!;
        Assert.Equal("blobContainer", Text(storage["type"]));
        Assert.Equal("UserAssignedIdentity", Text(storage["authentication"]?["type"]));
        Assert.Equal(snapshot.IdentityId, Text(storage["authentication"]?["userAssignedIdentityResourceId"]));

        var url = ArmExpression.Evaluate(Text(storage["value"])!);
        var prefix = $"https://{snapshot.StorageAccountName}.blob.core.windows.net/";
        Assert.StartsWith(prefix, url, StringComparison.Ordinal);
        Assert.Contains(url[prefix.Length..], snapshot.ChildNames("Microsoft.Storage/storageAccounts/blobServices/containers"));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Polar_token_is_a_key_vault_reference_to_the_vaults_secret(string file)
    {
        var snapshot = infra.Snapshot(file);
        var vault = snapshot.Only("Microsoft.KeyVault/vaults");
        Assert.Equal("true", Text(vault["properties"]?["enableRbacAuthorization"]));

        var secret = snapshot.OfType("Microsoft.KeyVault/vaults/secrets").Single(s => Text(s["name"])!.EndsWith("/polar-access-token", StringComparison.Ordinal));
        var vaultName = Text(vault["name"]);
        var secretName = Text(secret["name"])!.Split('/')[^1];
        Assert.Equal(
            $"@Microsoft.KeyVault(SecretUri=https://{vaultName}.vault.azure.net/secrets/{secretName}/)",
            Setting(snapshot.AppSettings, "Polar__AccessToken"));

        // The secret's value is the secure parameter itself, never a value written into the template.
        Assert.Equal("parameters(polarAccessToken)", ArmExpression.Evaluate(Text(secret["properties"]?["value"])!));
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Webhook_secrets_are_key_vault_references_to_two_slots_and_the_given_secret_fills_the_first(string file)
    {
        var snapshot = infra.Snapshot(file);
        var vaultName = Text(snapshot.Only("Microsoft.KeyVault/vaults")["name"]);
        Assert.Equal($"@Microsoft.KeyVault(SecretUri=https://{vaultName}.vault.azure.net/secrets/polar-webhook-secret/)",
            Setting(snapshot.AppSettings, "Polar__WebhookSecrets__0"));
        Assert.Equal($"@Microsoft.KeyVault(SecretUri=https://{vaultName}.vault.azure.net/secrets/polar-webhook-secret-next/)",
            Setting(snapshot.AppSettings, "Polar__WebhookSecrets__1"));

        // Each slot's secret is its secure parameter, never a value written into the template (POLAR_WEBHOOK_SECRET was given).
        string Value(string name) => ArmExpression.Evaluate(Text(snapshot.OfType("Microsoft.KeyVault/vaults/secrets")
            .Single(s => Text(s["name"])!.EndsWith("/" + name, StringComparison.Ordinal))["properties"]?["value"])!);
        Assert.Equal("parameters(polarWebhookSecret)", Value("polar-webhook-secret"));
        Assert.Equal("parameters(polarWebhookSecretNext)", Value("polar-webhook-secret-next"));
        Assert.DoesNotContain(InfrastructureFixture.WebhookSecretSentinel, snapshot.Json, StringComparison.Ordinal);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Polar_token_appears_in_no_template_output(string file)
    {
        Assert.DoesNotContain(InfrastructureFixture.AccessTokenSentinel, infra.Snapshot(file).Json, StringComparison.Ordinal);
        Assert.DoesNotContain(infra.Snapshot(file).Outputs, o => Text(o.Value)!.Contains("polarAccessToken", StringComparison.Ordinal));
    }

    [BicepFact]
    public void Polar_token_is_a_secure_parameter_without_default()
    {
        var parameter = infra.MainTemplate["parameters"]!["polarAccessToken"]!;
        Assert.Equal("securestring", Text(parameter["type"]));
        Assert.Null(parameter["defaultValue"]);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Application_insights_takes_only_entra_id_telemetry_from_the_identity(string file)
    {
        var snapshot = infra.Snapshot(file);
        var component = snapshot.Only("Microsoft.Insights/components");
        Assert.Equal("true", Text(component["properties"]?["DisableLocalAuth"]));
        Assert.Equal(Text(snapshot.Only("Microsoft.OperationalInsights/workspaces")["id"]), Text(component["properties"]?["WorkspaceResourceId"]));
        Assert.Equal(
            $"ClientId={ArmExpression.Reference(snapshot.IdentityId, "clientId")};Authorization=AAD",
            Setting(snapshot.AppSettings, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"));
        Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", snapshot.AppSettings.Keys);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Identity_holds_exactly_the_five_data_roles_on_the_right_resources(string file)
    {
        var snapshot = infra.Snapshot(file);
        string Id(string type) => Text(snapshot.Only(type)["id"])!;
        var expected = new Dictionary<string, string>
        {
            [StorageBlobDataOwner] = Id("Microsoft.Storage/storageAccounts"),
            [StorageQueueDataContributor] = Id("Microsoft.Storage/storageAccounts"),
            [StorageTableDataContributor] = Id("Microsoft.Storage/storageAccounts"),
            [MonitoringMetricsPublisher] = Id("Microsoft.Insights/components"),
            [KeyVaultSecretsUser] = Id("Microsoft.KeyVault/vaults"),
        };

        const string marker = "/providers/Microsoft.Authorization/roleAssignments/";
        var actual = snapshot.OfType("Microsoft.Authorization/roleAssignments").Select(a => new
        {
            Role = Text(a["properties"]?["roleDefinitionId"])!.Split('/')[^1],
            RoleDefinitionId = Text(a["properties"]?["roleDefinitionId"]),
            Scope = Text(a["id"])![..Text(a["id"])!.IndexOf(marker, StringComparison.Ordinal)],
            Name = Text(a["name"]),
            PrincipalId = ArmExpression.Evaluate(Text(a["properties"]?["principalId"])!),
            PrincipalType = Text(a["properties"]?["principalType"]),
        }).ToArray();

        Assert.Equal(expected.Keys.Order(), actual.Select(a => a.Role).Order());
        Assert.All(actual, a =>
        {
            Assert.Equal(expected[a.Role], a.Scope);
            Assert.Equal($"/subscriptions/{InfrastructureFixture.SubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{a.Role}", a.RoleDefinitionId);
            Assert.Equal(ArmExpression.Reference(snapshot.IdentityId, "principalId"), a.PrincipalId);
            Assert.Equal("ServicePrincipal", a.PrincipalType);
            Assert.True(Guid.TryParse(a.Name, out _), $"Role assignment name '{a.Name}' is not a guid(...).");
        });
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Storage_names_in_settings_are_the_storage_resources(string file)
    {
        var snapshot = infra.Snapshot(file);
        var settings = snapshot.AppSettings;
        var queues = snapshot.ChildNames("Microsoft.Storage/storageAccounts/queueServices/queues");
        var containers = snapshot.ChildNames("Microsoft.Storage/storageAccounts/blobServices/containers");
        var tables = snapshot.ChildNames("Microsoft.Storage/storageAccounts/tableServices/tables");

        Assert.Contains(settings["Bulk__QueueName"], queues);
        Assert.Contains(settings["Bulk__QueueName"] + "-poison", queues);
        Assert.Contains(settings["Bulk__UploadsContainer"], containers);
        Assert.Contains(settings["Bulk__ResultsContainer"], containers);
        Assert.Contains(settings["Campaigns__Container"], containers);
        Assert.Contains(settings["Bulk__JobsTable"], tables);
        Assert.Contains(settings["Campaigns__StateTable"], tables);
        Assert.Contains(settings["Expiry__Table"], tables);
        Assert.Contains(settings["Rules__Container"], containers);
        Assert.Contains(settings["Rules__Table"], tables);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Webhook_bodies_are_deleted_30_days_after_they_arrive_and_nothing_else_is(string file)
    {
        var snapshot = infra.Snapshot(file);
        var policy = snapshot.Only("Microsoft.Storage/storageAccounts/managementPolicies");
        var rule = Assert.Single(policy["properties"]!["policy"]!["rules"]!.AsArray().Select(r => r!.AsObject()));
        var definition = rule["definition"]!;

        Assert.Equal("true", Text(rule["enabled"]));
        Assert.Equal([snapshot.AppSettings["Webhooks__Container"] + "/"],
            definition["filters"]!["prefixMatch"]!.AsArray().Select(p => Text(p)!));
        Assert.Equal("30", Text(definition["actions"]!["baseBlob"]!["delete"]!["daysAfterModificationGreaterThan"]));
    }

    [BicepTheory]
    [InlineData("main.sandbox.bicepparam", "sandbox")]
    [InlineData("main.production.bicepparam", "production")]
    public void Parameter_file_picks_its_polar_server(string file, string server) =>
        Assert.Equal(server, infra.Snapshot(file).AppSettings["Polar__Server"]);

    [BicepFact]
    public void Outputs_name_the_app_its_url_storage_vault_and_webhook_url_and_nothing_secret()
    {
        var outputs = infra.MainTemplate["outputs"]!.AsObject();
        Assert.Equal(
            ["AZURE_FUNCTION_APP_NAME", "AZURE_FUNCTION_APP_URL", "AZURE_KEY_VAULT_NAME", "AZURE_STORAGE_ACCOUNT_NAME", "POLAR_WEBHOOK_URL"],
            outputs.Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.All(outputs, o =>
        {
            Assert.NotEqual("securestring", Text(o.Value!["type"]));
            Assert.DoesNotContain("listKeys", Text(o.Value!["value"]), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("polarAccessToken", Text(o.Value!["value"]), StringComparison.Ordinal);
            Assert.DoesNotContain("polarWebhookSecret", Text(o.Value!["value"]), StringComparison.Ordinal);
        });
        Assert.Contains("/api/polar/webhooks", Text(outputs["POLAR_WEBHOOK_URL"]!["value"]), StringComparison.Ordinal);
    }

    private JsonNode Storage(string file) =>
        infra.Snapshot(file).Only("Microsoft.Storage/storageAccounts")["properties"]!;

    private static string Setting(IReadOnlyDictionary<string, string> settings, string name)
    {
        Assert.True(settings.TryGetValue(name, out var value), $"No app setting {name}.");
        return ArmExpression.Evaluate(value);
    }
}

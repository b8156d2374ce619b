// CreditFunctions on Azure: a Flex Consumption function app on the .NET 10 isolated worker,
// its storage, Key Vault and Application Insights, all reached with one user-assigned
// identity and no shared keys. Deployed by `azd up` or `az deployment group create`
// (docs/deploy.md).
targetScope = 'resourceGroup'

metadata description = 'CreditFunctions: grants usage credits to Polar customers.'

// ---------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------

@description('Name of the environment (the azd environment name); part of every resource name.')
@minLength(2)
@maxLength(24)
param environmentName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------
// Polar (PolarClientOptions, section Polar)
// ---------------------------------------------------------------------------------------

@description('Which Polar API the app talks to. Also the environment\'s profile: the defaults below give production purge protection, longer log retention, no ingestion cap and more instances.')
@allowed([
  'sandbox'
  'production'
])
param polarServer string

@description('Polar organization access token (polar_oat_…), stored in Key Vault. Empty leaves the vault\'s secret as it is.')
@secure()
param polarAccessToken string

@description('Secret of Polar\'s webhook endpoint (whsec_…), stored in Key Vault as polar-webhook-secret. Empty leaves the vault\'s secret as it is (docs/webhooks.md).')
@secure()
param polarWebhookSecret string = ''

@description('A second webhook secret accepted at the same time, while the endpoint\'s secret is rotated (Key Vault polar-webhook-secret-next). Empty leaves the vault\'s secret as it is.')
@secure()
param polarWebhookSecretNext string = ''

@description('Request budget per minute. Polar allows 500 a minute per organization in production, 100 in sandbox.')
@minValue(1)
@maxValue(100000)
param polarRequestsPerMinute int = polarServer == 'production' ? 500 : 100

@description('Share of each minute\'s Polar budget, in percent, that bulk jobs and campaigns leave to the HTTP grant API.')
@minValue(0)
@maxValue(90)
param polarInteractiveSharePercent int = 20

@description('Table in which every instance counts its Polar requests, so that scaling out never passes the organization\'s limit.')
@minLength(3)
@maxLength(63)
param polarBudgetTableName string = 'polarbudget'

@description('Most events one ingest request carries (2,500: the largest bulk chunk goes in one request).')
@minValue(1)
@maxValue(100000)
param polarMaxEventsPerRequest int = 2500

@description('How long one Polar call may take, in seconds.')
@minValue(1)
@maxValue(600)
param polarAttemptTimeoutSeconds int = 30

@description('How many times a failed Polar call is tried again.')
@minValue(0)
@maxValue(20)
param polarMaxRetries int = 4

@description('Longest wait between retries, in seconds.')
@minValue(1)
@maxValue(3600)
param polarMaxRetryDelaySeconds int = 60

@description('How long a meter definition is trusted before it is read again, in seconds.')
@minValue(0)
@maxValue(86400)
param polarMeterCacheSeconds int = 60

@description('How long a read-back waits for events Polar said it holds to appear in its event store, which trails ingest by seconds (0 reads once).')
@minValue(0)
@maxValue(600)
param polarReadBackPatienceSeconds int = 20

// ---------------------------------------------------------------------------------------
// Grants (section Grants)
// ---------------------------------------------------------------------------------------

@description('Meter a grant goes to when the caller names none.')
@minLength(1)
param grantsDefaultMeter string = 'API Calls'

@description('Most units one grant may carry.')
@minValue(1)
param grantsMaxUnitsPerGrant int = 1000000

@description('Most units the HTTP grant API grants one customer in a UTC day (a leaked function key cannot grant more).')
@minValue(1)
param grantCapsMaxUnitsPerCustomerPerDay int = 1000000

@description('Most units the HTTP grant API grants the whole organization in a UTC day.')
@minValue(1)
param grantCapsMaxUnitsPerDay int = 10000000

@description('Table of the grant API\'s daily counts (per customer and for the organization).')
@minLength(3)
@maxLength(63)
param grantCapsTableName string = 'grantcaps'

@description('How long the customer directory trusts what Polar said of a customer (TimeSpan, d.hh:mm:ss; 00:00:00 turns it off). See docs/customer-directory.md.')
param customerDirectoryTrustFor string = '01:00:00'

@description('Pages of Polar\'s customer list read at once when the directory sweeps it.')
@minValue(1)
@maxValue(16)
param customerDirectorySweepConcurrency int = 4

@description('Table of the customer directory (external id -> Polar customer), shared by every instance.')
@minLength(3)
@maxLength(63)
param customerDirectoryTableName string = 'customerdirectory'

@description('Largest HTTP request body GrantCredits accepts, in bytes.')
@minValue(256)
@maxValue(10485760)
param grantsMaxRequestBodyBytes int = 65536

// ---------------------------------------------------------------------------------------
// Bulk grants (section Bulk). Names flow into both the storage resources and the settings.
// ---------------------------------------------------------------------------------------

@description('Queue of grant work (bulk chunks, campaign targets); <name>-poison is created too.')
@minLength(3)
@maxLength(56)
param grantQueueName string = 'grant-work'

@description('Blob container bulk files are uploaded to.')
@minLength(3)
@maxLength(63)
param bulkUploadsContainerName string = 'bulk-uploads'

@description('Blob container bulk results are written to.')
@minLength(3)
@maxLength(63)
param bulkResultsContainerName string = 'bulk-results'

@description('Table of bulk job progress.')
@minLength(3)
@maxLength(63)
param jobsTableName string = 'jobs'

@description('Rows of a bulk file one chunk message stands for (one ingest request for existing customers). At most 2,500, so that a chunk\'s list of repeated grant ids always fits a 64 KiB queue message.')
@minValue(1)
@maxValue(2500)
param bulkChunkRows int = 1000

@description('Largest bulk file POST /api/bulk-grants accepts, in bytes (100 MiB). The Functions host refuses request bodies over 100 MiB itself.')
@minValue(1)
@maxValue(104857600)
param bulkMaxFileBytes int = 104857600

// ---------------------------------------------------------------------------------------
// Polar's webhooks (section Webhooks; the secrets are Polar__WebhookSecrets__0 and __1)
// ---------------------------------------------------------------------------------------

@description('Queue of verified webhook deliveries to process; <name>-poison is created too. Its own queue, so a signup never waits behind a bulk job.')
@minLength(3)
@maxLength(56)
param webhookQueueName string = 'webhook-work'

@description('Table of webhook deliveries (one row per webhook-id) and of the last version applied of each Polar object.')
@minLength(3)
@maxLength(63)
param webhookTableName string = 'webhooks'

@description('Blob container of webhook bodies as received.')
@minLength(3)
@maxLength(63)
param webhookContainerName string = 'webhook-deliveries'

@description('Days a webhook body is kept in the deliveries container before lifecycle management deletes it (bodies hold customers\' emails and names; the delivery rows, which hold none, stay so a late redelivery is still known).')
@minValue(1)
param webhookBodyRetentionDays int = 30

@description('Largest webhook body the endpoint reads, in bytes (Polar\'s are a few KiB).')
@minValue(1024)
@maxValue(10485760)
param webhookMaxBodyBytes int = 1048576

// ---------------------------------------------------------------------------------------
// Campaigns (section Campaigns, and the timer's %CampaignSchedule%)
// ---------------------------------------------------------------------------------------

@description('Blob container of campaign definitions.')
@minLength(3)
@maxLength(63)
param campaignsContainerName string = 'campaigns'

@description('Table of campaign state (last occurrence run per campaign).')
@minLength(3)
@maxLength(63)
param campaignStateTableName string = 'campaignstate'

@description('Blob container of grant rule documents (docs/rules.md).')
@minLength(3)
@maxLength(63)
param rulesContainerName string = 'rules'

@description('Table of what grant rules granted: units per rule, grants per customer, each grant\'s outcome (granted, over budget, over cap).')
@minLength(3)
@maxLength(63)
param ruleGrantsTableName string = 'rulegrants'

@description('NCRONTAB schedule (six fields, UTC) on which RunCampaigns looks for due occurrences.')
param campaignSchedule string = '0 */15 * * * *'

// ---------------------------------------------------------------------------------------
// Expiring grants (section Expiry, and the timer's %ExpirySchedule%)
// ---------------------------------------------------------------------------------------

@description('Table of the expiries to come (one row per grant that expires), which the ExpireGrants timer reads.')
@minLength(3)
@maxLength(63)
param expiryTableName string = 'expiries'

@description('NCRONTAB schedule (six fields, UTC) on which ExpireGrants takes back the unspent credits of grants whose expiry has passed. Expiries take effect at whole UTC hours and wait Expiry:Settle (5 minutes) for the event store, so a run at ten past each hour finds them.')
param expirySchedule string = '0 10 * * * *'

// ---------------------------------------------------------------------------------------
// Hosting and cost
// ---------------------------------------------------------------------------------------

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to (also bounds how many instances share the Polar budget).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = polarServer == 'production' ? 100 : 40

@description('Replication of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Days Log Analytics keeps logs (the first 31 are free of retention charges).')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = polarServer == 'production' ? 90 : 30

@description('Daily Log Analytics ingestion cap in GB; -1 for none. Ingestion stops for the day when reached.')
@minValue(-1)
param logDailyCapGb int = polarServer == 'production' ? -1 : 1

@description('Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = polarServer == 'production' ? 90 : 7

@description('Whether the vault has purge protection (cannot be turned off once on, and keeps the name taken while deleted).')
param keyVaultPurgeProtection bool = polarServer == 'production'

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var names = {
  identity: 'id-${environmentName}'
  logAnalytics: 'log-${environmentName}'
  applicationInsights: 'appi-${environmentName}'
  storage: 'st${resourceToken}'
  keyVault: 'kv-${resourceToken}'
  plan: 'plan-${environmentName}'
  functionApp: 'func-${environmentName}-${resourceToken}'
}
var deploymentContainerName = 'app-package'
var polarAccessTokenSecretName = 'polar-access-token'
var polarWebhookSecretNames = [
  'polar-webhook-secret'
  'polar-webhook-secret-next'
]

// Endpoints are derived from the names rather than read back from the resources, so that
// what-if (and the tests) see the values the app will get.
var storageEndpoints = {
  blob: 'https://${names.storage}.blob.${environment().suffixes.storage}/'
  queue: 'https://${names.storage}.queue.${environment().suffixes.storage}/'
  table: 'https://${names.storage}.table.${environment().suffixes.storage}/'
}
// Versionless, so a new secret version is picked up without a deployment.
var polarAccessTokenSecretUri = 'https://${names.keyVault}${environment().suffixes.keyvaultDns}/secrets/${polarAccessTokenSecretName}/'
var polarWebhookSecretUris = map(polarWebhookSecretNames, n => 'https://${names.keyVault}${environment().suffixes.keyvaultDns}/secrets/${n}/')

// ---------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------

// The one identity the app uses for storage, Key Vault, Application Insights and the
// deployment container, so that no key or connection string is ever handed out.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: names.identity
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
    dailyCapGb: logDailyCapGb
  }
}

module storage 'modules/storage.bicep' = {
  params: {
    name: names.storage
    location: location
    tags: allTags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    containerNames: [
      bulkUploadsContainerName
      bulkResultsContainerName
      campaignsContainerName
      webhookContainerName
      rulesContainerName
    ]
    queueNames: [
      grantQueueName
      webhookQueueName
    ]
    blobRetention: [
      {
        container: webhookContainerName
        days: webhookBodyRetentionDays
      }
    ]
    tableNames: [
      jobsTableName
      campaignStateTableName
      expiryTableName
      polarBudgetTableName
      grantCapsTableName
      webhookTableName
      ruleGrantsTableName
    ]
  }
}

module keyVault 'modules/keyvault.bicep' = {
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    enablePurgeProtection: keyVaultPurgeProtection
    polarAccessTokenSecretName: polarAccessTokenSecretName
    polarAccessToken: polarAccessToken
    polarWebhookSecretNames: polarWebhookSecretNames
    polarWebhookSecret: polarWebhookSecret
    polarWebhookSecretNext: polarWebhookSecretNext
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  params: {
    principalId: identity.properties.principalId
    identityId: identity.id
    storageAccountName: names.storage
    applicationInsightsName: names.applicationInsights
    keyVaultName: names.keyVault
  }
  dependsOn: [
    storage
    monitoring
    keyVault
  ]
}

// Every configuration key the app reads: section X, property Y -> X__Y (the .NET
// configuration separator in environment variables), plus trigger placeholders.
var appSettings = {
  Polar__Server: polarServer
  Polar__AccessToken: '@Microsoft.KeyVault(SecretUri=${polarAccessTokenSecretUri})'
  // Both slots always: a slot whose secret does not exist stays an unresolved reference, which the app never accepts.
  Polar__WebhookSecrets__0: '@Microsoft.KeyVault(SecretUri=${polarWebhookSecretUris[0]})'
  Polar__WebhookSecrets__1: '@Microsoft.KeyVault(SecretUri=${polarWebhookSecretUris[1]})'
  Polar__RequestsPerMinute: string(polarRequestsPerMinute)
  Polar__MaxEventsPerRequest: string(polarMaxEventsPerRequest)
  Polar__AttemptTimeoutSeconds: string(polarAttemptTimeoutSeconds)
  Polar__MaxRetries: string(polarMaxRetries)
  Polar__MaxRetryDelaySeconds: string(polarMaxRetryDelaySeconds)
  Polar__MeterCacheSeconds: string(polarMeterCacheSeconds)
  Polar__ReadBackPatienceSeconds: string(polarReadBackPatienceSeconds)
  Polar__InteractiveSharePercent: string(polarInteractiveSharePercent)
  PolarBudget__Enabled: 'true'
  PolarBudget__Table: polarBudgetTableName

  Grants__DefaultMeter: grantsDefaultMeter
  Grants__MaxUnitsPerGrant: string(grantsMaxUnitsPerGrant)
  GrantCaps__Enabled: 'true'
  GrantCaps__MaxUnitsPerCustomerPerDay: string(grantCapsMaxUnitsPerCustomerPerDay)
  GrantCaps__MaxUnitsPerDay: string(grantCapsMaxUnitsPerDay)
  GrantCaps__Table: grantCapsTableName
  Grants__MaxRequestBodyBytes: string(grantsMaxRequestBodyBytes)

  CustomerDirectory__Table: customerDirectoryTableName
  CustomerDirectory__TrustFor: customerDirectoryTrustFor
  CustomerDirectory__SweepConcurrency: string(customerDirectorySweepConcurrency)
  CustomerDirectory__MaxSweepPages: '1000'
  CustomerDirectory__InlineSweepPages: '24'
  CustomerDirectory__SweepRecheck: '00:00:20'
  CustomerDirectory__SweepClaim: '00:05:00'
  CustomerDirectory__SweepWait: '00:10:00'

  Bulk__QueueName: grantQueueName
  Bulk__UploadsContainer: bulkUploadsContainerName
  Bulk__ResultsContainer: bulkResultsContainerName
  Bulk__JobsTable: jobsTableName
  Bulk__ChunkRows: string(bulkChunkRows)
  Bulk__MaxFileBytes: string(bulkMaxFileBytes)

  Webhooks__QueueName: webhookQueueName
  Webhooks__Table: webhookTableName
  Webhooks__Container: webhookContainerName
  Webhooks__MaxBodyBytes: string(webhookMaxBodyBytes)

  Campaigns__Container: campaignsContainerName
  Campaigns__StateTable: campaignStateTableName
  CampaignSchedule: campaignSchedule

  Expiry__Table: expiryTableName
  Expiry__Settle: '00:05:00'
  Expiry__ForgetUnseenAfter: '1.00:00:00'
  Expiry__MaxPerRun: '50000'
  ExpirySchedule: expirySchedule
  Rules__Container: rulesContainerName
  Rules__Table: ruleGrantsTableName
}

module functionApp 'modules/functionapp.bicep' = {
  params: {
    planName: names.plan
    name: names.functionApp
    location: location
    tags: allTags
    azdServiceName: 'api'
    identityId: identity.id
    identityClientId: identity.properties.clientId
    blobEndpoint: storageEndpoints.blob
    queueEndpoint: storageEndpoints.queue
    tableEndpoint: storageEndpoints.table
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: appSettings
  }
  // The containers, queues and the secret must exist, and the identity must hold its
  // roles, before the host starts reading storage and the vault.
  dependsOn: [
    storage
    keyVault
    roleAssignments
  ]
}

// ---------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; none is a secret)
// ---------------------------------------------------------------------------------------

@description('Name of the function app.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the function app.')
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Name of the storage account.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Name of the Key Vault that holds the Polar token and webhook secrets.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('The URL to paste into Polar\'s webhook settings (docs/webhooks.md).')
output POLAR_WEBHOOK_URL string = 'https://${functionApp.outputs.defaultHostName}/api/polar/webhooks'

// Key Vault in RBAC mode holding the Polar organization access token and the webhook secrets. The app reads it
// through a Key Vault reference resolved with its user-assigned identity.

@description('Name of the vault (3-24 letters, digits and hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the vault.')
param location string

@description('Tags for the vault.')
param tags object

@description('Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Whether deleted vaults and secrets cannot be purged before retention ends. Cannot be turned off once on.')
param enablePurgeProtection bool

@description('Name of the secret that holds the Polar access token.')
param polarAccessTokenSecretName string

@description('The Polar organization access token. Empty leaves the secret as it is (for example set with `az keyvault secret set`).')
@secure()
param polarAccessToken string

@description('Names of the two secrets that hold Polar\'s webhook secrets (the current one, and the next during a rotation).')
@minLength(2)
@maxLength(2)
param polarWebhookSecretNames string[]

@description('The webhook secret for the first name. Empty leaves the secret as it is.')
@secure()
param polarWebhookSecret string

@description('The webhook secret for the second name (during a rotation). Empty leaves the secret as it is.')
@secure()
param polarWebhookSecretNext string

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // The API refuses an explicit false; leaving it out is how it stays off.
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

resource polarAccessTokenSecret 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = if (!empty(polarAccessToken)) {
  parent: vault
  name: polarAccessTokenSecretName
  properties: {
    value: polarAccessToken
    contentType: 'Polar organization access token'
  }
}

resource polarWebhookSecretResource 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = if (!empty(polarWebhookSecret)) {
  parent: vault
  name: polarWebhookSecretNames[0]
  properties: {
    value: polarWebhookSecret
    contentType: 'Polar webhook endpoint secret'
  }
}

resource polarWebhookSecretNextResource 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = if (!empty(polarWebhookSecretNext)) {
  parent: vault
  name: polarWebhookSecretNames[1]
  properties: {
    value: polarWebhookSecretNext
    contentType: 'Polar webhook endpoint secret (next, during a rotation)'
  }
}

@description('Name of the vault.')
output name string = vault.name

// The app's one storage account: Functions host storage, the deployment package container,
// the grant queue and its poison queue, the bulk and campaign blob containers, and the
// tables for job progress and campaign state. Shared keys and anonymous blob access are off.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags for the account.')
param tags object

@description('Replication of the account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

@description('Container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Blob containers the app reads and writes (uploads, results, campaign definitions).')
param containerNames string[]

@description('Queues the app uses; each gets its poison queue (<queue>-poison) as well.')
param queueNames string[]

@description('Tables the app uses (job progress, campaign state).')
param tableNames string[]

@description('Blob retention: each container\'s blobs are deleted this many days after they were last modified (a lifecycle management rule per item).')
param blobRetention {
  @description('The container whose blobs expire.')
  container: string
  @description('Days after the last modification, at least 1.')
  @minValue(1)
  days: int
}[] = []

resource storage 'Microsoft.Storage/storageAccounts@2026-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource containers 'containers' = [
      // union() drops duplicates, so two settings may name the same container.
      for container in union([deploymentContainerName], containerNames): {
        name: container
        properties: {
          publicAccess: 'None'
        }
      }
    ]
  }

  resource queueService 'queueServices' = {
    name: 'default'

    resource queues 'queues' = [
      for queue in union(flatten(map(queueNames, q => [q, '${q}-poison'])), []): {
        name: queue
      }
    ]
  }

  resource tableService 'tableServices' = {
    name: 'default'

    resource tables 'tables' = [
      for table in union(tableNames, []): {
        name: table
      }
    ]
  }
}

// Lifecycle management deletes what is kept only for a while (webhook bodies hold customers' emails and names).
resource retention 'Microsoft.Storage/storageAccounts/managementPolicies@2026-06-01' = if (!empty(blobRetention)) {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        for rule in blobRetention: {
          name: 'delete-${rule.container}'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${rule.container}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: rule.days
                }
              }
            }
          }
        }
      ]
    }
  }
}

@description('Name of the storage account.')
output name string = storage.name

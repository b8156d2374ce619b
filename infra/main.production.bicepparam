// Production: Polar's production API (api.polar.sh, 500 requests a minute), purge
// protection on the vault, 90 days of logs, no ingestion cap (main.bicep's defaults for
// polarServer 'production').
//   POLAR_ACCESS_TOKEN=polar_oat_... az deployment group create -g <rg> \
//     -f infra/main.bicep -p infra/main.production.bicepparam
// The token (and POLAR_WEBHOOK_SECRET, Polar's webhook endpoint secret) are read from the environment when the file
// is compiled, never stored here.
using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'credits-prod')
param polarServer = 'production'
param polarAccessToken = readEnvironmentVariable('POLAR_ACCESS_TOKEN', '')
param polarWebhookSecret = readEnvironmentVariable('POLAR_WEBHOOK_SECRET', '')

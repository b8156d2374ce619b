// Sandbox: Polar's sandbox API (sandbox-api.polar.sh, 100 requests a minute), lean retention.
//   POLAR_ACCESS_TOKEN=polar_oat_... az deployment group create -g <rg> \
//     -f infra/main.bicep -p infra/main.sandbox.bicepparam
// The token (and POLAR_WEBHOOK_SECRET, Polar's webhook endpoint secret) are read from the environment when the file
// is compiled, never stored here.
using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'credits-sandbox')
param polarServer = 'sandbox'
param polarAccessToken = readEnvironmentVariable('POLAR_ACCESS_TOKEN', '')
param polarWebhookSecret = readEnvironmentVariable('POLAR_WEBHOOK_SECRET', '')

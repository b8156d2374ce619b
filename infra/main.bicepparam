// The parameter file `azd provision` / `azd up` uses (azd reads infra/main.bicepparam and
// puts the azd environment's values into the environment before compiling it):
//   azd env set POLAR_SERVER production     (default: sandbox)
//   azd env set POLAR_ACCESS_TOKEN polar_oat_...
//   azd env set POLAR_WEBHOOK_SECRET whsec_...  (optional: Polar's webhook endpoint secret, docs/webhooks.md)
// For `az deployment group create`, use main.sandbox.bicepparam or main.production.bicepparam.
using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'credits-dev')
param polarServer = readEnvironmentVariable('POLAR_SERVER', 'sandbox')
param polarAccessToken = readEnvironmentVariable('POLAR_ACCESS_TOKEN', '')
param polarWebhookSecret = readEnvironmentVariable('POLAR_WEBHOOK_SECRET', '')

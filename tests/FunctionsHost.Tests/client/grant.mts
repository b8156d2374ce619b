// A frontend's use of the API through a client generated from its OpenAPI document (docs/http-api.md, "A typed client"):
// api.d.ts comes from `openapi-typescript <app>/api/openapi.json`, the calls from openapi-fetch. Compiled by tsc (strict)
// and run by Node in tests/FunctionsHost.Tests (OpenApiTests): node grant.mjs <baseUrl> <functionKey> <externalId>.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type GrantRequest = components["schemas"]["GrantRequest"];

const [baseUrl, functionKey, externalId] = process.argv.slice(2);
if (!baseUrl || !functionKey || !externalId) {
  throw new Error("usage: node grant.mjs <baseUrl> <functionKey> <externalId>");
}

const api = createClient<paths>({ baseUrl, headers: { "x-functions-key": functionKey } });

const grant: GrantRequest = {
  customer: { externalId, email: `${externalId}@credits.dev`, name: "Generated Client" },
  units: 12.5,
  reason: "typed client",
};
const granted = await api.POST("/grants", { body: grant, params: { header: { "Idempotency-Key": `ts-${externalId}` } } });
if (!granted.data) {
  throw new Error(`grant: ${granted.response.status} ${JSON.stringify(granted.error)}`);
}

const balance = await api.GET("/customers/{externalId}/balance", {
  params: { path: { externalId }, query: { meter: granted.data.meter } },
});
if (!balance.data) {
  throw new Error(`balance: ${balance.response.status} ${JSON.stringify(balance.error)}`);
}

// A problem answer is typed too: its `type` is one of the kinds the document lists for that status.
const missing = await api.GET("/customers/{externalId}/balance", { params: { path: { externalId: `${externalId}-nobody` } } });
const problemType: string | undefined = missing.error?.type;

console.log(JSON.stringify({
  grantStatus: granted.response.status,
  grant: granted.data,
  balance: balance.data.balance,
  problemStatus: missing.response.status,
  problemType,
}));

// Calls every operation the Polar emulator serves through Polar's official TypeScript SDK (@polar-sh/sdk), in every API
// version the SDK ships, and writes down what came back, for PolarEmulator.Tests/SdkConformanceTests to judge:
//   answers.json        every answer: version, operation, the OpenAPI component it must be, the body;
//   checks.json         every error check: what the SDK raised against what it should raise;
//   captured/<v>.ts     every answer as a literal that `satisfies` the SDK's own return type, for tsc to check.
// Usage: node run.mjs <emulator base URL> <token> <output folder>
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [baseUrl, accessToken, out] = process.argv.slice(2);
if (!baseUrl || !accessToken || !out) {
  console.error("usage: node run.mjs <base URL> <token> <output folder>");
  process.exit(2);
}

const versions = ["2026-04", "2026-10", "2027-01"];
const answers = [];
const checks = [];
mkdirSync(join(out, "captured"), { recursive: true });

for (const version of versions) {
  const sdk = await import(`@polar-sh/sdk/${version}`);
  const polar = sdk.createPolar({ accessToken, baseUrl: baseUrl.replace(/\/$/, ""), timeout: 30 });
  const captured = [];
  const unique = `${version}-${Date.now()}-${Math.random().toString(16).slice(2)}`;

  // Records an answer for the schema check and, unless it is void, for the type check.
  const answer = (operation, component, body) => {
    answers.push({ version, operation, component, body: body ?? null });
    if (body !== undefined) {
      const [service, method] = operation.split(".");
      captured.push(`export const answer${captured.length} = ${JSON.stringify(body, null, 2)} satisfies Answer<"${service}", "${method}">;`);
    }
    return body;
  };

  // Calls an operation that must fail, and records which error class the SDK raised and with what status.
  const expectError = async (name, call, expected, status) => {
    try {
      await call();
      checks.push({ version, name, ok: false, message: `no error was raised; expected ${expected} (${status})` });
    } catch (error) {
      const raised = error?.name ?? String(error);
      const code = error?.statusCode ?? null;
      const statusOk = status === undefined || code === status || String(error?.message).includes(`${status}`);
      checks.push({ version, name, ok: raised === expected && statusOk, message: `raised ${raised} (${code ?? error?.message}); expected ${expected} (${status})` });
    }
  };

  const customer = answer("customers.create", "Customer",
    await polar.customers.create({ email: `sdk-${unique}@acme.io`, external_id: `sdk-${unique}`, name: "SDK", metadata: { plan: "pro" } }));
  answer("customers.list", "ListResource_Customer_", await polar.customers.list({ email: customer.email, limit: 5 }));
  answer("customers.get", "Customer", await polar.customers.get(customer.id));
  answer("customers.getExternal", "Customer", await polar.customers.getExternal(customer.external_id));
  answer("customers.update", "Customer", await polar.customers.update(customer.id, { name: "SDK updated" }));
  answer("customers.updateExternal", "Customer", await polar.customers.updateExternal(customer.external_id, { name: "SDK again" }));

  const meter = answer("meters.create", "Meter", await polar.meters.create({
    name: `SDK meter ${unique}`,
    filter: { conjunction: "and", clauses: [{ property: "name", operator: "eq", value: `sdk_usage_${unique}` }] },
    aggregation: { func: "sum", property: "units" },
  }));
  answer("meters.list", "ListResource_Meter_", await polar.meters.list({ query: "SDK meter", limit: 100 }));
  answer("meters.get", "Meter", await polar.meters.get(meter.id));
  answer("meters.update", "Meter", await polar.meters.update(meter.id, { name: `SDK meter ${unique} renamed` }));

  const now = new Date();
  answer("events.ingest", "EventsIngestResponse", await polar.events.ingest({ events: [
    { name: `sdk_usage_${unique}`, customer_id: customer.id, external_id: `grant-${unique}`, metadata: { units: -10, grant_id: `grant-${unique}` } },
    { name: `sdk_usage_${unique}`, external_customer_id: customer.external_id, metadata: { units: 3, grant_id: `use-${unique}` } },
  ] }));
  const events = answer("events.list", "ListResource_Event_",
    await polar.events.list({ customer_id: customer.id, source: "user", metadata: { grant_id: `grant-${unique}` }, limit: 10 }));
  answer("events.get", "Event", await polar.events.get(events.items[0].id));

  const balances = answer("customerMeters.list", "ListResource_CustomerMeter_",
    await polar.customerMeters.list({ customer_id: customer.id, meter_id: meter.id }));
  answer("customerMeters.get", "CustomerMeter", await polar.customerMeters.get(balances.items[0].id));
  answer("customers.getState", "CustomerState", await polar.customers.getState(customer.id));
  answer("customers.getStateExternal", "CustomerState", await polar.customers.getStateExternal(customer.external_id));
  answer("meters.quantities", "MeterQuantities", await polar.meters.quantities(meter.id, {
    start_timestamp: new Date(now.getTime() - 3 * 3600_000).toISOString(),
    end_timestamp: new Date(now.getTime() + 3600_000).toISOString(),
    interval: "hour",
  }));

  await expectError("customers.get of an unknown id", () => polar.customers.get(crypto.randomUUID()), "ResourceNotFound", 404);
  await expectError("events.get of an unknown id", () => polar.events.get(crypto.randomUUID()), "ResourceNotFound", 404);
  await expectError("meters.get of a malformed id", () => polar.meters.get("not-a-uuid"), "HTTPValidationError", 422);
  await expectError("customers.create with a taken external id",
    () => polar.customers.create({ email: `other-${unique}@acme.io`, external_id: customer.external_id }), "HTTPValidationError", 422);
  await expectError("events.list with an unknown meter",
    () => polar.events.list({ meter_id: crypto.randomUUID() }), "HTTPValidationError", 422);
  await expectError("customers.export, which the emulator does not serve",
    () => polar.customers.export(), "PolarServerError", 501);
  await expectError("a token the emulator does not accept",
    () => polar.meters.list({}, { accessToken: "polar_oat_wrong" }), "PolarClientError", 401);

  answer("customers.deleteExternal", null, await polar.customers.deleteExternal(customer.external_id));
  const other = await polar.customers.create({ email: `sdk-delete-${unique}@acme.io` });
  answer("customers.delete", null, await polar.customers.delete(other.id));

  writeFileSync(join(out, "captured", `${version}.ts`), [
    `// Answers of the Polar emulator to Polar's SDK (${version}), captured by tests/PolarSdkConformance/run.mjs.`,
    `import type { Polar } from "@polar-sh/sdk/${version}";`,
    `type Answer<S extends keyof Polar, M extends keyof Polar[S]> = Polar[S][M] extends (...args: never[]) => Promise<infer R> ? R : never;`,
    ...captured,
    "",
  ].join("\n"));
}

writeFileSync(join(out, "answers.json"), JSON.stringify(answers, null, 2));
writeFileSync(join(out, "checks.json"), JSON.stringify(checks, null, 2));
console.log(`${answers.length} answers, ${checks.length} checks`);

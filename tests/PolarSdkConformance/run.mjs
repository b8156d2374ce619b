// Calls every operation the Polar emulator serves through Polar's official TypeScript SDK (@polar-sh/sdk), in every API
// version the SDK ships, and writes down what came back, for PolarEmulator.Tests/SdkConformanceTests to judge:
//   answers.json        every answer: version, operation, the OpenAPI component it must be, the body;
//   checks.json         every error check: what the SDK raised against what it should raise;
//   captured/<v>.ts     every answer as a literal that `satisfies` the SDK's own return type, for tsc to check.
//   webhooks.json       every webhook delivered to this suite's endpoint, per version: its type, whether the SDK's
//                       validateEvent accepted it (signature, timestamp, type), and its payload;
//   captured/<v>.ts     also every webhook payload as a literal that `satisfies` the SDK's webhook payload type.
// Usage: node run.mjs <emulator base URL> <token> <output folder>
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const [baseUrl, accessToken, out] = process.argv.slice(2);
if (!baseUrl || !accessToken || !out) {
  console.error("usage: node run.mjs <base URL> <token> <output folder>");
  process.exit(2);
}

const versions = ["2026-04", "2026-10", "2027-01"];
const answers = [];
const checks = [];
const webhookResults = [];
const captures = Object.fromEntries(versions.map((v) => [v, []]));
mkdirSync(join(out, "captured"), { recursive: true });

// The emulator's own controls (/__emulator/, not Polar's API, so not in the SDK): plain fetch with the token.
const control = async (method, path, body) => {
  const response = await fetch(`${baseUrl.replace(/\/$/, "")}${path}`, {
    method,
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
    body: body === undefined ? (method === "POST" ? "" : undefined) : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  }
  return response.status === 204 ? undefined : response.json();
};

// A webhook endpoint on a free loopback port: keeps each request's headers and raw body, answers 204.
const received = [];
const receiver = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
    response.writeHead(204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const webhookSecret = "whsec_" + Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64");
await control("POST", "/__emulator/webhooks/endpoints", { url: `http://127.0.0.1:${receiver.address().port}/polar`, secret: webhookSecret });

for (const version of versions) {
  const sdk = await import(`@polar-sh/sdk/${version}`);
  const polar = sdk.createPolar({ accessToken, baseUrl: baseUrl.replace(/\/$/, ""), timeout: 30 });
  const captured = captures[version];
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

  // Polar's lifecycle, simulated by the emulator: a Meter Credit subscription granted, cycled and revoked, an order refunded.
  const subscription = await control("POST", "/__emulator/subscriptions", { customer_id: customer.id, meter_id: meter.id, units: 100, rollover: true });
  await control("POST", `/__emulator/subscriptions/${subscription.id}/cycle`);
  await control("POST", `/__emulator/subscriptions/${subscription.id}/cancel`);
  await control("POST", `/__emulator/subscriptions/${subscription.id}/revoke`);
  const order = await control("POST", "/__emulator/orders", { customer_id: customer.id, meter_id: meter.id, units: 10 });
  await control("POST", `/__emulator/orders/${order.id}/refund?revoke_benefits=true`);
  const system = answer("events.list", "ListResource_Event_",
    await polar.events.list({ customer_id: customer.id, source: "system", sorting: "timestamp", limit: 100 }));
  const systemNames = new Set(system.items.map((e) => e.name));
  for (const name of ["customer.created", "customer.updated", "meter.credited", "meter.reset"]) {
    checks.push({ version, name: `events.list source=system lists ${name}`, ok: systemNames.has(name), message: `listed: ${[...systemNames].join(", ")}` });
  }

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

}

// Every webhook the emulator sent this suite (deliveries are asynchronous: wait until its log has nothing pending).
const deadline = Date.now() + 30_000;
let log = await control("GET", "/__emulator/webhooks/deliveries");
while (log.items.some((d) => d.status === "pending") && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  log = await control("GET", "/__emulator/webhooks/deliveries");
}
receiver.close();
checks.push({ version: "all", name: "every webhook delivery succeeded", ok: log.items.every((d) => d.status === "succeeded"),
  message: log.items.filter((d) => d.status !== "succeeded").map((d) => `${d.type} ${d.status}`).join(", ") || `${log.items.length} delivered` });

const payloadType = (type) => "Webhook" + type.split(/[._]/).map((w) => w[0].toUpperCase() + w.slice(1)).join("") + "Payload";
for (const version of versions) {
  const { webhooks } = await import(`@polar-sh/sdk/${version}`);
  for (const { headers, body } of received) {
    let verified = false;
    let error = null;
    try {
      await webhooks.validateEvent(body, headers, webhookSecret);
      verified = true;
    } catch (e) {
      error = `${e?.name}: ${e?.message}`;
    }
    const payload = JSON.parse(body);
    webhookResults.push({ version, type: payload.type, verified, error, payload });
    const type = payload.type === "customer.state_changed" ? "StateChanged" : `webhooks.${payloadType(payload.type)}`;
    captures[version].push(`export const webhook${captures[version].length} = ${JSON.stringify(payload, null, 2)} satisfies ${type};`);
  }

  // The SDK must refuse what the emulator did not sign: the check above means something only if this fails.
  const [first] = received;
  const tampered = first.body.replace(/"type":/, '"type" :');
  try {
    await webhooks.validateEvent(tampered, first.headers, webhookSecret);
    checks.push({ version, name: "validateEvent refuses a tampered body", ok: false, message: "accepted" });
  } catch (e) {
    checks.push({ version, name: "validateEvent refuses a tampered body", ok: e?.name === "PolarWebhookVerificationError", message: `raised ${e?.name}` });
  }

  writeFileSync(join(out, "captured", `${version}.ts`), [
    `// Answers of the Polar emulator to Polar's SDK (${version}), captured by tests/PolarSdkConformance/run.mjs.`,
    `import type { Polar, models, webhooks } from "@polar-sh/sdk/${version}";`,
    `type Answer<S extends keyof Polar, M extends keyof Polar[S]> = Polar[S][M] extends (...args: never[]) => Promise<infer R> ? R : never;`,
    `// The SDK types CustomerStateSubscription.status as its \`Status\` ("granted" | "disabled", a license-key enum: a name`,
    `// collision in its generated models), so no customer state with a subscription satisfies it; Polar's schema says`,
    `// "active" | "trialing". Only that field is replaced; the schema check validates it as Polar's schema says.`,
    `type FixedSubscription = Omit<models.CustomerStateSubscription, "status"> & { status: "active" | "trialing" };`,
    `type FixedState<T> = T extends { active_subscriptions: unknown } ? Omit<T, "active_subscriptions"> & { active_subscriptions: FixedSubscription[] } : T;`,
    `type StateChanged = Omit<webhooks.WebhookCustomerStateChangedPayload, "data"> & { data: FixedState<webhooks.WebhookCustomerStateChangedPayload["data"]> };`,
    ...captures[version],
    "",
  ].join("\n"));
}

writeFileSync(join(out, "answers.json"), JSON.stringify(answers, null, 2));
writeFileSync(join(out, "checks.json"), JSON.stringify(checks, null, 2));
writeFileSync(join(out, "webhooks.json"), JSON.stringify(webhookResults, null, 2));
console.log(`${answers.length} answers, ${checks.length} checks, ${webhookResults.length} webhook verifications`);

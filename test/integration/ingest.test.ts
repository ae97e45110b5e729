import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { AuditDocument } from "../../src/events/event.mapping.ts";
import { fromDocument } from "../../src/events/event.mapping.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";

const { app, client, readiness } = testApp(inject("opensearchUrl"));
beforeAll(async () => {
  await readiness.runOnce(client, await loadAssets());
});
afterAll(() => client.close());

async function post(tenant: string, body: unknown, opts: { contentType?: string; scope?: string } = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  return app.request("/v1/audit/events", {
    method: "POST",
    body: raw,
    headers: {
      Authorization: `Bearer ${await tokenFor(tenant, opts.scope ?? "audit:write")}`,
      "Content-Type": opts.contentType ?? "application/json",
    },
  });
}

/** The raw stored documents of a tenant, read straight from OpenSearch. */
async function storedDocs(tenant: string): Promise<AuditDocument[]> {
  await client.indices.refresh({ index: "audit-events" });
  const res = await client.search({
    index: "audit-events",
    body: {
      query: { term: { "scaivault.tenant": tenant } },
      size: 1000,
      sort: [{ "@timestamp": "asc" }, { "event.id": "asc" }],
    },
  });
  return res.body.hits.hits.map((h) => h._source as AuditDocument);
}

describe("POST /v1/audit/events", () => {
  it("stores events durably under the token's tenant, in the documented shape, microseconds exact", async () => {
    const tenant = newTenant();
    const sent = [
      event({ id: "evt-1", timestamp: "2026-11-26T15:30:05.123456+01:00" }),
      event({ id: "evt-2" }),
    ];
    const res = await post(tenant, { events: sent });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ accepted: 2, duplicates: 0, rejected: [], ids: ["evt-1", "evt-2"] });

    const docs = await storedDocs(tenant);
    expect(docs).toHaveLength(2);
    const first = docs.find((d) => d.event.id === "evt-1") as AuditDocument;
    expect(first["@timestamp"]).toBe("2026-11-26T14:30:05.123456Z");
    expect(first.scaivault.tenant).toBe(tenant);
    expect(first.event.duration).toBe(3_214_000);
    expect(fromDocument(first)).toMatchObject({
      id: "evt-1",
      timestamp: "2026-11-26T14:30:05.123456Z",
      action: "read",
    });
  });

  it("assigns ULIDs to events without an id", async () => {
    const tenant = newTenant();
    const { id: _a, ...a } = event();
    const { id: _b, ...b } = event();
    const body = await json(await post(tenant, { events: [a, b] }));
    expect(body.accepted).toBe(2);
    expect(body.ids).toHaveLength(2);
    for (const id of body.ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(body.ids).size).toBe(2);
  });

  it("stores an id once: within a batch and across batches the first write wins", async () => {
    const tenant = newTenant();
    const first = await json(
      await post(tenant, {
        events: [event({ id: "dup", path: "first" }), event({ id: "dup", path: "second" })],
      }),
    );
    expect(first).toMatchObject({ accepted: 1, duplicates: 1, ids: ["dup", "dup"] });
    const again = await json(
      await post(tenant, { events: [event({ id: "dup", path: "third" }), event({ id: "fresh" })] }),
    );
    expect(again).toMatchObject({ accepted: 1, duplicates: 1 });
    const docs = await storedDocs(tenant);
    expect(docs.map((d) => d.event.id).sort()).toEqual(["dup", "fresh"]);
    expect(docs.filter((d) => d.event.id === "dup").map((d) => d.scaivault.path)).toEqual(["first"]);
  });

  it("lets two tenants use the same event id independently", async () => {
    const [a, b] = [newTenant("a"), newTenant("b")];
    expect((await json(await post(a, { events: [event({ id: "shared" })] }))).accepted).toBe(1);
    expect((await json(await post(b, { events: [event({ id: "shared" })] }))).accepted).toBe(1);
    expect(await storedDocs(a)).toHaveLength(1);
    expect(await storedDocs(b)).toHaveLength(1);
  });

  it("rejects invalid events one by one, with field-level messages, and stores the rest", async () => {
    const tenant = newTenant();
    const res = await post(tenant, {
      events: [
        event({ id: "ok-1" }),
        event({ action: "peek" }),
        event({ id: "ok-2" }),
        event({ source_ip: "nope", surprise: 1 }),
      ],
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.accepted + body.duplicates + body.rejected.length).toBe(4);
    expect(body.accepted).toBe(2);
    expect(body.ids).toEqual(["ok-1", null, "ok-2", null]);
    expect(body.rejected).toEqual([
      { index: 1, errors: [{ field: "action", message: expect.any(String) }] },
      {
        index: 3,
        errors: expect.arrayContaining([
          { field: "surprise", message: "is not a known field" },
          { field: "source_ip", message: "must be an IPv4 or IPv6 address" },
        ]),
      },
    ]);
    expect((await storedDocs(tenant)).map((d) => d.event.id).sort()).toEqual(["ok-1", "ok-2"]);
  });

  it("counts outcomes and redactions in /metrics", async () => {
    const counter = async (outcome: string) => {
      const text = await (await app.request("/metrics")).text();
      return Number(
        new RegExp(`audit_events_ingested_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
      );
    };
    const before = {
      accepted: await counter("accepted"),
      rejected: await counter("rejected"),
      redacted: await counter("redacted"),
    };
    await post(newTenant(), {
      events: [event({ context: { password: "x", api_key: "y" } }), event({ action: "nope" })],
    });
    expect(await counter("accepted")).toBe(before.accepted + 1);
    expect(await counter("rejected")).toBe(before.rejected + 1);
    expect(await counter("redacted")).toBe(before.redacted + 2);
  });

  it("redacts secret values in context at any depth before storing", async () => {
    const tenant = newTenant();
    await post(tenant, {
      events: [
        event({
          id: "r1",
          context: { secret_path: "prod/db", db_password: "hunter2", nested: [{ apiKey: "AKIA123" }] },
        }),
      ],
    });
    const [doc] = await storedDocs(tenant);
    expect(doc?.scaivault.context).toEqual({
      secret_path: "prod/db",
      db_password: "[REDACTED]",
      nested: [{ apiKey: "[REDACTED]" }],
    });
    const raw = await client.search({
      index: "audit-events",
      body: { query: { term: { "scaivault.tenant": tenant } } },
    });
    expect(JSON.stringify(raw.body)).not.toMatch(/hunter2|AKIA123/);
  });

  it("accepts NDJSON, reporting a line that is not JSON by its index", async () => {
    const tenant = newTenant();
    const lines = [
      JSON.stringify(event({ id: "n1" })),
      "{not json",
      "",
      JSON.stringify(event({ id: "n2" })),
    ].join("\n");
    const body = await json(await post(tenant, lines, { contentType: "application/x-ndjson" }));
    expect(body).toMatchObject({
      accepted: 2,
      ids: ["n1", null, "n2"],
      rejected: [{ index: 1, errors: [{ field: "event" }] }],
    });
  });

  it("refuses a tenant field in the body or on any event, storing nothing", async () => {
    const tenant = newTenant();
    const top = await post(tenant, { tenant: "other", events: [event()] });
    expect(top.status).toBe(400);
    expect((await json(top)).errors).toEqual([
      { field: "tenant", message: expect.stringContaining("token") },
    ]);
    const inner = await post(tenant, { events: [event(), event({ tenant: "other" })] });
    expect(inner.status).toBe(400);
    expect((await json(inner)).errors).toEqual([{ field: "events[1].tenant", message: expect.any(String) }]);
    expect(await storedDocs(tenant)).toHaveLength(0);
  });

  it.each([
    ["no events", { events: [] }, 400, "events"],
    ["not an array", { events: {} }, 400, "events"],
    ["an unknown field", { events: [event()], extra: true }, 400, "extra"],
    ["broken JSON", "{", 400, "body"],
  ])("answers %s with a 400 naming the field", async (_n, body, status, field) => {
    const res = await post(newTenant(), body);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(res)).errors[0].field).toBe(field);
  });

  it("answers 413 beyond 10,000 events and 415 for other content types", async () => {
    const many = { events: Array.from({ length: 10_001 }, () => ({ action: "read" })) };
    expect((await post(newTenant(), many)).status).toBe(413);
    const res = await post(newTenant(), "a,b,c", { contentType: "text/csv" });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("needs a token with audit:write", async () => {
    expect((await app.request("/v1/audit/events", { method: "POST", body: "{}" })).status).toBe(401);
    expect((await post(newTenant(), { events: [event()] }, { scope: "audit:read" })).status).toBe(403);
  });

  it("makes accepted events visible to search within 2 s", async () => {
    const tenant = newTenant();
    await post(tenant, { events: [event({ id: "visible" })] });
    const deadline = Date.now() + 2000;
    let found = 0;
    while (Date.now() < deadline && found === 0) {
      const res = await client.count({
        index: "audit-events",
        body: { query: { term: { "scaivault.tenant": tenant } } },
      });
      found = res.body.count;
      if (found === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found).toBe(1);
  });
});

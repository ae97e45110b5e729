/**
 * Hostile input against a real OpenSearch: what a caller with audit:write can send, and documents
 * that reached the cluster by other means. Nothing may answer 5xx, no stored document may break a
 * read or another tenant's live tail, and nothing ingest accepts may be out of reach of a read.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type AuditDocument, toDocument } from "../../src/events/event.mapping.ts";
import { REDACTED } from "../../src/events/redaction.ts";
import { FILTER_PARAMS } from "../../src/filters/filters.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
import { json, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { openStream, servedForFile } from "../support/sse.ts";

const url = inject("opensearchUrl");
const server = servedForFile(url, { stream: { heartbeatMs: 300 } });
const { app, client } = server;

const ALL = "audit:read audit:write audit:export audit:admin";

async function post(tenant: string, body: string, contentType = "application/json") {
  return app.request("/v1/audit/events", {
    method: "POST",
    body,
    headers: { Authorization: `Bearer ${await tokenFor(tenant, ALL)}`, "Content-Type": contentType },
  });
}
const postEvents = (tenant: string, events: unknown[]) => post(tenant, JSON.stringify({ events }));
async function get(tenant: string, path: string) {
  return app.request(path, { headers: { Authorization: `Bearer ${await tokenFor(tenant, ALL)}` } });
}
const refresh = () => client.indices.refresh({ index: AUDIT_STREAM });

/** A document written straight into the data stream, bypassing ingest (as a cluster writer could). */
async function insertRaw(tenant: string, id: string, doc: Record<string, unknown>): Promise<void> {
  await client.index({ index: AUDIT_STREAM, id: `${tenant}:${id}`, op_type: "create", body: doc as never });
}

/** A stored document as ingest would write it, then altered by `alter`. */
function rawDoc(tenant: string, id: string, alter: (d: AuditDocument & Record<string, any>) => void) {
  const e = event({ id }) as Record<string, any>;
  const doc = toDocument(
    {
      ...e,
      identity: { ...e.identity, session_id: e.identity.session_id },
      request: { ...e.request },
      error_code: null,
    } as never,
    tenant,
    new Date().toISOString(),
  ) as AuditDocument & Record<string, any>;
  alter(doc);
  return doc;
}

/** The poison classes: prototype keys, and documents whose shape ingest would never write. */
function poisonDocs(tenant: string): [string, Record<string, unknown>][] {
  return [
    [
      "constructor-prototype",
      rawDoc(tenant, "constructor-prototype", (d) => {
        d.scaivault.context = JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}');
      }),
    ],
    [
      "proto",
      rawDoc(tenant, "proto", (d) => {
        d.scaivault.context = JSON.parse('{"__proto__":{"password":"p"},"keep":"k"}');
      }),
    ],
    [
      "numbers-as-text",
      rawDoc(tenant, "numbers-as-text", (d) => {
        d.user = { id: 12345 as never };
        d.event.action = 7 as never;
      }),
    ],
    [
      "arrays",
      rawDoc(tenant, "arrays", (d) => {
        d.user = { id: ["user:a", "user:b"] as never };
      }),
    ],
    [
      "no-optional",
      rawDoc(tenant, "no-optional", (d) => {
        delete d.http;
        delete d.source;
        delete d.user_agent;
        delete (d.scaivault as Record<string, unknown>).identity;
      }),
    ],
    [
      "epoch-millis",
      rawDoc(tenant, "epoch-millis", (d) => {
        (d as Record<string, unknown>)["@timestamp"] = Date.parse("2026-11-26T14:59:00.000Z");
      }),
    ],
  ];
}

describe("a poisoned document", () => {
  it("never breaks a page, a trail, a summary, or any tenant's live tail", async () => {
    const attacker = newTenant("poison");
    const bystander = newTenant("bystander");
    const token = (t: string) => tokenFor(t, "audit:read");
    const [{ stream: mine }, { stream: theirs }] = await Promise.all([
      openStream(server.base, await token(attacker)),
      openStream(server.base, await token(bystander)),
    ]);
    if (!mine || !theirs) throw new Error("streams did not open");

    const poison = poisonDocs(attacker);
    for (const [id, doc] of poison) await insertRaw(attacker, id, doc);
    const bystanders = Array.from({ length: 11 }, (_, i) => event({ id: `b-${i}` }));
    expect((await postEvents(bystander, bystanders)).status).toBe(200);
    expect((await postEvents(attacker, [event({ id: "after-poison" })])).status).toBe(200);

    // Another tenant's stream gets every one of its events; the attacker's own gets its documents too.
    await theirs.until(() => theirs.received === bystanders.length, 10_000, "the bystander's stream");
    await mine.until(() => mine.received === poison.length + 1, 10_000, "the attacker's stream");
    expect(theirs.events.map((e) => e.id)).toEqual(bystanders.map((e) => e.id));
    expect(mine.events.map((e) => e.id).sort()).toEqual([...poison.map(([id]) => id), "after-poison"].sort());
    const proto = mine.events.find((e) => e.id === "proto");
    expect(Object.keys(proto.context)).toEqual(["__proto__", "keep"]);
    mine.close();
    theirs.close();

    await refresh();
    const logs = await get(attacker, "/v1/audit/logs?limit=1000");
    expect(logs.status).toBe(200);
    const entries = (await json(logs)).entries as { id: string; identity: { id: string }; path: string }[];
    expect(entries.map((e) => e.id).sort()).toEqual([...poison.map(([id]) => id), "after-poison"].sort());
    const cp = entries.find((e) => e.id === "constructor-prototype") as (typeof entries)[number];
    for (const path of [
      `/v1/audit/secrets/${cp.path.split("/").map(encodeURIComponent).join("/")}`,
      `/v1/audit/identities/${encodeURIComponent(cp.identity.id)}`,
      `/v1/audit/identities/${encodeURIComponent(cp.identity.id)}/paths`,
      "/v1/audit/logs?q=yes",
      "/v1/audit/logs?limit=1",
      "/v1/audit/summary",
      "/v1/audit/summary/series?group_by=identity_id",
    ]) {
      const res = await get(attacker, path);
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
    }
    // Paging over the odd documents with a cursor works too.
    let next = "/v1/audit/logs?limit=1";
    const paged: string[] = [];
    while (next) {
      const body = await json(await get(attacker, next));
      paged.push(...body.entries.map((e: { id: string }) => e.id));
      next = body.next_cursor ? `/v1/audit/logs?limit=1&cursor=${encodeURIComponent(body.next_cursor)}` : "";
    }
    expect(paged).toEqual(entries.map((e) => e.id));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("ingest", () => {
  it("refuses each poison class by field, stores the rest of the batch, alters nothing it keeps", async () => {
    const tenant = newTenant("refuse");
    const ok = (id: string) => JSON.stringify(event({ id }));
    const withContext = (id: string, contextJson: string) =>
      ok(id).replace(/"context":\{[^}]*\}/, `"context":${contextJson}`);
    const items: [string, string | null][] = [
      [ok("fine-1"), null],
      [withContext("ctor", '{"constructor":{"prototype":{"polluted":"yes"}}}'), "context.constructor"],
      [withContext("proto", '{"__proto__":{"password":"p"},"keep":"k"}'), "context.__proto__"],
      [withContext("deep", `{"a":${"[".repeat(5000)}1${"]".repeat(5000)}}`), "context"],
      [withContext("inf", '{"n":1e400}'), "context.n"],
      [withContext("big", '{"n":12345678901234567890}'), "context.n"],
      [withContext("dup", '{"a":1,"a":2}'), "context.a"],
      [withContext("surrogate", '{"a":"\\ud800"}'), "context.a"],
      [ok("nul-id").replace('"identity":{"id":"', '"identity":{"id":"user:\\u0000'), "identity.id"],
      [ok("ua-lf").replace('"user_agent":"', '"user_agent":"cli/1.0\\n=2+5+cmd|'), "user_agent"],
      [ok("esc-req").replace('"request":{"id":"', '"request":{"id":"\\u001b[2J'), "request.id"],
      [ok("lsep").replace(/"path":"[^"]*"/, '"path":"prod/line\\u2028sep"'), "path"],
      [ok("dots").replace(/"path":"[^"]*"/, '"path":"prod/../x"'), "path"],
      [ok("fine-2"), null],
    ];
    const res = await post(tenant, `{"events":[${items.map(([e]) => e).join(",")}]}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body.accepted).toBe(2);
    for (const [i, [, field]] of items.entries()) {
      const rejected = body.rejected.find((r: { index: number }) => r.index === i);
      if (field === null) expect(rejected, `item ${i}`).toBeUndefined();
      else
        expect(
          rejected?.errors.map((e: { field: string }) => e.field),
          `item ${i}`,
        ).toContain(field);
    }
    await refresh();
    const stored = (await json(await get(tenant, "/v1/audit/logs"))).entries;
    expect(stored.map((e: { id: string }) => e.id).sort()).toEqual(["fine-1", "fine-2"]);
  });

  it("stores no secret value in any shape, counts each rule in /metrics", async () => {
    const tenant = newTenant("secrets");
    const gh = ["ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"].join("");
    const jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    const secrets = ["hunter2", "s3cr3t-value", "apikey-value", gh, jwt, "pgpass99", "cookie-value-123"];
    const e = event({
      id: "leaky",
      user_agent: `cli/2.0 (${jwt})`,
      context: {
        apikey: "apikey-value",
        accesstoken: "s3cr3t-value",
        "db:password": "hunter2",
        "password\u200b": "hunter2",
        Authorization: "Bearer s3cr3t-value",
        cookie: "cookie-value-123",
        note: `deploy with ${gh}`,
        dsn: "postgres://app:pgpass99@db:5432/x",
        url: "postgres://app:pgpass99@db:5432/x",
        nested: [
          {
            private_key_pem:
              "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----",
          },
        ],
        secret_path: "prod/db",
        token_ttl: 3600,
        key_id: "k-1",
      },
    });
    const res = await postEvents(tenant, [e]);
    expect((await json(res)).accepted).toBe(1);
    await refresh();
    const raw = await client.search({
      index: AUDIT_STREAM,
      body: { query: { term: { "scaivault.tenant": tenant } } } as never,
    });
    const stored = JSON.stringify(raw.body.hits.hits);
    for (const s of secrets) expect(stored, s).not.toContain(s);
    const read = (await json(await get(tenant, "/v1/audit/logs"))).entries[0];
    expect(read.context.secret_path).toBe("prod/db");
    expect(read.context.token_ttl).toBe(3600);
    expect(read.context.key_id).toBe("k-1");
    expect(read.context.url).toBe(`postgres://app:${REDACTED}@db:5432/x`);
    const metrics = await (await app.request("/metrics")).text();
    for (const rule of ["key", "github", "jwt", "url-password"])
      expect(metrics).toMatch(new RegExp(`audit_redactions_total\\{rule="${rule}"\\} [1-9]`));
  });
});

describe("what ingest accepts, every read reaches", () => {
  it("paths and identity ids with any character a URL can carry", async () => {
    const tenant = newTenant("reach");
    const paths = [
      "secret/metadata/",
      "prod/a b",
      "prod/100%",
      "prod/%2e%2e",
      "prod/x?y#z",
      "prod/a+b;c=d",
      "ü/ж/🙂",
      "prod/tab\u00a0nbsp",
      "prod/quote\"'`",
    ];
    const identities = ["user:a/b", "user:100%", "user:x?y#z", "user:a+b", "service_account:ü 🙂", "user:.."];
    const events = [
      ...paths.map((path, i) => event({ id: `p${i}`, path })),
      ...identities.map((id, i) => event({ id: `i${i}`, identity: { id, type: id.split(":")[0] } })),
    ];
    const res = await postEvents(tenant, events);
    expect(await json(res)).toMatchObject({ accepted: events.length, rejected: [] });
    await refresh();
    for (const [i, path] of paths.entries()) {
      const encoded = path.split("/").map(encodeURIComponent).join("/");
      const body = await json(await get(tenant, `/v1/audit/secrets/${encoded}`));
      expect(body.path, path).toBe(path);
      expect(
        body.entries.map((e: { id: string }) => e.id),
        path,
      ).toEqual([`p${i}`]);
    }
    for (const [i, id] of identities.entries()) {
      const trail = await json(await get(tenant, `/v1/audit/identities/${encodeURIComponent(id)}`));
      expect(trail.identity_id, id).toBe(id);
      expect(
        trail.entries.map((e: { id: string }) => e.id),
        id,
      ).toEqual([`i${i}`]);
      const touched = await json(await get(tenant, `/v1/audit/identities/${encodeURIComponent(id)}/paths`));
      expect(touched.paths).toHaveLength(1);
    }
  });
});

describe("client mistakes are a 4xx naming the field", () => {
  const tenant = newTenant("mistakes");
  beforeAll(async () => {
    const ips = ["10.1.2.3", "10.200.0.9", "192.168.1.20", "2001:db8::7"];
    await postEvents(
      tenant,
      Array.from({ length: 40 }, (_, i) =>
        event({
          id: `m-${i}`,
          source_ip: ips[i % ips.length],
          timestamp: new Date(Date.now() - i * 3_600_000).toISOString(),
        }),
      ),
    );
    await refresh();
  });

  it.each([
    ["/v1/audit/logs?from=now%2B13000w", "from"],
    ["/v1/audit/logs?to=now%2B13000w", "to"],
    ["/v1/audit/summary?from=now%2B13000w", "from"],
    ["/v1/audit/summary/series?group_by=path&from=now%2B13000w", "from"],
    ["/v1/audit/logs?from=now-999999w", "from"],
    ["/v1/audit/logs?source_ip=::ffff:0:0/80", "source_ip"],
    ["/v1/audit/anomalies?group_by=path&from=1970-01-02&to=1970-01-03&baseline=P28D", "baseline"],
    ["/v1/audit/anomalies?group_by=path&from=now-1s&to=now&baseline=PT100H", "baseline"],
    ["/v1/audit/summary?interval=1m&from=2000-01-01", "interval"],
  ])("%s → 400 naming %s", async (path, field) => {
    const res = await get(tenant, path);
    expect(res.status, await res.clone().text()).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(res)).errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it.each([
    ["/v1/audit/retention", "PUT", '{"retention_days":30,"retention_days":3650}', "retention_days"],
    ["/v1/audit/retention", "PUT", '{"retention_days":1e400}', "retention_days"],
    [
      "/v1/audit/exports",
      "POST",
      '{"filters":{"limit":12345678901234567890},"destination":{"type":"s3"}}',
      "filters.limit",
    ],
    ["/v1/audit/exports", "POST", '{"format":"csv","format":"jsonl"}', "format"],
  ])("%s %s %s → 400 naming %s", async (path, method, body, field) => {
    const res = await app.request(path, {
      method,
      body,
      headers: { Authorization: `Bearer ${await tokenFor(tenant, ALL)}`, "Content-Type": "application/json" },
    });
    expect(res.status, await res.clone().text()).toBe(400);
    expect((await json(res)).errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it("an IPv4-mapped block finds what the IPv4 block finds", async () => {
    const ids = async (q: string) =>
      (await json(await get(tenant, `/v1/audit/logs?limit=1000&${q}`))).entries.map(
        (e: { id: string }) => e.id,
      );
    const v4 = await ids("source_ip=10.0.0.0/8");
    expect(v4.length).toBe(20);
    expect(await ids(`source_ip=${encodeURIComponent("::ffff:10.0.0.0/104")}`)).toEqual(v4);
    expect(await ids(`source_ip=${encodeURIComponent("::ffff:10.1.2.3")}`)).toEqual(
      await ids("source_ip=10.1.2.3"),
    );
  });

  it("an hour's window against a 4-week baseline is answered, not refused by OpenSearch", async () => {
    const res = await get(tenant, "/v1/audit/anomalies?group_by=path&from=now-1h&to=now&baseline=P28D");
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it("a long series page is cut to what one request may hold, and pages on", async () => {
    const res = await get(
      tenant,
      "/v1/audit/summary/series?group_by=source_ip&interval=1m&from=now-3d&limit=1000",
    );
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body.series.length).toBeLessThanOrEqual(4);
    let total = body.series.length;
    let cursor = body.next_cursor;
    while (cursor) {
      const page = await json(
        await get(
          tenant,
          `/v1/audit/summary/series?group_by=source_ip&interval=1m&from=now-3d&limit=1000&cursor=${encodeURIComponent(cursor)}`,
        ),
      );
      total += page.series.length;
      cursor = page.next_cursor;
    }
    expect(total).toBe(4);
  });

  it("a cursor works only on the endpoint that issued it", async () => {
    const id = "user:person1@acme.example";
    const paths = await json(
      await get(tenant, `/v1/audit/identities/${encodeURIComponent(id)}/paths?limit=1`),
    );
    const logs = await json(
      await get(tenant, `/v1/audit/logs?identity_id=${encodeURIComponent(id)}&limit=1`),
    );
    expect(paths.next_cursor).toBeTruthy();
    expect(logs.next_cursor).toBeTruthy();
    for (const path of [
      `/v1/audit/logs?identity_id=${encodeURIComponent(id)}&limit=1&cursor=${encodeURIComponent(paths.next_cursor)}`,
      `/v1/audit/identities/${encodeURIComponent(id)}/paths?limit=1&cursor=${encodeURIComponent(logs.next_cursor)}`,
      `/v1/audit/identities/${encodeURIComponent(id)}?limit=1&cursor=${encodeURIComponent(logs.next_cursor)}`,
    ]) {
      const res = await get(tenant, path);
      expect(res.status, path).toBe(400);
      expect((await json(res)).errors).toEqual([
        { field: "cursor", message: expect.stringContaining("endpoint") },
      ]);
    }
  });
});

describe("random input never makes the service fail", () => {
  const tenant = newTenant("fuzz");
  const interesting = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.constantFrom(
      "now",
      "now-1s",
      "now+13000w",
      "now-99999w",
      "1970-01-01",
      "2261-12-31",
      "2262-04-12",
      "0000-01-01",
    ),
    fc.integer().map(String),
    fc.double().map(String),
    fc.ipV4().map((ip) => `${ip}/${Math.floor(Math.random() * 40)}`),
    fc.ipV6().map((ip) => `${ip}/${Math.floor(Math.random() * 140)}`),
    fc.constantFrom(
      "::ffff:10.0.0.0/104",
      "::ffff:0:0/0",
      "::/0",
      "0.0.0.0/0",
      "P28D",
      "PT100H",
      "P0D",
      "1M",
      "1m",
    ),
  );
  const names = fc.constantFrom(
    ...FILTER_PARAMS,
    ...["limit", "cursor", "interval", "top", "group_by", "baseline", "threshold", "min_count", "unknown"],
  );
  const endpoints = [
    "/v1/audit/logs",
    "/v1/audit/secrets/prod/db",
    "/v1/audit/identities/user%3Aa",
    "/v1/audit/identities/user%3Aa/paths",
    "/v1/audit/summary",
    "/v1/audit/summary/series",
    "/v1/audit/anomalies",
  ];

  beforeAll(async () => {
    await postEvents(
      tenant,
      Array.from({ length: 30 }, (_, i) => event({ id: `f-${i}` })),
    );
    await refresh();
  });

  it.each(endpoints)("%s: any parameters → never 5xx", async (endpoint) => {
    const token = await tokenFor(tenant, "audit:read");
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(names, interesting), { maxLength: 6 }), async (pairs) => {
        const query = new URLSearchParams(pairs).toString();
        const res = await app.request(`${endpoint}?${query}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        if (res.status >= 500) throw new Error(`${res.status} for ${endpoint}?${query}: ${await res.text()}`);
      }),
      { numRuns: 120 },
    );
  });

  it("any event → stored or rejected by field, never 5xx", async () => {
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
    );
    const anEvent = fc.record(
      {
        id: fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._~-]{0,20}$/)),
        timestamp: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        action: fc.oneof(fc.constantFrom("read", "write", "rotate"), fc.string()),
        path: fc.oneof(fc.string(), fc.string({ unit: "binary" })),
        identity: fc.record({
          id: fc.oneof(
            fc.string().map((s) => `user:${s}`),
            fc.string({ unit: "binary" }),
          ),
          type: fc.constantFrom("user", "group", "robot"),
          session_id: value,
        }),
        source_ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
        user_agent: value,
        request: fc.record({ id: value, method: value, status: value, duration_ms: value }),
        success: fc.oneof(fc.boolean(), value),
        error_code: value,
        context: fc.oneof(fc.jsonValue(), fc.object()),
      },
      { requiredKeys: ["timestamp", "action", "path", "identity", "success"] },
    );
    const token = await tokenFor(tenant, "audit:write");
    await fc.assert(
      fc.asyncProperty(fc.array(anEvent, { minLength: 1, maxLength: 5 }), async (events) => {
        const res = await app.request("/v1/audit/events", {
          method: "POST",
          body: JSON.stringify({ events }),
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        });
        if (res.status >= 500)
          throw new Error(`${res.status} for ${JSON.stringify(events).slice(0, 500)}: ${await res.text()}`);
        if (res.status === 200) {
          const body = await json(res);
          expect(body.accepted + body.duplicates + body.rejected.length).toBe(events.length);
        }
      }),
      { numRuns: 150 },
    );
    await refresh();
    // Whatever was stored reads back on every path that lists it.
    let next = "/v1/audit/logs?limit=50";
    while (next) {
      const res = await get(tenant, next);
      expect(res.status).toBe(200);
      const body = await json(res);
      next = body.next_cursor ? `/v1/audit/logs?limit=50&cursor=${encodeURIComponent(body.next_cursor)}` : "";
    }
  });
});

/**
 * Exports end to end: the API, the worker, a real OpenSearch and real S3 (moto), GCS
 * (fake-gcs-server) and Azure Blob (Azurite) servers on loopback. What was written is downloaded
 * and compared with the events the same filters return from /v1/audit/logs.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import { ExportWorker } from "../../src/features/exports/exports.worker.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, TEST_SECRET, testApp, tokenFor } from "../support/app.ts";
import { type Destinations, type Kind, startDestinations, startGate } from "../support/destinations.ts";
import { CSV_HOSTILE_TEXTS, event, newTenant } from "../support/events.ts";
import { ocsfProblems } from "../support/ocsf-oracle.ts";
import { exitOf, startService, waitForStatus } from "../support/process.ts";

const url = inject("opensearchUrl");
let stores: Destinations;
let gate: Awaited<ReturnType<typeof startGate>>;
let harness: ReturnType<typeof testApp>;
let worker: ExportWorker;
const tenant = newTenant("export");
const other = newTenant("other");
const hostile = newTenant("hostile");
let token = "";

const TRICKY = [
  '=HYPERLINK("http://evil.example")',
  "+1+1",
  "-2",
  "@SUM(A1)",
  "\tlead-tab",
  'say "hi", then\r\nbye',
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const AGENTS = TRICKY.filter((v) => !/[\u0000-\u001f]/.test(v));

/** 2,400 events over several actions and timestamps, some with values CSV must quote or guard. */
const fixture = Array.from({ length: 2400 }, (_, i) =>
  event({
    action: ["read", "write", "delete", "rotate"][i % 4],
    timestamp: `2026-10-${String(1 + (i % 28)).padStart(2, "0")}T0${i % 10}:${String(i % 60).padStart(2, "0")}:00.${String(i).padStart(6, "0")}Z`,
    // Ingest refuses control characters in a user agent; they reach CSV through context here, and
    // through documents written around ingest in "documents no ingest would write".
    user_agent: i % 51 === 0 ? AGENTS[(i / 51) % AGENTS.length] : "scaivault-cli/2.3.1",
    context: i % 71 === 0 ? { note: TRICKY[(i / 71) % TRICKY.length], n: i } : { n: i },
  }),
);

const auth = (t = token) => ({ Authorization: `Bearer ${t}` });
const post = (body: unknown, t = token) =>
  harness.app.request("/v1/audit/exports", {
    method: "POST",
    headers: { ...auth(t), "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
const get = (path: string, t = token) => harness.app.request(path, { headers: auth(t) });

async function waitFor(id: string, done: (e: any) => boolean, timeoutMs = 40_000, t = token): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = await json(await get(`/v1/audit/exports/${id}`, t));
    if (done(e)) return e;
    if (Date.now() > deadline) throw new Error(`export ${id} still ${e.status}: ${JSON.stringify(e)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const finished = (id: string) => waitFor(id, (e) => ["completed", "failed", "cancelled"].includes(e.status));

/** What /v1/audit/logs returns for `query`, oldest first (the export's order). */
async function expected(query: string, of = tenant): Promise<AuditEvent[]> {
  const read = await tokenFor(of, "audit:read");
  const out: AuditEvent[] = [];
  let path = `/v1/audit/logs?${query}&limit=1000`;
  for (;;) {
    const body = await json(await get(path, read));
    out.push(...body.entries);
    if (!body.next_cursor) return out.reverse();
    path = `/v1/audit/logs?${query}&limit=1000&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
}

/** The files an export wrote, checked against its manifest; returns each part's text in order. */
async function downloaded(kind: Kind, prefix: string, manifest: any): Promise<string[]> {
  const objects = await stores.read(kind, prefix);
  const written = JSON.parse(String(objects.get("manifest.json")));
  expect(written).toEqual(manifest);
  expect([...objects.keys()].sort()).toEqual(
    [...manifest.files.map((f: any) => f.uri.split("/").at(-1)), "manifest.json"].sort(),
  );
  return manifest.files.map((f: any) => {
    const name = f.uri.split("/").at(-1);
    const bytes = objects.get(name) as Buffer;
    expect(f.uri.endsWith(`${prefix}${name}`)).toBe(true);
    expect(bytes.length).toBe(f.bytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(f.sha256);
    return String(manifest.compression === "gzip" ? gunzipSync(bytes) : bytes);
  });
}

/** The guard as the contract states it, plus LF and what a spreadsheet skips before a formula. */
const guard = (v: string | null) =>
  v === null
    ? ""
    : // biome-ignore lint/suspicious/noControlCharactersInRegex: a cell may start with control characters
      /^[\t\r\n]|^[\s\u0000-\u001f\u200b-\u200f\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]/.test(v)
      ? `'${v}`
      : v;
const csvCells = (e: AuditEvent) => [
  guard(e.id),
  guard(e.timestamp),
  guard(e.action),
  guard(e.path),
  guard(e.identity.id),
  guard(e.identity.type),
  guard(e.identity.session_id),
  guard(e.source_ip),
  guard(e.user_agent),
  guard(e.request.id),
  guard(e.request.method),
  e.request.status === null ? "" : String(e.request.status),
  e.request.duration_ms === null ? "" : String(e.request.duration_ms),
  String(e.success),
  guard(e.error_code),
  JSON.stringify(e.context),
];

beforeAll(async () => {
  stores = await startDestinations();
  gate = await startGate(stores.s3Endpoint);
  const allowlist = [...stores.allowlist, gate.endpoint];
  await stores.grant([tenant, other, hostile]);
  harness = testApp(url, { endpointAllowlist: allowlist });
  await harness.readiness.runOnce(harness.client, await loadAssets());
  await ingestAs(harness, tenant, fixture);
  await ingestAs(harness, other, fixture.slice(0, 100));
  token = await tokenFor(tenant, "audit:export");
  worker = new ExportWorker({
    client: harness.client,
    log: createLogger(process.env.EXPORT_TEST_LOG ? "debug" : "silent"),
    secrets: fileSecrets(stores.secretsFile),
    settings: {
      concurrency: 2,
      pollIntervalMs: 100,
      leaseMs: 3000,
      maxAttempts: 3,
      pageSize: 200,
      pitKeepAlive: "2m",
      endpointAllowlist: allowlist,
    },
  });
  worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await harness?.client.close();
  await stores?.stop();
  await gate?.close();
});

describe("an export to each destination", () => {
  const cases: [Kind, "jsonl" | "csv" | "ocsf", "none" | "gzip"][] = [
    ["s3", "jsonl", "gzip"],
    ["s3", "csv", "none"],
    ["gcs", "jsonl", "none"],
    ["gcs", "csv", "gzip"],
    ["azure_blob", "jsonl", "gzip"],
    ["azure_blob", "csv", "none"],
    ["s3", "ocsf", "gzip"],
  ];
  it.each(cases)(
    "%s %s %s: every matching event once, in order, checksums as in the manifest",
    async (kind, format, compression) => {
      const prefix = `${kind}-${format}-${compression}/`;
      const res = await post({
        format,
        compression,
        filters: {
          from: "2026-10-03T00:00:00Z",
          to: "2026-10-27T00:00:00Z",
          action: ["read", "write", "rotate"],
        },
        destination: stores.destination(kind, prefix),
        max_file_records: 700,
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const created = await json(res);
      expect(created).toMatchObject({ status: "pending", export_id: expect.stringMatching(/^exp_/) });
      expect(res.headers.get("Location")).toBe(`/v1/audit/exports/${created.export_id}`);

      const done = await finished(created.export_id);
      expect(done.status, JSON.stringify(done.error)).toBe("completed");
      const want = await expected(
        "from=2026-10-03T00:00:00Z&to=2026-10-27T00:00:00Z&action=read,write,rotate",
      );
      expect(want.length).toBeGreaterThan(1400);
      expect(done.manifest.total_records).toBe(want.length);
      expect(done.progress).toEqual({ records: want.length, estimated_total: want.length });
      expect(done.manifest.files.map((f: any) => f.records)).toEqual(
        [700, 700, 700, 700]
          .slice(0, Math.floor(want.length / 700))
          .concat(want.length % 700 ? [want.length % 700] : []),
      );

      const parts = await downloaded(kind, prefix, done.manifest);
      if (format === "jsonl") {
        const lines = parts.flatMap((p) => p.split("\n").filter(Boolean)).map((l) => JSON.parse(l));
        expect(lines).toEqual(want);
      } else if (format === "ocsf") {
        // OCSF 1.8, checked against OCSF's own class schemas: the same events, in the same order.
        const lines = parts.flatMap((p) => p.split("\n").filter(Boolean)).map((l) => JSON.parse(l));
        expect(lines.map((o) => o.metadata.uid)).toEqual(want.map((e: { id: string }) => e.id));
        for (const o of lines) expect(ocsfProblems(o)).toEqual([]);
        expect(done.manifest.files[0].uri).toMatch(/part-00000\.ocsf\.jsonl\.gz$/);
      } else {
        const rows = parts.flatMap((p) => {
          expect(p.includes("\r\n")).toBe(true);
          const [header, ...body] = parse(p, { relax_column_count: false }) as string[][];
          expect(header?.[0]).toBe("id");
          expect(header?.at(-1)).toBe("context");
          return body;
        });
        expect(rows).toEqual(want.map(csvCells));
        // The guard is really there for the tricky values, and quoting kept the embedded line break.
        const agents = new Set(rows.map((r) => r[8]));
        expect(agents.has(`'=HYPERLINK("http://evil.example")`)).toBe(true);
        expect(agents.has("'@SUM(A1)")).toBe(true);
      }
    },
  );
});

describe("documents no ingest would write", () => {
  /** Every text column holds each of these; the export must keep rows and cells exactly. */
  const NASTY = CSV_HOSTILE_TEXTS;

  beforeAll(async () => {
    const docs = NASTY.map((v, i) => ({
      "@timestamp": `2026-09-01T00:00:${String(i).padStart(2, "0")}.000000Z`,
      event: { id: `${v}#${i}`, action: v, outcome: "failure", ingested: new Date().toISOString() },
      user: { id: v },
      scaivault: {
        tenant: hostile,
        path: v,
        identity: { type: v },
        session: { id: v },
        context: { v, [v]: v },
      },
      source: { ip: "10.0.0.1" },
      user_agent: { original: v },
      http: { request: { id: v, method: v }, response: { status_code: 500 } },
      error: { code: v },
    }));
    // And the prototype keys the OpenSearch client used to refuse whole responses for.
    docs.push({
      ...(docs[0] as (typeof docs)[number]),
      "@timestamp": "2026-09-01T00:01:00.000000Z",
      event: { id: "poison", action: "read", outcome: "success", ingested: new Date().toISOString() },
      scaivault: {
        ...(docs[0] as (typeof docs)[number]).scaivault,
        context: JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}},"__proto__":{"x":1}}'),
      },
    });
    for (const [i, doc] of docs.entries())
      await harness.client.index({
        index: "audit-events",
        id: `${hostile}:raw-${i}`,
        op_type: "create",
        body: doc,
      });
    await harness.client.indices.refresh({ index: "audit-events" });
  });

  it.each(["csv", "jsonl"] as const)(
    "%s: exported exactly as /logs reads them, rows and cells intact",
    async (format) => {
      const exportToken = await tokenFor(hostile, "audit:export");
      const prefix = `hostile-${format}/`;
      const res = await post(
        { format, filters: { from: "2026-09-01T00:00:00Z" }, destination: stores.destination("s3", prefix) },
        exportToken,
      );
      expect(res.status, await res.clone().text()).toBe(202);
      const { export_id } = await json(res);
      const done = await waitFor(
        export_id,
        (e) => ["completed", "failed"].includes(e.status),
        40_000,
        exportToken,
      );
      expect(done.status, JSON.stringify(done.error)).toBe("completed");
      const want = await expected("from=2026-09-01T00:00:00Z", hostile);
      expect(want).toHaveLength(NASTY.length + 1);
      const [part] = await downloaded("s3", prefix, done.manifest);
      if (format === "jsonl") {
        expect(
          (part as string)
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l)),
        ).toEqual(want);
        return;
      }
      // An independent parser, strict about quotes and column counts, sees exactly one row per event.
      const [header, ...rows] = parse(part as string, {
        relax_column_count: false,
        relax_quotes: false,
      }) as string[][];
      expect(header).toHaveLength(16);
      expect(rows).toEqual(want.map(csvCells));
      for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[\s\u200b]*[=+@\uff1d]/);
    },
  );
});

describe("edges", () => {
  it("nothing matching: completed, no parts, a manifest that says 0", async () => {
    const { export_id } = await json(
      await post({
        filters: { from: "2001-01-01T00:00:00Z", to: "2001-01-02T00:00:00Z" },
        destination: stores.destination("azure_blob", "empty/"),
      }),
    );
    const done = await finished(export_id);
    expect(done.status).toBe("completed");
    expect(done.manifest).toMatchObject({ files: [], total_records: 0 });
    expect(done.progress).toEqual({ records: 0, estimated_total: 0 });
    expect(await downloaded("azure_blob", "empty/", done.manifest)).toEqual([]);
  });

  it("a count that is a multiple of max_file_records leaves no empty last part", async () => {
    const want = await expected("from=2026-10-01T00:00:00Z&to=2026-10-02T00:00:00Z");
    expect(want.length).toBeGreaterThan(1);
    const { export_id } = await json(
      await post({
        filters: { from: "2026-10-01T00:00:00Z", to: "2026-10-02T00:00:00Z" },
        destination: stores.destination("gcs", "exact/"),
        max_file_records: want.length,
      }),
    );
    const done = await finished(export_id);
    expect(done.manifest.files.map((f: any) => f.records)).toEqual([want.length]);
    const lines = (await downloaded("gcs", "exact/", done.manifest)).flatMap((p) =>
      p.split("\n").filter(Boolean),
    );
    expect(lines.map((l) => JSON.parse(l))).toEqual(want);
  });
});

describe("the snapshot", () => {
  it("holds what matched when the export started, not what is ingested meanwhile", async () => {
    const prefix = "snapshot/";
    // The export's uploads wait at a gate in front of S3: its snapshot is taken, nothing is written
    // yet, and it cannot finish before the late events are acknowledged (however fast this box is).
    gate.hold();
    const res = await post({
      filters: { from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z" },
      destination: stores.destination("s3", prefix, { endpoint: gate.endpoint }),
      max_file_records: 100,
    });
    const { export_id } = await json(res);
    try {
      await gate.reached();
      const running = await json(await get(`/v1/audit/exports/${export_id}`));
      expect(running.status).toBe("running");
      expect(running.progress.estimated_total).toBe(fixture.length);
      const late = Array.from({ length: 50 }, (_, i) =>
        event({ id: `late-${i}`, timestamp: `2026-10-15T12:00:00.${String(i).padStart(6, "0")}Z` }),
      );
      await ingestAs(harness, tenant, late);
      expect((await json(await get(`/v1/audit/exports/${export_id}`))).status).toBe("running");
    } finally {
      gate.release();
    }

    const done = await finished(export_id);
    expect(done.status).toBe("completed");
    expect(done.manifest.total_records).toBe(fixture.length);
    const lines = (await downloaded("s3", prefix, done.manifest)).flatMap((p) =>
      p.split("\n").filter(Boolean),
    );
    const ids = lines.map((l) => JSON.parse(l).id);
    expect(new Set(ids).size).toBe(fixture.length);
    expect(ids.filter((id) => id.startsWith("late-"))).toEqual([]);
    // The late events are there for a new export (and for /logs).
    expect((await expected("from=2026-10-15T12:00:00Z&to=2026-10-15T12:00:01Z")).length).toBe(50);
  });
});

describe("cancel", () => {
  it("stops a running export, removes its parts and writes no manifest", async () => {
    const prefix = "cancelled/";
    const { export_id } = await json(
      await post({ destination: stores.destination("gcs", prefix), max_file_records: 50 }),
    );
    await waitFor(export_id, (e) => e.status === "running" && e.progress.records >= 100);
    const res = await harness.app.request(`/v1/audit/exports/${export_id}`, {
      method: "DELETE",
      headers: auth(),
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: "cancelled", completed_at: expect.any(String) });

    // The worker notices at its next write; then the parts go away and nothing more arrives.
    const deadline = Date.now() + 15_000;
    let names: string[] = [];
    do {
      await new Promise((r) => setTimeout(r, 300));
      names = [...(await stores.read("gcs", prefix)).keys()];
    } while (names.length > 0 && Date.now() < deadline);
    expect(names).toEqual([]);
    const after = await json(await get(`/v1/audit/exports/${export_id}`));
    expect(after.status).toBe("cancelled");
    expect(after.manifest).toBeNull();

    const again = await harness.app.request(`/v1/audit/exports/${export_id}`, {
      method: "DELETE",
      headers: auth(),
    });
    expect(again.status).toBe(409);
  });
});

describe("retention", () => {
  it("an export leaves out what the tenant's retention hides", async () => {
    const setRetention = async (days: number) =>
      harness.app.request("/v1/audit/retention", {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${await tokenFor(tenant, "audit:admin")}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ retention_days: days }),
      });
    // The fixture spans October 2026: a retention reaching back to mid-October hides part of it.
    const days = Math.ceil((Date.now() - Date.parse("2026-10-15T00:00:00Z")) / 86_400_000);
    expect((await setRetention(days)).status).toBe(200);
    try {
      const want = await expected("from=2000-01-01T00:00:00Z");
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(fixture.length);
      const { export_id } = await json(await post({ destination: stores.destination("s3", "retention/") }));
      const done = await finished(export_id);
      expect(done.status).toBe("completed");
      const lines = (await downloaded("s3", "retention/", done.manifest)).flatMap((p) =>
        p.split("\n").filter(Boolean),
      );
      expect(lines.map((l) => JSON.parse(l))).toEqual(want);
    } finally {
      expect((await setRetention(2557)).status).toBe(200);
    }
  });
});

describe("tenancy, scopes and bad requests", () => {
  it("another tenant's export is a 404 and is not listed", async () => {
    const { export_id } = await json(await post({ destination: stores.destination("s3", "mine/") }));
    const theirs = await tokenFor(other, "audit:export");
    expect((await get(`/v1/audit/exports/${export_id}`, theirs)).status).toBe(404);
    const del = await harness.app.request(`/v1/audit/exports/${export_id}`, {
      method: "DELETE",
      headers: auth(theirs),
    });
    expect(del.status).toBe(404);
    const list = await json(await get("/v1/audit/exports?limit=100", theirs));
    expect(list.entries.map((e: any) => e.export_id)).not.toContain(export_id);
    const mine = await json(await get("/v1/audit/exports?limit=100"));
    expect(mine.entries.map((e: any) => e.export_id)).toContain(export_id);
    await finished(export_id);
  });

  it("lists newest first with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          await json(
            await post({
              filters: { action: "delete" },
              destination: stores.destination("s3", `list-${i}/`),
            }),
          )
        ).export_id,
      );
    const seen: string[] = [];
    let path = "/v1/audit/exports?limit=2";
    for (;;) {
      const page = await json(await get(path));
      seen.push(...page.entries.map((e: any) => e.export_id));
      if (!page.next_cursor) break;
      path = `/v1/audit/exports?limit=2&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const positions = ids.map((id) => seen.indexOf(id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    const bad = await get(`/v1/audit/exports?cursor=${encodeURIComponent("x.y")}&page=2`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).errors.map((e: any) => e.field).sort()).toEqual(["cursor", "page"]);
    for (const id of ids) await finished(id);
  });

  it("needs audit:export", async () => {
    const read = await tokenFor(tenant, "audit:read");
    expect((await post({ destination: stores.destination("s3", "x/") }, read)).status).toBe(403);
    expect((await get("/v1/audit/exports", read)).status).toBe(403);
  });

  it("refuses inline credentials, naming each", async () => {
    const res = await post({
      destination: { ...stores.destination("s3", "x/"), access_key_id: "AKIA…", secret_access_key: "…" },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    const fields = (await json(res)).errors.map((e: any) => e.field);
    expect(fields).toEqual(["destination.access_key_id", "destination.secret_access_key"]);
    const azure = await post({
      destination: { ...stores.destination("azure_blob", "x/"), connection_string: "…" },
    });
    expect((await json(azure)).errors[0].field).toBe("destination.connection_string");
  });

  it("refuses an endpoint that is not allowlisted, and user-info in one", async () => {
    for (const endpoint of ["http://127.0.0.1:1", "https://evil.example", "http://user:pw@127.0.0.1:1"]) {
      const res = await post({ destination: stores.destination("s3", "x/", { endpoint }) });
      expect(res.status).toBe(400);
      expect((await json(res)).errors.map((e: any) => e.field)).toEqual(["destination.endpoint"]);
    }
  });

  it("reports every invalid field at once, filters by their name", async () => {
    const res = await post({
      format: "xml",
      filters: { action: ["read", "peek"], from: "yesterday", source_ip: "10.0.0.0/99", limit: 5 },
      destination: { type: "s3", bucket: "B", region: "us-east-1" },
      max_file_records: 0,
    });
    expect(res.status).toBe(400);
    const fields = (await json(res)).errors.map((e: any) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "format",
        "max_file_records",
        "destination.bucket",
        "destination.credentials_secret",
        "filters.limit",
      ]),
    );
    const filters = await post({
      filters: { action: ["read", "peek"], from: "yesterday", source_ip: "10.0.0.0/99" },
      destination: stores.destination("s3", "x/"),
    });
    expect((await json(filters)).errors.map((e: any) => e.field).sort()).toEqual([
      "filters.action",
      "filters.from",
      "filters.source_ip",
    ]);
    const notJson = await harness.app.request("/v1/audit/exports", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "text/plain" },
      body: "{}",
    });
    expect(notJson.status).toBe(415);
  });

  it("fails the job with secret_not_found when the secret does not exist", async () => {
    const { export_id } = await json(
      await post({
        destination: stores.destination("s3", "nosecret/", { credentials_secret: "secret/missing" }),
      }),
    );
    const done = await finished(export_id);
    expect(done.status).toBe("failed");
    expect(done.error.code).toBe("secret_not_found");
    expect(done.error.message).toContain("secret/missing");
    expect(done.manifest).toBeNull();
  });

  it("fails the job with destination_error when the bucket does not exist", async () => {
    const { export_id } = await json(
      await post({ destination: stores.destination("s3", "nobucket/", { bucket: "no-such-bucket" }) }),
    );
    const done = await finished(export_id);
    expect(done.status).toBe("failed");
    expect(done.error.code).toBe("destination_error");
    expect(done.error.message).toMatch(/NoSuchBucket/);
  });
});

describe("the service killed mid-export", () => {
  // From here on only the service processes run jobs.
  beforeAll(() => worker.stop());

  async function startExporting() {
    const port = await freePort();
    const svc = startService({
      OPENSEARCH_URL: url,
      AUDIT_JWT_SECRET: TEST_SECRET,
      PORT: String(port),
      SECRETS_FILE: stores.secretsFile,
      EXPORT_ENDPOINT_ALLOWLIST: stores.allowlist.join(","),
      EXPORT_PAGE_SIZE: "50",
      EXPORT_LEASE_MS: "2000",
      EXPORT_POLL_INTERVAL_MS: "200",
      RETENTION_PURGE: "false", // the retention tests own the purge lease of the shared cluster
      SUMMARY_ROLLUP: "false", // and the rollup tests the rollup's
    });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000, svc.output);
    return svc;
  }

  /** Starts an export on a service process and SIGKILLs the process once three parts are uploaded. */
  async function killMidExport(prefix: string): Promise<string> {
    const svc = await startExporting();
    const { export_id } = await json(
      await post({
        compression: "gzip",
        destination: stores.destination("s3", prefix),
        max_file_records: 50,
      }),
    );
    while (!(await stores.read("s3", prefix)).has("part-00002.jsonl.gz"))
      await new Promise((r) => setTimeout(r, 50));
    svc.child.kill("SIGKILL");
    await exitOf(svc.child);
    const killed = await json(await get(`/v1/audit/exports/${export_id}`));
    expect(killed.status, "the export must still be running when the service dies").toBe("running");
    return export_id;
  }

  it("resumes from its checkpoint on the restarted service and completes with every event once", async () => {
    const prefix = "restart/";
    const want = await expected("from=2000-01-01T00:00:00Z");
    const export_id = await killMidExport(prefix);

    const svc = await startExporting();
    try {
      const done = await finished(export_id);
      expect(done.status, JSON.stringify(done.error)).toBe("completed");
      expect(svc.output()).toContain("resuming export from its checkpoint");
      expect(done.manifest.total_records).toBe(want.length);
      const lines = (await downloaded("s3", prefix, done.manifest)).flatMap((p) =>
        p.split("\n").filter(Boolean),
      );
      expect(lines.map((l) => JSON.parse(l))).toEqual(want);
    } finally {
      svc.child.kill("SIGTERM");
      expect(await exitOf(svc.child)).toBe(0);
    }
  });

  it("fails with snapshot_expired, and writes no manifest, when its snapshot is gone by the restart", async () => {
    const prefix = "expired/";
    const export_id = await killMidExport(prefix);
    await harness.client.deleteAllPits();

    const svc = await startExporting();
    try {
      const done = await finished(export_id);
      expect(done.status).toBe("failed");
      expect(done.error.code).toBe("snapshot_expired");
      expect(done.manifest).toBeNull();
      expect((await stores.read("s3", prefix)).has("manifest.json")).toBe(false);
    } finally {
      svc.child.kill("SIGTERM");
      await exitOf(svc.child);
    }
  });
});

/**
 * The tamper-evident log against a real OpenSearch, checked by an independent oracle: every
 * checkpoint is opened by Go's `sumdb/note` with the key the API publishes, and every inclusion and
 * consistency proof checked by Go's `sumdb/tlog`, with leaf hashes computed here from the events
 * as /logs returns them (RFC 8785 by the `canonicalize` package). The sealer seals each event once,
 * also when it crashes between any two of its steps; a tenant's proofs never reach another's log.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import canonicalize from "canonicalize";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import { ExportWorker } from "../../src/features/exports/exports.worker.ts";
import { exportProofs } from "../../src/features/integrity/integrity.exports.ts";
import { sealKeyOf } from "../../src/features/integrity/integrity.keys.ts";
import { writeReceipt } from "../../src/features/integrity/integrity.receipts.ts";
import {
  generateSignerKey,
  parseSignerKey,
  signNote,
  verifierKey,
} from "../../src/features/integrity/note.ts";
import { SEALER_LEASE_ID, SealerJob, type SealerStep } from "../../src/features/integrity/sealer.job.ts";
import { Purger } from "../../src/features/retention/retention.purge.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets, PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX, TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { ingestAs, json, TEST_SECRET, testApp, tokenFor } from "../support/app.ts";
import { type Destinations, startDestinations } from "../support/destinations.ts";
import { event, newTenant } from "../support/events.ts";
import { startService, waitForStatus } from "../support/process.ts";
import { b64, type Oracle, startOracle } from "../support/tlog-oracle.ts";

const run = promisify(execFile);
const SIGNER_KEY = generateSignerKey("scaivault.test/audit");
const signer = parseSignerKey(SIGNER_KEY);
const ORIGIN = "scaivault.test/audit";
const harness = testApp(inject("opensearchUrl"), {
  integrity: { active: signer, retired: [], origin: "scaivault.test/audit", seal: sealKeyOf(signer) },
});
const { app, client, readiness } = harness;
const log = createLogger("silent");
const tenant = newTenant("integrity");
const other = newTenant("integrity-other");
const tokens: Record<string, string> = {};
let oracle: Oracle;
/** Temporary folders (downloaded exports, key files), removed at the end. */
const folders: string[] = [];
let verifier = "";

const sealer = (pageSize = 40) =>
  new SealerJob({
    client,
    log,
    signer,
    origin: ORIGIN,
    intervalMs: 1000,
    checkpointIntervalMs: 1000,
    pageSize,
  });
const job = sealer();

const events = (label: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    event({
      id: `${label}-${i}`,
      path: `prod/app-${i % 7}/db`,
      context: { ticket: `T-${i}`, nested: { n: i, ok: i % 2 === 0 } },
    }),
  );

const get = async (path: string, t = tenant) => {
  const res = await app.request(path, { headers: { Authorization: `Bearer ${tokens[t]}` } });
  return { status: res.status, headers: res.headers, body: await json(res) };
};

/** Every event of the tenant as /logs returns it. */
async function logsOf(t: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor = "";
  for (;;) {
    const page = await get(
      `/v1/audit/logs?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      t,
    );
    expect(page.status).toBe(200);
    out.push(...page.body.entries);
    if (!page.body.next_cursor) return out;
    cursor = page.body.next_cursor;
  }
}

/** The leaf hash an auditor computes from an event as /logs gave it. */
const leafHashOf = (t: string, e: Record<string, unknown>) =>
  createHash("sha256")
    .update(Buffer.from([0]))
    .update(canonicalize({ tenant: t, ...e }) as string)
    .digest();

/** The checkpoint, opened by Go with the published key; its size. */
async function goCheckpoint(t: string, size?: number) {
  const res = await get(`/v1/audit/integrity/checkpoint${size ? `?size=${size}` : ""}`, t);
  expect(res.status).toBe(200);
  const opened = await oracle.ask({ op: "note", note: res.body.note, keys: [verifier] });
  expect(opened.ok, opened.error).toBe(true);
  expect(opened.text).toBe(`${ORIGIN}/${t}\n${res.body.size}\n${res.body.root_hash}\n`);
  return res.body as { size: number; root_hash: string; note: string };
}

/** Every event of `t` proven included in its newest checkpoint, by Go; returns the leaf indexes. */
async function expectAllIncluded(t: string): Promise<number[]> {
  const cp = await goCheckpoint(t);
  const all = await logsOf(t);
  expect(cp.size).toBe(all.length);
  const indexes: number[] = [];
  for (const e of all) {
    const res = await get(
      `/v1/audit/integrity/proofs/inclusion?event_id=${encodeURIComponent(e.id as string)}`,
      t,
    );
    expect(res.status).toBe(200);
    expect(res.body.leaf_hash).toBe(b64(leafHashOf(t, e)));
    const check = await oracle.ask({
      op: "record",
      size: cp.size,
      root: cp.root_hash,
      index: res.body.leaf_index,
      leaf: b64(leafHashOf(t, e)),
      proof: res.body.proof,
    });
    expect(check.ok, check.error).toBe(true);
    indexes.push(res.body.leaf_index);
  }
  // Each event once: the leaves are exactly 0 … size − 1.
  expect([...indexes].sort((a, b) => a - b)).toEqual(Array.from({ length: cp.size }, (_, i) => i));
  return indexes;
}

async function expectConsistent(
  t: string,
  from: { size: number; root_hash: string },
  to: { size: number; root_hash: string },
) {
  const res = await get(
    `/v1/audit/integrity/proofs/consistency?from_size=${from.size}&to_size=${to.size}`,
    t,
  );
  expect(res.status).toBe(200);
  const check = await oracle.ask({
    op: "tree",
    size: to.size,
    root: to.root_hash,
    from: from.size,
    from_root: from.root_hash,
    proof: res.body.proof,
  });
  expect(check.ok, check.error).toBe(true);
}

/** Starts a verification run and waits for its report. */
async function verification(body: Record<string, unknown>, t: string) {
  const started = await app.request("/v1/audit/integrity/verifications", {
    method: "POST",
    headers: { Authorization: `Bearer ${tokens[t]}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(started.status).toBe(202);
  const { verification_id: id } = await json(started);
  expect(started.headers.get("location")).toBe(`/v1/audit/integrity/verifications/${id}`);
  for (let i = 0; i < 300; i++) {
    const run = await get(`/v1/audit/integrity/verifications/${id}`, t);
    expect(run.status).toBe(200);
    if (run.body.status !== "running") {
      expect(run.body.status).toBe("completed");
      return run.body;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the verification never finished");
}

/** As if the lease's previous holder (a crashed sealer) had run out of time. */
const leaseRunsOut = () => client.delete({ index: TENANTS_INDEX, id: SEALER_LEASE_ID }).catch(() => {});

const sealAll = async (s = job) => {
  for (let i = 0; i < 50; i++) {
    const run = await s.runOnce();
    expect(run.ran).toBe(true);
    if (run.sealed === 0) return;
  }
  throw new Error("the sealer never caught up");
};

beforeAll(async () => {
  oracle = startOracle();
  await readiness.runOnce(client, await loadAssets());
  await leaseRunsOut();
  for (const t of [tenant, other]) tokens[t] = await tokenFor(t, "audit:read");
  const keys = await get("/v1/audit/integrity/keys");
  verifier = keys.body.keys[0].verifier_key;
  await ingestAs(harness, tenant, events("a", 300));
  await ingestAs(harness, other, events("b", 50));
});
afterAll(async () => {
  for (const f of folders) await rm(f, { recursive: true, force: true });
  oracle.close();
  await client.close();
});

describe("integrity", () => {
  it("publishes the signing key, and nothing is sealed before the sealer ran: 404 and 409", async () => {
    expect(verifier).toBe(verifierKey(signer));
    const fresh = newTenant("integrity-fresh");
    tokens[fresh] = await tokenFor(fresh, "audit:read");
    expect((await get("/v1/audit/integrity/checkpoint", fresh)).status).toBe(404);
    const unknown = await get("/v1/audit/integrity/proofs/inclusion?event_id=nope", fresh);
    expect(unknown.status).toBe(404);
  });

  it("seals every event once, and Go verifies the signed checkpoint and every inclusion proof", async () => {
    const notYet = await get("/v1/audit/integrity/proofs/inclusion?event_id=a-0");
    if (notYet.status !== 200) {
      expect(notYet.status).toBe(409);
      expect(Number(notYet.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    await sealAll();
    await expectAllIncluded(tenant);
    await expectAllIncluded(other);
  });

  it("a later checkpoint is consistent with the earlier one, and old proofs hold against it", async () => {
    const before = await goCheckpoint(tenant);
    await ingestAs(harness, tenant, events("a2", 25));
    await sealAll();
    const after = await goCheckpoint(tenant);
    expect(after.size).toBe(before.size + 25);
    await expectConsistent(tenant, before, after);
    // The old checkpoint is still served by its size, and proves against it.
    expect((await goCheckpoint(tenant, before.size)).root_hash).toBe(before.root_hash);
    const old = await get(`/v1/audit/integrity/proofs/inclusion?event_id=a-7&size=${before.size}`);
    expect(old.body.tree_size).toBe(before.size);
    const check = await oracle.ask({
      op: "record",
      size: before.size,
      root: before.root_hash,
      index: old.body.leaf_index,
      leaf: old.body.leaf_hash,
      proof: old.body.proof,
    });
    expect(check.ok, check.error).toBe(true);
  });

  it.each(["chunks", "states", "watermark"] as SealerStep[])(
    "a sealer that crashes after writing its %s resumes without a double append or a fork",
    async (step) => {
      const before = await goCheckpoint(tenant);
      await ingestAs(harness, tenant, events(`crash-${step}`, 30));
      await leaseRunsOut();
      const crashing = sealer(10);
      crashing.afterStep = async (at) => {
        if (at === step) throw new Error(`injected crash after ${step}`);
      };
      await expect(crashing.runOnce()).rejects.toThrow(`injected crash after ${step}`);
      await leaseRunsOut();
      await sealAll();
      const after = await goCheckpoint(tenant);
      expect(after.size).toBe(before.size + 30);
      await expectConsistent(tenant, before, after);
      await expectAllIncluded(tenant);
    },
  );

  it("never seals a document written around the API — odd, forged, copied with its seal, or re-sealed with another key — and names each unexpected", async () => {
    const forged = newTenant("integrity-forged");
    tokens[forged] = await tokenFor(forged, "audit:read");
    await ingestAs(harness, forged, events("f", 3));
    await sealAll();
    const before = await goCheckpoint(forged);
    expect(before.size).toBe(3);
    const [real] = (
      await client.search({
        index: AUDIT_STREAM,
        body: { query: { term: { "scaivault.tenant": forged } }, size: 1 } as never,
      })
    ).body.hits.hits as unknown as { _source: { scaivault: Record<string, unknown>; event: object } }[];
    const source = (real as { _source: { scaivault: Record<string, unknown>; event: object } })._source;
    const stranger = sealKeyOf(parseSignerKey(generateSignerKey("scaivault.test/audit")));
    const around = [
      // Fields missing, a nanosecond timestamp: read as /logs shows it, without failing the sealer.
      {
        "@timestamp": "2026-11-26T10:00:00.000000001Z",
        scaivault: { tenant: forged },
        event: { id: "odd-1" },
      },
      // A real event's document under a new id, its seal copied: the seal covers the id.
      { ...source, event: { ...source.event, id: "copied-1" } },
      // Sealed with another key.
      {
        ...source,
        scaivault: { ...source.scaivault, seal: `${stranger.id}:${"A".repeat(43)}` },
        event: { ...source.event, id: "resealed-1" },
      },
      // Nobody's: no tenant.
      { "@timestamp": "2026-11-26T10:00:01Z", event: { id: "no-tenant" } },
    ];
    for (const body of around)
      await client.index({ index: AUDIT_STREAM, op_type: "create", body: body as never, refresh: true });
    await sealAll();
    const after = await goCheckpoint(forged);
    expect(after.size).toBe(3);
    // The signed log is untouched: every leaf still proves in Go, and only the ingested events are leaves.
    await expectConsistent(forged, before, await goCheckpoint(forged));
    for (const id of ["odd-1", "copied-1", "resealed-1"]) {
      const refused = await get(`/v1/audit/integrity/proofs/inclusion?event_id=${id}`, forged);
      expect(refused.status).toBe(409);
      expect(refused.headers.get("retry-after")).toBeNull();
      expect(refused.body.detail).toContain("refused");
    }
    const report = await verification({}, forged);
    expect(report).toMatchObject({ log: "verified", verified: 3, modified_count: 0, missing_count: 0 });
    expect([...report.unexpected].sort()).toEqual(["copied-1", "odd-1", "resealed-1"]);
    expect(report.unexpected_count).toBe(3);
    // A window of one microsecond around the odd document's time: it alone.
    const window = await verification(
      { from: "2026-11-26T10:00:00Z", to: "2026-11-26T10:00:00.000001Z" },
      forged,
    );
    expect(window).toMatchObject({ unexpected: ["odd-1"], unexpected_count: 1, unsealed: 0 });
  });

  it("events stored before the first sealer run carry no seal and are sealed; one written later without a seal is not", async () => {
    const legacy = newTenant("integrity-legacy");
    tokens[legacy] = await tokenFor(legacy, "audit:read");
    const doc = (id: string) => ({
      "@timestamp": "2026-11-20T10:00:00.000000Z",
      scaivault: { tenant: legacy, path: "prod/old" },
      event: { id, action: "read", outcome: "success" },
    });
    await client.index({
      index: AUDIT_STREAM,
      op_type: "create",
      body: doc("old-1") as never,
      refresh: true,
    });
    // A cluster whose events predate the sealer: no watermark yet (and no lease holder).
    await client.delete({ index: INTEGRITY_INDEX, id: "sealer-watermark", refresh: true });
    await leaseRunsOut();
    await sealAll();
    expect((await goCheckpoint(legacy)).size).toBe(1);
    await client.index({
      index: AUDIT_STREAM,
      op_type: "create",
      body: doc("new-1") as never,
      refresh: true,
    });
    await sealAll();
    expect((await goCheckpoint(legacy)).size).toBe(1);
    expect(await verification({}, legacy)).toMatchObject({ verified: 1, unexpected: ["new-1"] });
    // The mark is signed: moved forward to cover the new document, it no longer counts at all.
    const mark = await client.get({ index: INTEGRITY_INDEX, id: "sealer-watermark" });
    const data = (mark.body._source as { data: { legacy: string } }).data;
    const moved = data.legacy.replace(/\[(\d+)\]/g, (_, n) => `[${Number(n) + 1000}]`);
    expect(moved).not.toBe(data.legacy);
    await client.index({
      index: INTEGRITY_INDEX,
      id: "sealer-watermark",
      refresh: true,
      body: { ...(mark.body._source as object), data: { ...data, legacy: moved } } as never,
    });
    await client.index({
      index: AUDIT_STREAM,
      op_type: "create",
      body: doc("new-2") as never,
      refresh: true,
    });
    await sealAll();
    expect((await goCheckpoint(legacy)).size).toBe(1);
  });

  it("one tenant's proofs and checkpoints never reach another's log", async () => {
    const mine = await goCheckpoint(other);
    expect(mine.size).toBe(50);
    expect((await get("/v1/audit/integrity/proofs/inclusion?event_id=a-0", other)).status).toBe(404);
    const tooFar = await get(
      `/v1/audit/integrity/proofs/consistency?from_size=1&to_size=${mine.size + 1}`,
      other,
    );
    expect(tooFar.status).toBe(404);
    // A size the other tenant's log had is no checkpoint of this one.
    const theirs = await goCheckpoint(tenant);
    expect((await get(`/v1/audit/integrity/checkpoint?size=${theirs.size}`, other)).status).toBe(404);
    // A verification counts this tenant's leaves and events only.
    expect(await verification({}, other)).toMatchObject({
      verified: 50,
      checkpoint: { size: 50 },
      missing_count: 0,
      unexpected_count: 0,
    });
    expect(await verification({ from: "1970-01-01T00:00:00Z" }, other)).toMatchObject({
      verified: 50,
      unsealed: 0,
    });
  });

  it("names the field of every bad parameter", async () => {
    for (const [query, field] of [
      ["checkpoint?size=0", "size"],
      ["checkpoint?size=abc", "size"],
      ["proofs/inclusion", "event_id"],
      ["proofs/inclusion?event_id=%20", "event_id"],
      ["proofs/inclusion?event_id=a-0&size=-1", "size"],
      ["proofs/consistency?from_size=1", "to_size"],
      ["proofs/consistency?from_size=x&to_size=2", "from_size"],
      ["proofs/consistency?from_size=5&to_size=2", "from_size"],
      ["checkpoint?sise=3", "sise"],
      ["checkpoint?size=9007199254740992", "size"],
      ["proofs/inclusion?event_id=a-0&size=17518113005605490", "size"],
    ]) {
      const res = await get(`/v1/audit/integrity/${query}`);
      expect(res.status, query).toBe(400);
      expect(
        res.body.errors.map((e: { field: string }) => e.field),
        query,
      ).toContain(field);
    }
  });

  it("a sealer stalled past its lease cannot commit over the one that took over: no fork, no double append", async () => {
    const before = await goCheckpoint(tenant);
    await ingestAs(harness, tenant, events("split", 30));
    await leaseRunsOut();
    // The first sealer stops with its appends computed, before writing anything …
    let resume = () => {};
    const held = new Promise<void>((r) => {
      resume = r;
    });
    let stalledAt: () => void = () => {};
    const reached = new Promise<void>((r) => {
      stalledAt = r;
    });
    const stalled = sealer(1000);
    stalled.afterStep = async (step) => {
      if (step !== "appended") return;
      stalledAt();
      await held;
    };
    const first = stalled.runOnce();
    await reached;
    // … its lease runs out, more events come, another sealer seals them all and commits …
    await ingestAs(harness, tenant, events("split-more", 10));
    await leaseRunsOut();
    await sealAll(sealer(1000));
    // … then the first one wakes up and writes what it computed from the older log.
    resume();
    await expect(first).rejects.toThrow(/version_conflict|another sealer/);
    await leaseRunsOut();
    await sealAll();
    const after = await goCheckpoint(tenant);
    expect(after.size).toBe(before.size + 40);
    await expectConsistent(tenant, before, after);
    await expectAllIncluded(tenant);
  });

  it("one replica seals at a time: of two sealers started together, one runs", async () => {
    await leaseRunsOut();
    const runs = await Promise.all([sealer(), sealer()].map((s) => s.runOnce()));
    expect(runs.filter((r) => r.ran)).toHaveLength(1);
  });
});

describe("verification runs", () => {
  const t = newTenant("integrity-verify");
  const DAY = 86_400_000;
  const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString().replace("Z", "000Z");
  const AGES = [1, 2, 3, 40, 41, 400];
  const clean = {
    modified: [],
    modified_count: 0,
    missing: [],
    missing_count: 0,
    unexpected: [],
    unexpected_count: 0,
  };

  beforeAll(async () => {
    tokens[t] = await tokenFor(t, "audit:read");
    await ingestAs(
      harness,
      t,
      AGES.map((d) => event({ id: `v-${d}`, timestamp: ago(d), path: `prod/v/${d}` })),
    );
    await leaseRunsOut();
    await sealAll();
  });

  const deleteEvent = (id: string) =>
    client.deleteByQuery({
      index: AUDIT_STREAM,
      refresh: true,
      body: {
        query: { bool: { filter: [{ term: { "scaivault.tenant": t } }, { term: { "event.id": id } }] } },
      } as never,
    });

  it("an untouched log verifies whole, by leaf range and by time window", async () => {
    const whole = await verification({}, t);
    expect(whole).toMatchObject({
      log: "verified",
      verified: AGES.length,
      purged: 0,
      unsealed: 0,
      leaves: { from: 0, to: AGES.length },
      checkpoint: { size: AGES.length },
      ...clean,
    });
    const cp = await goCheckpoint(t);
    expect(whole.checkpoint.root_hash).toBe(cp.root_hash);
    expect(await verification({ from_leaf: 2, to_leaf: 4 }, t)).toMatchObject({
      verified: 2,
      leaves: { from: 2, to: 4 },
    });
    // Past the log: clamped to it, nothing to verify there.
    expect(await verification({ from_leaf: 50 }, t)).toMatchObject({
      verified: 0,
      leaves: { from: 6, to: 6 },
    });
    // The window [now-10d, now): the three newest events.
    expect(await verification({ from: "now-10d" }, t)).toMatchObject({ verified: 3, unsealed: 0, ...clean });
    expect(await verification({ from: "now-45d", to: "now-20d" }, t)).toMatchObject({ verified: 2 });
  });

  it("an event not sealed yet counts as unsealed in its window, then verified once sealed", async () => {
    await ingestAs(harness, t, [event({ id: "v-late", timestamp: ago(0.5) })]);
    expect(await verification({ from: "now-1d" }, t)).toMatchObject({ verified: 0, unsealed: 1, ...clean });
    await sealAll();
    expect(await verification({ from: "now-1d" }, t)).toMatchObject({ verified: 1, unsealed: 0, ...clean });
  });

  it("an event deleted around the API is missing, named by its leaf; one purged by retention with a signed receipt is purged", async () => {
    const leafOf = async (id: string) =>
      (await get(`/v1/audit/integrity/proofs/inclusion?event_id=${id}`, t)).body.leaf_index as number;
    const gone = await leafOf("v-2");
    await deleteEvent("v-2");
    // Retention of 30 days, purged by the purge job, which has a receipt signed first.
    const admin = await tokenFor(t, "audit:admin");
    const put = await app.request("/v1/audit/retention", {
      method: "PUT",
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      body: JSON.stringify({ retention_days: 30 }),
    });
    expect(put.status).toBe(200);
    await client.delete({ index: TENANTS_INDEX, id: "purge-lease", refresh: true }).catch(() => {});
    const purge = await new Purger({
      client,
      log,
      intervalMs: 60_000,
      requestsPerSecond: -1,
      beforeDelete: (p) => writeReceipt(client, signer, ORIGIN, p),
    }).runOnce();
    expect(purge.tenants.find((x) => x.tenant === t)).toMatchObject({ deleted: 3, succeeded: true });
    const report = await verification({}, t);
    expect(report).toMatchObject({
      log: "verified",
      verified: AGES.length + 1 - 1 - 3,
      purged: 3,
      missing: [gone],
      missing_count: 1,
      modified_count: 0,
      receipts: { valid: 1, invalid: 0 },
    });
    // The receipt is a signed note Go opens with the published key.
    const receipts = await client.search({
      index: INTEGRITY_INDEX,
      body: {
        query: { bool: { filter: [{ term: { kind: "receipt" } }, { term: { "scaivault.tenant": t } }] } },
      },
    });
    const [hit] = receipts.body.hits.hits as unknown as {
      _source: { data: { note: string; cutoff: string } };
    }[];
    const receipt = (hit as { _source: { data: { note: string; cutoff: string } } })._source.data;
    const opened = await oracle.ask({ op: "note", note: receipt.note, keys: [verifier] });
    expect(opened.ok, opened.error).toBe(true);
    expect(opened.text).toContain(`cutoff ${receipt.cutoff}\n`);
  });

  it("a purge receipt altered in the cluster is ignored: what it would excuse is missing again", async () => {
    const res = await client.search({
      index: INTEGRITY_INDEX,
      body: {
        query: { bool: { filter: [{ term: { kind: "receipt" } }, { term: { "scaivault.tenant": t } }] } },
      },
    });
    const hit = res.body.hits.hits[0] as unknown as { _id: string; _source: { data: { note: string } } };
    // Move the cut-off later in the signed text: the signature no longer holds.
    const note = hit._source.data.note.replace(/cutoff (\d{4})/, (_, y) => `cutoff ${Number(y) + 1}`);
    await client.index({
      index: INTEGRITY_INDEX,
      id: hit._id,
      refresh: true,
      body: { ...hit._source, data: { ...hit._source.data, note } } as never,
    });
    expect(await verification({}, t)).toMatchObject({
      purged: 0,
      missing_count: 4,
      receipts: { valid: 0, invalid: 1, purged_before: null },
    });
  });

  it("names the field of every bad request; a run is the tenant's own", async () => {
    const post = (body: unknown) =>
      app.request("/v1/audit/integrity/verifications", {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens[t]}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const cases: [unknown, string][] = [
      [{ from: "now-1d", from_leaf: 0 }, "from_leaf"],
      [{ to: "now", to_leaf: 3 }, "to_leaf"],
      [{ from_leaf: 5, to_leaf: 2 }, "from_leaf"],
      [{ from: "now", to: "now-1d" }, "from"],
      [{ from: "yesterday" }, "from"],
      [{ from_leaf: -1 }, "from_leaf"],
      [{ to_leaf: 1.5 }, "to_leaf"],
      [{ to_leaf: "3" }, "to_leaf"],
      [{ leaves: 3 }, "leaves"],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await json(res)).errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const text = await app.request("/v1/audit/integrity/verifications", {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens[t]}`, "Content-Type": "text/plain" },
      body: "verify",
    });
    expect(text.status).toBe(415);
    // No body at all is no whole-log request: `{}` is.
    const none = await app.request("/v1/audit/integrity/verifications", {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens[t]}` },
    });
    expect(none.status).toBe(400);
    expect((await json(none)).errors[0].field).toBe("body");
    const untyped = await app.request("/v1/audit/integrity/verifications", {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens[t]}` },
      body: "{}",
    });
    expect(untyped.status).toBe(415);
    const started = await json(await post({}));
    expect((await get(`/v1/audit/integrity/verifications/${started.verification_id}`, other)).status).toBe(
      404,
    );
    expect((await get("/v1/audit/integrity/verifications/ver_nope", t)).status).toBe(404);
  });
});

describe("tampering directly in OpenSearch, bypassing the API", () => {
  const victim = newTenant("integrity-tamper");
  let signed: { size: number; root_hash: string; note: string };

  beforeAll(async () => {
    tokens[victim] = await tokenFor(victim, "audit:read");
    await ingestAs(harness, victim, events("t", 20));
    await leaseRunsOut();
    await sealAll();
    signed = await goCheckpoint(victim);
  });

  /** The Go check of an event's inclusion, with the leaf hash recomputed from what /logs shows now. */
  async function goChecks(eventId: string) {
    const shown = (await logsOf(victim)).find((e) => e.id === eventId) as Record<string, unknown>;
    const proof = await get(
      `/v1/audit/integrity/proofs/inclusion?event_id=${eventId}&size=${signed.size}`,
      victim,
    );
    expect(proof.status).toBe(200);
    const check = await oracle.ask({
      op: "record",
      size: signed.size,
      root: signed.root_hash,
      index: proof.body.leaf_index,
      leaf: b64(leafHashOf(victim, shown)),
      proof: proof.body.proof,
    });
    return { check, proof: proof.body, recomputed: b64(leafHashOf(victim, shown)) };
  }

  it("an event changed in its backing index no longer proves: its leaf hash differs and Go rejects it", async () => {
    expect((await goChecks("t-3")).check.ok).toBe(true);
    await client.updateByQuery({
      index: AUDIT_STREAM,
      refresh: true,
      body: {
        query: {
          bool: { filter: [{ term: { "scaivault.tenant": victim } }, { term: { "event.id": "t-3" } }] },
        },
        script: { source: "ctx._source.scaivault.path = 'prod/tampered'" },
      } as never,
    });
    const after = await goChecks("t-3");
    expect(after.recomputed).not.toBe(after.proof.leaf_hash);
    expect(after.check.ok).toBe(false);
    // The other events still prove: the change is pinned to the one event.
    expect((await goChecks("t-4")).check.ok).toBe(true);
    // A verification names it; the sealer, seeing the changed document stored again, refuses it.
    await leaseRunsOut();
    await sealAll();
    expect((await goCheckpoint(victim)).size).toBe(signed.size);
    expect(await verification({}, victim)).toMatchObject({
      log: "verified",
      verified: signed.size - 1,
      modified: ["t-3"],
      modified_count: 1,
      missing_count: 0,
    });
    expect(await verification({ from_leaf: 4 }, victim)).toMatchObject({ modified_count: 0 });
  });

  it("a stored hash of the tree changed fails the proofs that use it against the signed root", async () => {
    const { proof } = await goChecks("t-9");
    // Change the stored hash of a leaf other than t-9's, in the tenant's first hashes document.
    const doc = await client.get({ index: "scaivault-integrity", id: `hashes:${victim}:0` });
    const bytes = Buffer.from((doc.body._source as { hashes: string }).hashes, "base64");
    const sibling = proof.leaf_index ^ 1;
    // Stored index of leaf n: n + n/2 + n/4 + … (sumdb/tlog's layout).
    let at = 0;
    for (let n = sibling; n > 0; n = Math.floor(n / 2)) at += n;
    bytes[at * 32] = (bytes[at * 32] as number) ^ 0xff;
    await client.index({
      index: "scaivault-integrity",
      id: `hashes:${victim}:0`,
      refresh: true,
      body: { ...(doc.body._source as object), hashes: bytes.toString("base64") } as never,
    });
    // The service checks every proof against the signed root before handing it out: it refuses.
    const refused = await get(
      `/v1/audit/integrity/proofs/inclusion?event_id=t-9&size=${signed.size}`,
      victim,
    );
    expect(refused.status).toBe(500);
    expect(refused.body.detail).toContain("damaged");
    // What the stored hashes now say does not hold in Go either.
    const stored = await client.get({ index: "scaivault-integrity", id: `hashes:${victim}:0` });
    const tampered = Buffer.from((stored.body._source as { hashes: string }).hashes, "base64");
    const check = await oracle.ask({
      op: "record",
      size: signed.size,
      root: signed.root_hash,
      index: proof.leaf_index,
      leaf: proof.leaf_hash,
      proof: [tampered.subarray(at * 32, at * 32 + 32).toString("base64"), ...proof.proof.slice(1)],
    });
    expect(check.ok).toBe(false);
    // Proofs that do not pass through the changed hash still hold.
    expect((await goChecks("t-17")).check.ok).toBe(true);
    // A verification does not trust the stored hashes: they no longer hash up to the signed root.
    expect(await verification({}, victim)).toMatchObject({
      log: "damaged",
      damage: expect.stringContaining("do not hash up to the signed root"),
    });
  });

  it("a checkpoint replaced by one signed with another key does not open with the published key", async () => {
    const stranger = parseSignerKey(generateSignerKey("scaivault.test/audit"));
    const text = signed.note.slice(0, signed.note.lastIndexOf("\n\n") + 1);
    const forged = signNote(text, [stranger]);
    const id = `checkpoint:${victim}:${signed.size}`;
    const doc = await client.get({ index: "scaivault-integrity", id });
    const source = doc.body._source as { data: Record<string, unknown> };
    await client.index({
      index: "scaivault-integrity",
      id,
      refresh: true,
      body: { ...source, data: { ...source.data, note: forged } } as never,
    });
    const served = await get(`/v1/audit/integrity/checkpoint?size=${signed.size}`, victim);
    expect(served.body.note).toBe(forged);
    const opened = await oracle.ask({ op: "note", note: forged, keys: [verifier] });
    expect(opened.ok).toBe(false);
    expect(await verification({}, victim)).toMatchObject({
      log: "damaged",
      damage: expect.stringContaining("does not verify"),
      checkpoint: null,
    });
  });
});

describe("exports carry their proof, checked offline with the verifier key alone", () => {
  const exporter = newTenant("integrity-export");
  let stores: Destinations;
  let worker: ExportWorker;
  let exportToken = "";
  let exportApp: ReturnType<typeof testApp>["app"];

  /** 700 events over four actions: a `read` filter picks every fourth leaf (a scattered set). */
  const fixture = Array.from({ length: 700 }, (_, i) =>
    event({
      id: `x-${i}`,
      action: ["read", "write", "delete", "rotate"][i % 4],
      // In ingest order: the export's order (by time) is then the log's.
      timestamp: new Date(Date.UTC(2026, 9, 1, 10) + i * 1000).toISOString().replace("Z", "000Z"),
      context: { n: i, note: i % 50 === 0 ? "ünïcödé \u2028 😀" : "plain" },
    }),
  );

  beforeAll(async () => {
    stores = await startDestinations();
    await stores.grant([exporter]);
    exportToken = await tokenFor(exporter, "audit:export");
    tokens[exporter] = await tokenFor(exporter, "audit:read");
    const exportHarness = testApp(inject("opensearchUrl"), {
      endpointAllowlist: stores.allowlist,
      integrity: { active: signer, retired: [], origin: ORIGIN, seal: sealKeyOf(signer) },
    });
    await ingestAs(exportHarness, exporter, fixture);
    await leaseRunsOut();
    await sealAll();
    worker = new ExportWorker({
      client,
      log,
      secrets: fileSecrets(stores.secretsFile),
      settings: {
        concurrency: 1,
        pollIntervalMs: 100,
        leaseMs: 5000,
        maxAttempts: 3,
        pageSize: 200,
        pitKeepAlive: "2m",
        endpointAllowlist: stores.allowlist,
      },
      attest: exportProofs(client, signer, ORIGIN),
    });
    worker.start();
    exportApp = exportHarness.app;
  }, 240_000);

  afterAll(async () => {
    await worker?.stop();
    await stores?.stop();
  });

  /** Runs an export to S3 and downloads it into a folder of its own, as an auditor would. */
  async function exported(body: Record<string, unknown>, prefix: string) {
    const res = await exportApp.request("/v1/audit/exports", {
      method: "POST",
      headers: { Authorization: `Bearer ${exportToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, destination: stores.destination("s3", prefix) }),
    });
    expect(res.status).toBe(202);
    const { export_id } = await json(res);
    let job: any;
    for (let i = 0; i < 600; i++) {
      job = await json(
        await exportApp.request(`/v1/audit/exports/${export_id}`, {
          headers: { Authorization: `Bearer ${exportToken}` },
        }),
      );
      if (["completed", "failed", "cancelled"].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job.status, JSON.stringify(job.error)).toBe("completed");
    const folder = await mkdtemp(path.join(tmpdir(), "scaivault-export-"));
    folders.push(folder);
    for (const [name, bytes] of await stores.read("s3", prefix))
      await writeFile(path.join(folder, name), bytes);
    return { folder, manifest: job.manifest };
  }

  const verifyCli = async (target: string, keys = [verifier]) => {
    const args = ["scripts/verify.ts", target, ...keys.flatMap((k) => ["--key", k])];
    return run(process.execPath, args, { cwd: PROJECT_ROOT }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
  };

  /** A copy of an export's folder to tamper with. */
  async function copyOf(folder: string) {
    const copy = await mkdtemp(path.join(tmpdir(), "scaivault-tampered-"));
    folders.push(copy);
    await cp(folder, copy, { recursive: true });
    return copy;
  }

  it("a JSON lines export verifies offline: signed manifest, files, every record against the signed checkpoint", async () => {
    const { folder, manifest } = await exported(
      { format: "jsonl", compression: "gzip", max_file_records: 300 },
      "proof-all/",
    );
    expect(manifest.files).toHaveLength(3);
    expect(manifest.integrity).toMatchObject({ tenant: exporter, log: `${ORIGIN}/${exporter}`, unproven: 0 });
    // One run of leaves per file here (the export's order is the store's): the proof is a handful of hashes.
    expect(manifest.integrity.proof.length).toBeLessThanOrEqual(2 * 10);
    // The checkpoint and the manifest's signature open in Go with the published key.
    for (const note of [manifest.integrity.checkpoint.note, manifest.signature]) {
      const opened = await oracle.ask({ op: "note", note, keys: [verifier] });
      expect(opened.ok, opened.error).toBe(true);
    }
    const cpText = await oracle.ask({
      op: "note",
      note: manifest.integrity.checkpoint.note,
      keys: [verifier],
    });
    expect(cpText.text).toBe(
      `${ORIGIN}/${exporter}\n${manifest.integrity.checkpoint.size}\n${manifest.integrity.checkpoint.root_hash}\n`,
    );
    const ok = await verifyCli(folder);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain("700 records proven");
    expect(ok.out).toContain("the export verifies");
    // The manifest alone names the same export.
    expect((await verifyCli(path.join(folder, "manifest.json"))).code).toBe(0);
    // Each record's leaf in the manifest is its leaf in the log (Go checks one proof per file through the API).
    const [first] = String(gunzipSync(await readFile(path.join(folder, "part-00000.jsonl.gz")))).split("\n");
    const e = JSON.parse(first as string);
    const proof = await get(
      `/v1/audit/integrity/proofs/inclusion?event_id=${e.id}&size=${manifest.integrity.checkpoint.size}`,
      exporter,
    );
    expect(proof.body.leaf_index).toBe(manifest.files[0].leaves[0][0]);
    expect(proof.body.leaf_hash).toBe(b64(leafHashOf(exporter, e)));
  });

  it("a filtered export (scattered leaves) verifies too; its proof stays small", async () => {
    const { folder, manifest } = await exported(
      { format: "jsonl", filters: { action: "read" } },
      "proof-read/",
    );
    expect(manifest.total_records).toBe(175);
    expect(manifest.integrity.unproven).toBe(0);
    const ok = await verifyCli(folder);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain("175 records proven");
    // Every fourth leaf: two hashes per record (its neighbour, and the pair beside them), against
    // about log2(size) for each record's own inclusion proof.
    const size = manifest.integrity.checkpoint.size;
    expect(manifest.integrity.proof.length).toBeLessThanOrEqual(
      2 * manifest.total_records + 2 * Math.log2(size),
    );
    expect(manifest.integrity.proof.length).toBeLessThan(
      manifest.total_records * Math.floor(Math.log2(size)),
    );
  });

  it("the verifier fails a changed record, a re-hashed file, a dropped record, a changed proof, an unsigned manifest and another key", async () => {
    const { folder, manifest } = await exported({ format: "jsonl", max_file_records: 400 }, "proof-tamper/");
    const part = path.join(folder, "part-00000.jsonl");
    const lines = (await readFile(part, "utf8")).split("\n");
    const changed = lines.map((l, i) => (i === 5 ? l.replace(/"action":"\w+"/, '"action":"purge"') : l));
    expect(changed[5]).not.toBe(lines[5]);
    const write = async (dir: string, text: string, patch?: (m: any) => void) => {
      await writeFile(path.join(dir, "part-00000.jsonl"), text);
      const m = structuredClone(manifest);
      patch?.(m);
      await writeFile(path.join(dir, "manifest.json"), JSON.stringify(m, null, 2));
    };
    const rehash = (text: string) => (m: any) => {
      m.files[0].bytes = Buffer.byteLength(text);
      m.files[0].sha256 = createHash("sha256").update(text).digest("hex");
    };
    const fails = async (dir: string, subject: string, keys = [verifier]) => {
      const r = await verifyCli(dir, keys);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(new RegExp(`FAIL ${subject}`));
      return r.out;
    };

    // A record changed: the file's SHA-256 names the file.
    const a = await copyOf(folder);
    await write(a, changed.join("\n"));
    await fails(a, "part-00000.jsonl");
    // Also the manifest re-hashed to match: its signature no longer holds, nor do the records.
    const b = await copyOf(folder);
    await write(b, changed.join("\n"), rehash(changed.join("\n")));
    await fails(b, "manifest");
    await fails(b, "records");
    // A record dropped (manifest re-hashed): its count and leaf runs no longer add up.
    const c = await copyOf(folder);
    const dropped = lines.filter((_, i) => i !== 7).join("\n");
    await write(c, dropped, rehash(dropped));
    await fails(c, "part-00000.jsonl");
    // The proof changed (here it is empty: the export holds the whole log; a hash added): the
    // records do not hash up to the signed root.
    const d = await copyOf(folder);
    await write(d, lines.join("\n"), (m) => {
      m.integrity.proof.push(Buffer.alloc(32, 1).toString("base64"));
    });
    await fails(d, "records");
    // Unsigned.
    const e = await copyOf(folder);
    await write(e, lines.join("\n"), (m) => {
      delete m.signature;
    });
    expect(await fails(e, "manifest")).toContain("not signed");
    // Another key: neither the manifest nor the checkpoint opens.
    const stranger = verifierKey(parseSignerKey(generateSignerKey("scaivault.test/audit")));
    await fails(folder, "checkpoint", [stranger]);
    // Bad usage is exit code 2.
    expect((await verifyCli(folder, [])).code).toBe(2);
    expect((await verifyCli(path.join(folder, "nope"), [verifier])).code).toBe(2);
  });

  it("an export made before an event is changed in the cluster still verifies; a verification names the change", async () => {
    const { folder } = await exported({ format: "jsonl" }, "proof-before/");
    await client.updateByQuery({
      index: AUDIT_STREAM,
      refresh: true,
      body: {
        query: {
          bool: { filter: [{ term: { "scaivault.tenant": exporter } }, { term: { "event.id": "x-42" } }] },
        },
        script: { source: "ctx._source.scaivault.path = 'prod/rewritten'" },
      } as never,
    });
    expect((await verifyCli(folder)).code).toBe(0);
    expect(await verification({}, exporter)).toMatchObject({ modified: ["x-42"], verified: 699 });
  });

  it("a CSV export is signed (its cells are not the API form: no record proofs)", async () => {
    const { folder, manifest } = await exported({ format: "csv" }, "proof-csv/");
    expect(manifest.integrity).toBeUndefined();
    expect(typeof manifest.signature).toBe("string");
    const ok = await verifyCli(folder);
    expect(ok.code, ok.out).toBe(0);
  });
});

describe("two replicas ingesting while the sealer's replica is killed (SIGKILL) and restarted", () => {
  const busy = newTenant("integrity-replicas");
  const replicas: { port: number; svc: ReturnType<typeof startService> }[] = [];

  const start = async (port: number, keyFile: string) => {
    const svc = startService({
      OPENSEARCH_URL: inject("opensearchUrl"),
      AUDIT_JWT_SECRET: TEST_SECRET,
      PORT: String(port),
      INTEGRITY_SIGNING_KEY_FILE: keyFile,
      AUDIT_LOG_ORIGIN: ORIGIN,
      INTEGRITY_SEAL_INTERVAL_MS: "200",
      INTEGRITY_CHECKPOINT_INTERVAL_MS: "1000",
      // The export and retention tests own the job queue and the purge lease of the shared cluster.
      EXPORT_WORKER: "false",
      RETENTION_PURGE: "false",
      SUMMARY_ROLLUP: "false",
    });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000, svc.output);
    return svc;
  };

  afterAll(async () => {
    for (const r of replicas) r.svc.child.kill("SIGKILL");
  });

  it("seals every stored event exactly once, and every checkpoint is consistent with the one before", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "scaivault-key-"));
    folders.push(dir);
    const keyFile = path.join(dir, "signing-key");
    await writeFile(keyFile, SIGNER_KEY, { mode: 0o600 });
    await leaseRunsOut();
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      replicas.push({ port, svc: await start(port, keyFile) });
    }
    const write = await tokenFor(busy, "audit:write");
    tokens[busy] = await tokenFor(busy, "audit:read");
    const post = async (replica: number, batch: number) => {
      try {
        const res = await fetch(`http://127.0.0.1:${replicas[replica]?.port}/v1/audit/events`, {
          method: "POST",
          headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" },
          body: JSON.stringify({ events: events(`k${batch}`, 50) }),
        });
        return res.status;
      } catch {
        return 0; // the replica died with the request in flight: nothing was acknowledged
      }
    };
    // 40 batches of 50 through both replicas at once; replica 0 is killed after the 10th and 25th
    // batch, requests in flight and all (whoever holds the sealer lease then), and restarted while
    // ingest goes on through replica 1.
    let accepted = 0;
    let restarting: Promise<void> | null = null;
    const sent: Promise<void>[] = [];
    for (let batch = 0; batch < 40; batch++) {
      if (batch === 10 || batch === 25) {
        await restarting;
        // The sealers are at work by now: a checkpoint covers some of what was accepted.
        for (let i = 0; i < 100 && (await get("/v1/audit/integrity/checkpoint", busy)).status !== 200; i++)
          await new Promise((r) => setTimeout(r, 100));
        const victim = replicas[0] as (typeof replicas)[number];
        victim.svc.child.kill("SIGKILL");
        await new Promise((r) => victim.svc.child.once("exit", r));
        restarting = start(victim.port, keyFile).then((svc) => {
          victim.svc = svc;
          restarting = null;
        });
      }
      const target = restarting ? 1 : batch % 2;
      sent.push(
        post(target, batch).then(async (status) => {
          // A batch refused by a dying replica is resent to the other: ingest is idempotent by id.
          if (status !== 200) status = await post(1, batch);
          expect(status).toBe(200);
          accepted += 50;
        }),
      );
      if (sent.length >= 4) await Promise.all(sent.splice(0, 2));
      // Spread over a few seconds, so sealing runs alongside ingest.
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(sent);
    await restarting;
    expect(accepted).toBe(2000);
    // The replicas seal on their own: wait for a checkpoint of everything.
    let cp = { size: 0, root_hash: "", note: "" };
    for (let i = 0; i < 300 && cp.size < 2000; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await get("/v1/audit/integrity/checkpoint", busy);
      if (res.status === 200) cp = res.body;
    }
    expect(cp.size).toBe(2000);
    await expectAllIncluded(busy);
    // Every checkpoint signed along the way extends the one before it (Go checks each proof).
    await client.indices.refresh({ index: INTEGRITY_INDEX });
    const signed = await client.search({
      index: INTEGRITY_INDEX,
      body: {
        query: {
          bool: { filter: [{ term: { kind: "checkpoint" } }, { term: { "scaivault.tenant": busy } }] },
        },
        sort: [{ size: "asc" }],
        size: 1000,
        _source: ["data.size", "data.root"],
      } as never,
    });
    const checkpoints = (
      signed.body.hits.hits as unknown as { _source: { data: { size: number; root: string } } }[]
    ).map((h) => ({ size: h._source.data.size, root_hash: h._source.data.root }));
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < checkpoints.length; i++)
      await expectConsistent(
        busy,
        checkpoints[i - 1] as (typeof checkpoints)[number],
        checkpoints[i] as (typeof checkpoints)[number],
      );
    expect(await verification({}, busy)).toMatchObject({
      verified: 2000,
      unexpected_count: 0,
      missing_count: 0,
    });
  });
});

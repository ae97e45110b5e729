/**
 * Delivery to a real webhook receiver (signatures checked with `standardwebhooks`, messages parsed
 * with the `cloudevents` SDK) against a real OpenSearch: the API's checks, every matching event
 * delivered once and in store order (compared with /logs), a receiver that fails for a while, a
 * failing destination beside a healthy one, pause/resume, replay, batches, the test endpoint,
 * tenants.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Admin } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import { Deliverer } from "../../src/features/delivery/delivery.deliverer.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { capturedLogger, ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { parseCef } from "../support/cef-parser.ts";
import { event, newTenant } from "../support/events.ts";
import { type HecReceiver, startHecReceiver } from "../support/hec-receiver.ts";
import { consumeAll, type KafkaBroker, startKafka } from "../support/kafka.ts";
import { ocsfProblems } from "../support/ocsf-oracle.ts";
import { startService, waitForStatus } from "../support/process.ts";
import { type SyslogServer, startRsyslog } from "../support/rsyslog.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

const url = inject("opensearchUrl");
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const TIMINGS = { failingAfterMs: 1500, sendTimeoutMs: 2000 };

let receiver: WebhookReceiver;
let other: WebhookReceiver;
let rsyslog: SyslogServer;
let broker: KafkaBroker;
let hec: HecReceiver;
const HEC_TOKEN = randomUUID();
const SASL = { username: "audit-producer", password: randomBytes(12).toString("hex") };
let secretsFile = "";
let t: ReturnType<typeof testApp>;
let deliverer: Deliverer;
const tenant = newTenant("dlv");
const tenantB = newTenant("dlvb");
const tenantC = newTenant("dlvc");
let admin: string;

beforeAll(async () => {
  [receiver, other, rsyslog, broker, hec] = await Promise.all([
    startWebhookReceiver(SECRET),
    startWebhookReceiver(SECRET),
    startRsyslog(),
    startKafka({ sasl: SASL }),
    startHecReceiver({ token: HEC_TOKEN }),
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), "scaivault-delivery-"));
  const file = path.join(dir, "secrets.json");
  secretsFile = file;
  const hook = { signing_secret: SECRET };
  await writeFile(
    file,
    JSON.stringify({
      [tenant]: {
        "siem/webhook": hook,
        "siem/syslog": {},
        "siem/kafka": SASL,
        "siem/kafka-wrong": { ...SASL, password: "not-the-password" },
        "siem/hec": { hec_token: HEC_TOKEN },
        "siem/hec-wrong": { hec_token: randomUUID() },
      },
      [tenantB]: { "siem/webhook": hook },
      [tenantC]: { "siem/webhook": hook },
    }),
  );
  const secrets = fileSecrets(file);
  const allowlist = [
    receiver.origin,
    other.origin,
    `tls://127.0.0.1:${rsyslog.port}`,
    `kafka://${broker.bootstrap}`,
    `kafka://${broker.saslBootstrap}`,
    hec.url,
  ];
  t = testApp(url, { endpointAllowlist: allowlist, secrets, delivery: TIMINGS });
  await t.readiness.runOnce(t.client, await loadAssets());
  deliverer = new Deliverer({
    client: t.client,
    store: { client: t.client, stream: "audit-events" },
    log: capturedLogger().log,
    secrets,
    allowlist,
    settings: { pollIntervalMs: 100, leaseMs: 5000, maxBackoffMs: 400, ...TIMINGS },
    metrics: t.metrics.delivery,
  });
  deliverer.start();
  admin = await tokenFor(tenant, "audit:admin audit:read");
});

afterAll(async () => {
  await deliverer?.stop();
  await Promise.all([receiver?.stop(), other?.stop(), rsyslog?.stop(), broker?.stop(), hec?.stop()]);
});

const call = async (method: string, p: string, body?: unknown, token = admin) =>
  t.app.request(p, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const webhookDestination = (patch: Record<string, unknown> = {}, to = receiver) => ({
  name: "SIEM webhook",
  type: "webhook",
  config: { url: to.url },
  credentials_secret: "siem/webhook",
  batch: { max_events: 50, linger_ms: 0 },
  ...patch,
});

async function create(patch: Record<string, unknown> = {}, to = receiver, token = admin): Promise<any> {
  const res = await call("POST", "/v1/audit/destinations", webhookDestination(patch, to), token);
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

async function until<T>(what: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last: ${JSON.stringify(v).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const status = async (id: string, token = admin) =>
  (await json(await call("GET", `/v1/audit/destinations/${id}`, undefined, token))).status;
/** A delivered event's path (OCSF messages have none: ""). */
const pathOf = (e: { data?: unknown }) => String((e.data as { path?: unknown } | undefined)?.path ?? "");
const idsAt = (r: WebhookReceiver, pathMark: string) =>
  r
    .events()
    .filter((e) => pathOf(e).startsWith(pathMark))
    .map((e) => e.id);

describe("destinations API", () => {
  it("refuses inline credentials, unlisted hosts, wrong formats and unknown fields, naming each field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ config: { url: receiver.url, signing_secret: "whsec_x" } }, "config.signing_secret"],
      [{ credentials: { token: "x" } }, "credentials"],
      [{ config: { url: "https://siem.example.com/hook" } }, "config.url"],
      [{ config: { url: "http://user:pw@127.0.0.1:1/x" } }, "config.url"],
      [{ format: "cef" }, "format"],
      [{ type: "carrier-pigeon" }, "type"],
      [{ config: { url: receiver.url, mode: "sometimes" } }, "config.mode"],
      [{ filters: { action: "teleport" } }, "filters.action"],
      [{ batch: { max_events: 0, linger_ms: 0 } }, "batch.max_events"],
      [{ credentials_secret: "../etc/passwd" }, "credentials_secret"],
      [{ name: "two\nlines" }, "name"],
      [{ colour: "blue" }, "colour"],
      [{ type: "kafka", config: { brokers: ["[0]:0"], topic: "audit" } }, "config.brokers.0"],
      [{ type: "kafka", config: { brokers: ["broker:9092"], topic: ".." } }, "config.topic"],
      [{ type: "syslog", config: { host: ":::", port: 6514 } }, "config.host"],
      [{ type: "syslog", format: "ocsf", config: { host: "siem", port: 70000 } }, "config.port"],
      [{ type: "splunk_hec", config: { url: receiver.url, index: "bad\nindex" } }, "config.index"],
    ];
    for (const [patch, field] of cases) {
      const res = await call("POST", "/v1/audit/destinations", webhookDestination(patch));
      const body = await json(res);
      expect(res.status, `${JSON.stringify(patch)} → ${JSON.stringify(body)}`).toBe(400);
      expect(
        body.errors.map((e: { field: string }) => e.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    const readOnly = await tokenFor(tenant, "audit:read audit:export");
    expect((await call("POST", "/v1/audit/destinations", webhookDestination(), readOnly)).status).toBe(403);
    expect((await call("GET", "/v1/audit/destinations", undefined, readOnly)).status).toBe(403);
  });

  it("creates, reads, lists, changes and deletes a destination; another tenant sees none of it", async () => {
    const d = await create({ name: "to be changed" });
    expect(d.destination_id).toMatch(/^dst_/);
    expect(d.status).toMatchObject({
      state: "active",
      delivered: 0,
      failed: 0,
      skipped_by_retention: 0,
      lag_events: 0,
    });
    expect(d.created_by).toBe("user:tester@example.com");
    const changed = await call("PATCH", `/v1/audit/destinations/${d.destination_id}`, {
      name: "changed",
      filters: { action: ["write"] },
    });
    expect(changed.status).toBe(200);
    expect(await json(changed)).toMatchObject({ name: "changed", filters: { action: ["write"] } });
    const badPatch = await call("PATCH", `/v1/audit/destinations/${d.destination_id}`, {
      config: { url: "https://elsewhere.example.com/" },
    });
    expect(badPatch.status).toBe(400);
    expect((await json(badPatch)).errors[0].field).toBe("config.url");
    const list = await json(await call("GET", "/v1/audit/destinations"));
    expect(list.entries.map((e: { destination_id: string }) => e.destination_id)).toContain(d.destination_id);

    const otherAdmin = await tokenFor(tenantB, "audit:admin");
    expect(
      (await call("GET", `/v1/audit/destinations/${d.destination_id}`, undefined, otherAdmin)).status,
    ).toBe(404);
    expect(
      (await call("DELETE", `/v1/audit/destinations/${d.destination_id}`, undefined, otherAdmin)).status,
    ).toBe(404);
    expect((await json(await call("GET", "/v1/audit/destinations", undefined, otherAdmin))).entries).toEqual(
      [],
    );

    expect((await call("DELETE", `/v1/audit/destinations/${d.destination_id}`)).status).toBe(204);
    expect((await call("GET", `/v1/audit/destinations/${d.destination_id}`)).status).toBe(404);
    expect((await call("GET", "/v1/audit/destinations/not-an-id")).status).toBe(404);
  });
});

describe("delivery to a webhook", () => {
  it("sends every matching event once, in store order, signed, as CloudEvents — the events /logs returns", async () => {
    const mark = `ordered-${Date.now()}`;
    const d = await create({ filters: { action: ["read", "write"], path_prefix: mark } });
    const events = Array.from({ length: 120 }, (_, i) =>
      event({ path: `${mark}/s${i}`, action: ["read", "write", "delete"][i % 3] }),
    );
    await ingestAs(t, tenant, events);
    await ingestAs(t, tenantB, [event({ path: `${mark}/other-tenant` })]);
    const expected = 80;
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n >= expected,
    );
    const st = await until(
      () => status(d.destination_id),
      (s) => s.delivered >= expected,
    );
    // /logs is the oracle: the same events (newest first there; here in store order = ingest order).
    const reader = await tokenFor(tenant, "audit:read");
    const logs = await json(
      await call("GET", `/v1/audit/logs?path_prefix=${mark}&action=read,write&limit=1000`, undefined, reader),
    );
    const got = idsAt(receiver, mark);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort()).toEqual(logs.entries.map((e: { id: string }) => e.id).sort());
    const sent = events.filter((_, i) => i % 3 !== 2).map((e) => e.path);
    expect(
      receiver
        .events()
        .filter((e) => got.includes(e.id))
        .map((e) => pathOf(e)),
    ).toEqual(sent);
    expect(receiver.badSignatures).toBe(0);
    const first = receiver.events().find((e) => e.id === got[0]);
    expect(first).toMatchObject({
      specversion: "1.0",
      type: "com.scaivault.audit.read",
      source: `/scaivault/audit/${tenant}`,
    });
    expect(first?.data).toEqual(logs.entries.find((e: { id: string }) => e.id === got[0]));
    expect(st).toMatchObject({ state: "active", lag_events: 0, failed: 0 });
    expect(st.last_success_at).not.toBeNull();
    // Structured mode: one event per request, the webhook-id is the event id.
    const req = receiver.requests.find((r) => r.events[0]?.id === got[0]);
    expect(req?.webhookId).toBe(got[0]);
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("keeps trying a failing receiver with back-off, shows it failing, and delivers everything once it heals; a healthy destination beside it is not held up", async () => {
    const mark = `healing-${Date.now()}`;
    const failing = await create({ filters: { path_prefix: mark } }, other);
    const healthy = await create({ filters: { path_prefix: mark } });
    other.refuse(503);
    await ingestAs(
      t,
      tenant,
      Array.from({ length: 30 }, (_, i) => event({ path: `${mark}/s${i}` })),
    );
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 30,
    );
    const down = await until(
      () => status(failing.destination_id),
      (s) => s.state === "failing",
    );
    expect(down.last_error.message).toContain("HTTP 503");
    expect(down.failed).toBeGreaterThan(1);
    expect(down.lag_events).toBe(30);
    expect(down.delivered).toBe(0);
    expect(idsAt(other, mark)).toEqual([]);
    const gauge = `audit_delivery_failing{destination="${failing.destination_id}"} 1`;
    await until(
      async () => (await t.app.request("/metrics")).text(),
      (m) => m.includes(gauge),
    );

    other.refuse(null);
    await until(
      () => idsAt(other, mark).length,
      (n) => n >= 30,
    );
    const up = await until(
      () => status(failing.destination_id),
      (s) => s.delivered === 30,
    );
    expect(up).toMatchObject({ state: "active", lag_events: 0, skipped_by_retention: 0 });
    expect(new Set(idsAt(other, mark))).toEqual(new Set(idsAt(receiver, mark)));
    for (const d of [failing, healthy]) await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("waits out a receiver that is down (connections refused) and delivers everything once it is back", async () => {
    const mark = `down-${Date.now()}`;
    const d = await create({ filters: { path_prefix: mark } }, other);
    await other.down();
    try {
      await ingestAs(
        t,
        tenant,
        Array.from({ length: 25 }, (_, i) => event({ path: `${mark}/s${i}` })),
      );
      const down = await until(
        () => status(d.destination_id),
        (s) => s.state === "failing",
      );
      expect(down.last_error.message).toMatch(/cannot be reached/);
      expect(down.lag_events).toBe(25);
    } finally {
      await other.up();
    }
    await until(
      () => idsAt(other, mark).length,
      (n) => n === 25,
    );
    expect(
      other
        .events()
        .filter((e) => pathOf(e).startsWith(mark))
        .map(pathOf),
    ).toEqual(Array.from({ length: 25 }, (_, i) => `${mark}/s${i}`));
    const up = await until(
      () => status(d.destination_id),
      (s) => s.delivered === 25,
    );
    expect(up).toMatchObject({ state: "active", lag_events: 0 });
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("sends nothing while paused and everything stored meanwhile after resume", async () => {
    const mark = `paused-${Date.now()}`;
    const d = await create({ filters: { path_prefix: mark } });
    const paused = await json(await call("POST", `/v1/audit/destinations/${d.destination_id}/pause`));
    expect(paused.status.state).toBe("paused");
    await ingestAs(
      t,
      tenant,
      Array.from({ length: 10 }, (_, i) => event({ path: `${mark}/s${i}` })),
    );
    await until(
      () => status(d.destination_id),
      (s) => s.lag_events === 10,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(idsAt(receiver, mark)).toEqual([]);
    const resumed = await json(await call("POST", `/v1/audit/destinations/${d.destination_id}/resume`));
    expect(resumed.status.state).toBe("active");
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 10,
    );
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("replays from an instant: the events at or after it again, none before it", async () => {
    const mark = `replay-${Date.now()}`;
    const d = await create({ filters: { path_prefix: mark } });
    const events = Array.from({ length: 20 }, (_, i) =>
      event({ path: `${mark}/s${i}`, timestamp: `2026-11-20T10:00:${String(i).padStart(2, "0")}.000001Z` }),
    );
    await ingestAs(t, tenant, events);
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 20,
    );
    const res = await call("POST", `/v1/audit/destinations/${d.destination_id}/replay`, {
      from: "2026-11-20T10:00:15Z",
    });
    expect(res.status).toBe(200);
    expect((await json(res)).status.replaying_from).toBe("2026-11-20T10:00:15.000000Z");
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 25,
    );
    await new Promise((r) => setTimeout(r, 500));
    const got = idsAt(receiver, mark);
    expect(got.length).toBe(25);
    const again = got.slice(20).map((id) => receiver.events().find((e) => e.id === id)?.time);
    expect(again.every((time) => (time as string) >= "2026-11-20T10:00:15")).toBe(true);
    expect((await status(d.destination_id)).replaying_from).toBeNull();

    for (const [body, field] of [
      [{}, "body"],
      [{ from: "yesterday-ish" }, "from"],
      [{ position: "99999-1" }, "position"],
      [{ from: "now-1h", position: "1-0" }, "body"],
    ] as const) {
      const bad = await call("POST", `/v1/audit/destinations/${d.destination_id}/replay`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect((await json(bad)).errors[0].field).toBe(field);
    }
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("sends OCSF 1.8 when asked: every message a valid instance of its class (checked against OCSF's own schema)", async () => {
    const mark = `ocsf-${Date.now()}`;
    const d = await create({ format: "ocsf", filters: { path_prefix: mark } });
    const actions = [
      "read",
      "write",
      "delete",
      "list",
      "rotate",
      "policy_create",
      "policy_bind",
      "pki_issue",
      "dynamic_revoke",
    ];
    await ingestAs(
      t,
      tenant,
      actions.map((action, i) => event({ path: `${mark}/s${i}`, action, success: i % 2 === 0 })),
    );
    const ocsf = async () =>
      receiver
        .events()
        .filter(
          (e) =>
            String((e.data as { metadata?: { uid?: string } }).metadata?.uid ?? "") !== "" &&
            JSON.stringify(e.data).includes(mark),
        );
    const got = await until(ocsf, (m) => m.length === actions.length);
    for (const e of got) {
      const o = e.data as Record<string, unknown>;
      expect(ocsfProblems(o)).toEqual([]);
      expect((o.metadata as { uid: string; tenant_uid: string }).uid).toBe(e.id);
      expect((o.metadata as { tenant_uid: string }).tenant_uid).toBe(tenant);
    }
    expect(new Set(got.map((e) => (e.data as { class_uid: number }).class_uid))).toEqual(
      new Set([6003, 3004]),
    );
    const bad = await call("PATCH", `/v1/audit/destinations/${d.destination_id}`, { format: "cef" });
    expect(bad.status).toBe(400);
    expect((await json(bad)).errors[0].field).toBe("format");
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("sends batches as CloudEvents batches, one signed request each", async () => {
    const mark = `batched-${Date.now()}`;
    const d = await create({
      filters: { path_prefix: mark },
      config: { url: receiver.url, mode: "batched" },
      batch: { max_events: 10, linger_ms: 200 },
    });
    await ingestAs(
      t,
      tenant,
      Array.from({ length: 25 }, (_, i) => event({ path: `${mark}/s${i}` })),
    );
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 25,
    );
    const batches = receiver.requests.filter((r) =>
      (r.events[0]?.data as { path?: string } | undefined)?.path?.startsWith(mark),
    );
    expect(batches.every((b) => b.contentType.startsWith("application/cloudevents-batch+json"))).toBe(true);
    expect(batches.every((b) => b.events.length <= 10)).toBe(true);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches[0]?.webhookId).toBe(`${batches[0]?.events[0]?.id}+${batches[0]?.events.length}`);
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("tests a destination: one synthetic event, and what a refusing receiver answered", async () => {
    const d = await create({ filters: { path_prefix: "nothing-matches" } });
    const ok = await json(await call("POST", `/v1/audit/destinations/${d.destination_id}/test`));
    expect(ok).toMatchObject({ ok: true, error: null });
    expect(receiver.events().some((e) => e.id === ok.event_id)).toBe(true);
    receiver.refuse(502);
    const refused = await json(await call("POST", `/v1/audit/destinations/${d.destination_id}/test`));
    receiver.refuse(null);
    expect(refused.ok).toBe(false);
    expect(refused.error).toContain("HTTP 502");
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });
});

describe("retention", () => {
  it("passes over events that left the tenant's retention before their turn, and counts them", async () => {
    const adminC = await tokenFor(tenantC, "audit:admin audit:read");
    const mark = `retention-${Date.now()}`;
    const d = await create({ filters: { path_prefix: mark } }, receiver, adminC);
    await call("POST", `/v1/audit/destinations/${d.destination_id}/pause`, undefined, adminC);
    const now = Date.now();
    const old = Array.from({ length: 10 }, (_, i) =>
      event({ path: `${mark}/old${i}`, timestamp: new Date(now - 3 * 86_400_000 + i).toISOString() }),
    );
    const fresh = Array.from({ length: 5 }, (_, i) =>
      event({ path: `${mark}/new${i}`, timestamp: new Date(now - 60_000 + i).toISOString() }),
    );
    await ingestAs(t, tenantC, [...old.slice(0, 5), ...fresh, ...old.slice(5)]);
    const put = await call("PUT", "/v1/audit/retention", { retention_days: 1 }, adminC);
    expect(put.status).toBe(200);
    await call("POST", `/v1/audit/destinations/${d.destination_id}/resume`, undefined, adminC);
    const st = await until(
      () => status(d.destination_id, adminC),
      (s) => s.delivered === 5 && s.skipped_by_retention === 10,
    );
    expect(st.lag_events).toBe(0);
    expect(idsAt(receiver, mark).length).toBe(5);
    expect(receiver.events().filter((e) => pathOf(e).startsWith(`${mark}/old`))).toEqual([]);

    // A replay from before the cut-off sends what retention still holds, and no more.
    const replay = await call(
      "POST",
      `/v1/audit/destinations/${d.destination_id}/replay`,
      { from: "now-30d" },
      adminC,
    );
    expect(replay.status).toBe(200);
    await until(
      () => idsAt(receiver, mark).length,
      (n) => n === 10,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(idsAt(receiver, mark).length).toBe(10);
    expect(receiver.events().filter((e) => pathOf(e).startsWith(`${mark}/old`))).toEqual([]);
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`, undefined, adminC);
  });
});

describe("delivery over syslog (RFC 5424 over TLS) to rsyslog", () => {
  it("sends each event as one message rsyslog parses back: facility, severity, timestamp, MSGID, the event id, the event", async () => {
    const mark = `syslog-${Date.now()}`;
    const hostile = {
      note: 'quote " backslash \\ bracket ] newline \n line-sep \u2028 end',
      deep: { x: "]" },
    };
    const events = Array.from({ length: 40 }, (_, i) =>
      event({
        path: `${mark}/s${i}`,
        action: ["read", "write", "policy_update", "rotate"][i % 4],
        ...(i % 5 === 0 ? { success: false, error_code: "permission_denied" } : {}),
        ...(i === 7 ? { context: hostile } : {}),
      }),
    );
    const d = await create({
      type: "syslog",
      config: { host: "127.0.0.1", port: rsyslog.port, ca_pem: rsyslog.caPem, hostname: "vault-1" },
      credentials_secret: "siem/syslog",
      filters: { path_prefix: mark },
    });
    await ingestAs(t, tenant, events);
    const reader = await tokenFor(tenant, "audit:read");
    const logs = await json(
      await call("GET", `/v1/audit/logs?path_prefix=${mark}&limit=1000`, undefined, reader),
    );
    const byId = new Map(logs.entries.map((e: { id: string }) => [e.id, e]));
    const ours = async () =>
      (await rsyslog.parsed()).filter(
        (m) => m.structured_data?.includes(`tenant="${tenant}"`) && (m.msg ?? "").includes(mark),
      );
    const got = await until(ours, (m) => m.length >= 40);
    expect(got.length).toBe(40);
    const sent = got.map((m) => JSON.parse((m.msg ?? "").replace(/^\uFEFF/, "")));
    expect(sent.map((e) => e.path)).toEqual(events.map((e) => e.path));
    for (const [i, m] of got.entries()) {
      const e = byId.get(sent[i].id) as Record<string, unknown>;
      expect(sent[i]).toEqual(e);
      expect(m).toMatchObject({
        facility: "13",
        severity: e.success ? "6" : "4",
        timestamp: e.timestamp,
        hostname: "vault-1",
        app_name: "scaivault-audit",
        msgid: e.action,
        structured_data: `[audit@32473 id="${e.id}" tenant="${tenant}"]`,
      });
    }
    expect(sent[7].context).toEqual(hostile);
    const st = await until(
      () => status(d.destination_id),
      (s) => s.delivered === 40,
    );
    expect(st).toMatchObject({ state: "active", lag_events: 0, failed: 0 });
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("sends CEF when asked: each message one CEF:0 line a strict parser reads back, hostile values as data", async () => {
    const mark = `cef-${Date.now()}`;
    const hostile = { note: "a|b=c\\d\nCEF:0|Evil|x|1|delete|spoof|10|act=delete", sep: "\u2028" };
    const d = await create({
      type: "syslog",
      format: "cef",
      config: { host: "127.0.0.1", port: rsyslog.port, ca_pem: rsyslog.caPem },
      credentials_secret: "siem/syslog",
      filters: { path_prefix: mark },
    });
    const events = Array.from({ length: 12 }, (_, i) =>
      event({
        path: `${mark}/s${i}`,
        action: ["read", "delete", "policy_update"][i % 3],
        context: i === 4 ? hostile : {},
      }),
    );
    await ingestAs(t, tenant, events);
    const ours = async () => (await rsyslog.parsed()).filter((m) => (m.msg ?? "").includes(mark));
    const got = await until(ours, (m) => m.length >= 12);
    const lines = got.map((m) => parseCef((m.msg ?? "").replace(/^\uFEFF/, "")));
    expect(lines.map((c) => c.ext.get("cs1"))).toEqual(events.map((e) => e.path));
    for (const [i, c] of lines.entries()) {
      expect(c).toMatchObject({
        version: "0",
        vendor: "ScaiVault",
        product: "Audit Log",
        signatureId: events[i]?.action,
      });
      expect(c.ext.get("cs2")).toBe(tenant);
    }
    expect(JSON.parse(lines[4]?.ext.get("cs6") as string)).toEqual(hostile);
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("refuses a receiver whose certificate it cannot trust, and says so in the status", async () => {
    const d = await create({
      type: "syslog",
      config: { host: "127.0.0.1", port: rsyslog.port },
      credentials_secret: "siem/syslog",
      filters: { path_prefix: "untrusted" },
    });
    await ingestAs(t, tenant, [event({ path: "untrusted/x" })]);
    const st = await until(
      () => status(d.destination_id),
      (s) => s.failed > 0,
    );
    expect(st.last_error.message).toMatch(/TLS/);
    expect(st.delivered).toBe(0);
    const res = await call("POST", "/v1/audit/destinations", {
      ...webhookDestination(),
      type: "syslog",
      config: { host: "siem.example.com", port: 6514 },
    });
    expect(res.status).toBe(400);
    expect((await json(res)).errors[0]).toMatchObject({
      field: "config.host",
      message: expect.stringContaining("tls://siem.example.com:6514"),
    });
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });
});

describe("delivery to Splunk HEC (the OpenTelemetry Collector's splunk_hec receiver)", () => {
  it("sends batches of events with their exact time and indexed fields, waits for indexer acknowledgement; a wrong token fails with Splunk's answer", async () => {
    const mark = `hec-${Date.now()}`;
    const good = await create({
      type: "splunk_hec",
      config: { url: hec.url, index: "audit", ack: true },
      credentials_secret: "siem/hec",
      filters: { path_prefix: mark },
      batch: { max_events: 20, linger_ms: 0 },
    });
    const wrong = await create({
      type: "splunk_hec",
      config: { url: hec.url },
      credentials_secret: "siem/hec-wrong",
      filters: { path_prefix: mark },
    });
    const events = Array.from({ length: 45 }, (_, i) => event({ path: `${mark}/s${i}` }));
    await ingestAs(t, tenant, events);
    await until(
      () => status(good.destination_id),
      (s) => s.delivered === 45,
    );
    const reader = await tokenFor(tenant, "audit:read");
    const logs = await json(
      await call("GET", `/v1/audit/logs?path_prefix=${mark}&limit=1000`, undefined, reader),
    );
    const byId = new Map(logs.entries.map((e: { id: string; timestamp: string }) => [e.id, e]));
    const got = (await hec.received()).filter(
      (e) => e.fields.tenant === tenant && JSON.stringify(e.event).includes(mark),
    );
    expect(got.map((e) => (e.event as { path: string }).path)).toEqual(events.map((e) => e.path));
    for (const e of got) {
      const original = byId.get(e.fields.event_id as string) as { timestamp: string };
      expect(e.event).toEqual(original);
      expect(e).toMatchObject({
        index: "audit",
        source: "scaivault:audit",
        sourcetype: "scaivault:audit:json",
      });
      const seconds = Math.floor(Date.parse(original.timestamp) / 1000);
      expect(e.time).toBeCloseTo(seconds + Number(`0.${original.timestamp.slice(20, 26)}`), 6);
    }
    const refused = await until(
      () => status(wrong.destination_id),
      (s) => s.failed > 0,
    );
    expect(refused.last_error.message).toMatch(/HTTP 403.*Invalid token.*code 4/);
    expect(refused.last_error.message).not.toContain(HEC_TOKEN);
    for (const d of [good, wrong]) await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });
});

describe("delivery to Kafka", () => {
  const topic = (name: string) => `audit.${name}.${Date.now()}`;
  async function createTopic(name: string): Promise<void> {
    const admin = new Admin({ clientId: "delivery-test", bootstrapBrokers: [broker.bootstrap] });
    try {
      await admin.createTopics({ topics: [name], partitions: 3, replicas: 1 });
    } finally {
      await admin.close();
    }
  }

  it("writes one record per event (key = event id) with an idempotent producer; Kafka's own consumer reads what /logs returns", async () => {
    const mark = `kafka-${Date.now()}`;
    const name = topic("plain");
    await createTopic(name);
    const d = await create({
      type: "kafka",
      config: { brokers: [broker.bootstrap], topic: name, tls: false },
      credentials_secret: "siem/kafka",
      filters: { path_prefix: mark },
      batch: { max_events: 25, linger_ms: 0 },
    });
    const events = Array.from({ length: 60 }, (_, i) => event({ path: `${mark}/s${i}` }));
    await ingestAs(t, tenant, events);
    const st = await until(
      () => status(d.destination_id),
      (s) => s.delivered === 60,
    );
    expect(st).toMatchObject({ state: "active", lag_events: 0, failed: 0 });
    const records = await consumeAll(broker.bootstrap, name, { maxMessages: 60 });
    expect(records.length).toBe(60);
    const reader = await tokenFor(tenant, "audit:read");
    const logs = await json(
      await call("GET", `/v1/audit/logs?path_prefix=${mark}&limit=1000`, undefined, reader),
    );
    const byId = new Map(logs.entries.map((e: { id: string }) => [e.id, e]));
    for (const r of records) {
      expect(JSON.parse(r.value)).toEqual(byId.get(r.key));
      expect(r.headers["scaivault-tenant"]).toBe(tenant);
    }
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(byId.keys()));
    // Records of one partition keep store order.
    for (const partition of new Set(records.map((r) => r.partition))) {
      const paths = records.filter((r) => r.partition === partition).map((r) => JSON.parse(r.value).path);
      const order = paths.map((p) => events.findIndex((e) => e.path === p));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
  });

  it("logs in with SASL/PLAIN from the credentials secret; a wrong password fails and says so", async () => {
    const mark = `kafka-sasl-${Date.now()}`;
    const name = topic("sasl");
    await createTopic(name);
    const config = { brokers: [broker.saslBootstrap], topic: name, tls: false, sasl: "PLAIN" };
    const good = await create({
      type: "kafka",
      config,
      credentials_secret: "siem/kafka",
      filters: { path_prefix: mark },
    });
    const bad = await create({
      type: "kafka",
      config,
      credentials_secret: "siem/kafka-wrong",
      filters: { path_prefix: mark },
    });
    await ingestAs(
      t,
      tenant,
      Array.from({ length: 10 }, (_, i) => event({ path: `${mark}/s${i}` })),
    );
    await until(
      () => status(good.destination_id),
      (s) => s.delivered === 10,
    );
    const failing = await until(
      () => status(bad.destination_id),
      (s) => s.failed > 0,
    );
    expect(failing.delivered).toBe(0);
    expect(failing.last_error.message).toMatch(/Kafka/);
    expect(failing.last_error.message).not.toContain("not-the-password");
    const records = await consumeAll(broker.saslBootstrap as string, name, { maxMessages: 10, sasl: SASL });
    expect(records.length).toBe(10);
    const unlisted = await call("POST", "/v1/audit/destinations", {
      ...webhookDestination(),
      type: "kafka",
      config: { brokers: ["kafka.example.com:9093"], topic: name },
    });
    expect(unlisted.status).toBe(400);
    expect((await json(unlisted)).errors[0].field).toBe("config.brokers.0");
    for (const id of [good.destination_id, bad.destination_id])
      await call("DELETE", `/v1/audit/destinations/${id}`);
  });
});

describe("a replica killed (SIGKILL) in the middle of a batch", () => {
  it("another replica takes the destination over from the last acknowledged batch: nothing lost, duplicates only within that batch", async () => {
    // Only the service processes deliver here.
    await deliverer.stop();
    const mark = `killed-${Date.now()}`;
    const BATCH = 20;
    const d = await create(
      { filters: { path_prefix: mark }, batch: { max_events: BATCH, linger_ms: 0 } },
      other,
    );
    const start = async () => {
      const port = await freePort();
      const svc = startService({
        OPENSEARCH_URL: url,
        AUDIT_JWT_SECRET: "unused-by-this-test-unused-by-this-test",
        PORT: String(port),
        SECRETS_FILE: secretsFile,
        EXPORT_ENDPOINT_ALLOWLIST: other.origin,
        DELIVERY_WORKER: "true",
        DELIVERY_POLL_INTERVAL_MS: "100",
        DELIVERY_LEASE_MS: "2000",
        EXPORT_WORKER: "false",
        RETENTION_PURGE: "false",
        SUMMARY_ROLLUP: "false",
      });
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000, svc.output);
      return svc;
    };
    const events = Array.from({ length: 200 }, (_, i) =>
      event({ path: `${mark}/s${String(i).padStart(3, "0")}` }),
    );
    other.delay(20);
    const first = await start();
    let second: ReturnType<typeof startService> | undefined;
    try {
      await ingestAs(t, tenant, events);
      await until(
        () => idsAt(other, mark).length,
        (n) => n >= 70,
      );
      first.child.kill("SIGKILL");
      await new Promise((r) => first.child.once("exit", r));
      const atKill = idsAt(other, mark).length;
      expect(atKill).toBeLessThan(200);
      second = await start();
      await until(
        () => new Set(idsAt(other, mark)).size,
        (n) => n === 200,
        60_000,
      );
      const st = await until(
        () => status(d.destination_id),
        (s) => s.lag_events === 0,
      );
      const got = idsAt(other, mark);
      const paths = other
        .events()
        .filter((e) => pathOf(e).startsWith(mark))
        .map((e) => pathOf(e));
      // In order, once each — but for one batch sent again after the kill.
      const firstSeen = paths.filter((p, i) => paths.indexOf(p) === i);
      expect(firstSeen).toEqual(events.map((e) => e.path));
      const duplicates = got.length - new Set(got).size;
      expect(duplicates).toBeLessThanOrEqual(BATCH);
      // The events sent twice are one run of consecutive events: the batch in flight at the kill.
      const twice = [...new Set(paths.filter((p, i) => paths.indexOf(p) !== i))].map((p) =>
        events.findIndex((e) => e.path === p),
      );
      if (twice.length > 0) expect(Math.max(...twice) - Math.min(...twice)).toBeLessThan(BATCH);
      expect(st.delivered).toBeGreaterThanOrEqual(200 - duplicates);
    } finally {
      other.delay(0);
      first.child.kill("SIGKILL");
      second?.child.kill("SIGKILL");
      await call("DELETE", `/v1/audit/destinations/${d.destination_id}`);
      deliverer.start();
    }
  });
});

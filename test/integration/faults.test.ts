/**
 * OpenSearch paused (SIGSTOP, 40 s) and then killed (SIGKILL) and restarted, on its own node, while
 * ingest, queries, a summary, an export and a live tail are running against one app that is never
 * restarted. During each fault every request is answered fast — 503 once the breaker knows, 504 at
 * a deadline, never held for the outage; nothing acknowledged is lost or stored twice; each export
 * completes with every record or fails cleanly, never `completed` with records missing; the live
 * tail, resumed from its last id, delivers every stored event exactly once; and the app recovers
 * by itself. The figures of the run go to reports/faults.json (README › Reliability).
 */
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, type LocalCluster } from "../../dev/local-cluster.ts";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import { ExportWorker } from "../../src/features/exports/exports.worker.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets, PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { startDestinations, startGate } from "../support/destinations.ts";
import { event, newTenant } from "../support/events.ts";
import { startOwnNode } from "../support/opensearch.ts";
import { listen, openStream, type SseStream } from "../support/sse.ts";

const PAUSE_MS = 40_000;
const DEADLINES = { pageMs: 5_000, aggregationMs: 8_000, ingestMs: 5_000 };
/** Answered within its deadline, with room for a loaded machine: far from the 40 s outage. */
const ANSWERED_WITHIN_MS = DEADLINES.aggregationMs + 4_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node's whole process group (launcher and JVM). */
const signal = (cluster: LocalCluster, sig: NodeJS.Signals) =>
  process.kill(-(cluster.nodes[0]?.pid ?? 0), sig);

interface Outcome {
  route: string;
  status: number;
  ms: number;
  phase: string;
}

describe("faults: OpenSearch paused, then killed and restarted", () => {
  it("answers fast during each fault, loses nothing acknowledged, and recovers without a restart", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "faults-"));
    const port = await freePort();
    let cluster = await startOwnNode("scaivault-test-faults", dataDir, port);
    const stores = await startDestinations();
    const gate = await startGate(stores.s3Endpoint);
    const tenant = newTenant("faults");
    const archive = newTenant("faults-export");
    await stores.grant([archive]);
    const t = testApp(cluster.url, {
      deadlines: DEADLINES,
      health: { probeIntervalMs: 500, probeTimeoutMs: 1000 },
      endpointAllowlist: [...stores.allowlist, gate.endpoint],
      budgets: {
        tenantPerSecond: 10_000,
        tenantBurst: 20_000,
        subjectPerSecond: 10_000,
        subjectBurst: 20_000,
        tenantConcurrency: 1000,
        totalConcurrency: 1000,
        refusalDelayMs: 0,
      },
    });
    const served = await listen(t.app);
    const worker = new ExportWorker({
      client: t.client,
      // FAULTS_LOG=<file>: the export worker's log, to see how each export ended.
      log: process.env.FAULTS_LOG
        ? createLogger("debug", createWriteStream(process.env.FAULTS_LOG))
        : createLogger("silent"),
      secrets: fileSecrets(stores.secretsFile),
      settings: {
        concurrency: 2,
        pollIntervalMs: 200,
        leaseMs: 60_000,
        maxAttempts: 3,
        pageSize: 100,
        pitKeepAlive: "5m",
        endpointAllowlist: [...stores.allowlist, gate.endpoint],
      },
    });
    const outcomes: Outcome[] = [];
    let phase = "before";
    let running = true;
    let tailing = true;
    try {
      await t.readiness.runOnce(t.client, await loadAssets());
      await ingestAs(
        t,
        archive,
        Array.from({ length: 1500 }, (_, i) => event({ id: `arc-${i}` })),
      );
      worker.start();
      const [write, read, exporter] = await Promise.all([
        tokenFor(tenant, "audit:write"),
        tokenFor(tenant, "audit:read"),
        tokenFor(archive, "audit:export"),
      ]);
      const timed = async (route: string, req: () => Response | Promise<Response>) => {
        const began = performance.now();
        const res = await req();
        outcomes.push({ route, status: res.status, ms: performance.now() - began, phase });
        return res;
      };

      // The live tail, subscribed before any write; it reconnects from its last id when ended.
      const streams: SseStream[] = [];
      const following = (async () => {
        let lastEventId: string | undefined;
        while (tailing) {
          const { stream } = await openStream(served.base, read, lastEventId ? { lastEventId } : {}).catch(
            () => ({ stream: undefined }),
          );
          if (!stream) {
            await sleep(500);
            continue;
          }
          streams.push(stream);
          await Promise.race([
            stream.ended,
            (async () => {
              while (tailing) await sleep(100);
            })(),
          ]);
          stream.close();
          await stream.ended;
          lastEventId = stream.lastEventId || lastEventId;
        }
      })();
      await sleep(500);

      // Writers: new batches, one after another; what was acknowledged is remembered.
      const acknowledged = new Set<string>();
      let batchNo = 0;
      const writers = Array.from({ length: 3 }, async (_, w) => {
        while (running) {
          const ids = Array.from({ length: 20 }, (_, i) => `w${w}-b${batchNo}-e${i}`);
          batchNo++;
          const res = await timed("POST /events", () =>
            t.app.request("/v1/audit/events", {
              method: "POST",
              body: JSON.stringify({ events: ids.map((id) => event({ id })) }),
              headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" },
            }),
          );
          if (res.status === 200) {
            const body = await json(res);
            expect(body.accepted + body.duplicates).toBe(20);
            for (const id of ids) acknowledged.add(id);
          } else {
            expect(res.headers.get("content-type")).toBe("application/problem+json");
            expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
            await res.body?.cancel();
            await sleep(300);
          }
        }
      });
      // Readers: a small page and an aggregation, over and over.
      const readers = ["/v1/audit/logs?limit=5", "/v1/audit/summary?from=now-1h"].map(async (path) => {
        while (running) {
          const res = await timed(`GET ${path.split("?")[0]}`, () =>
            t.app.request(path, { headers: { Authorization: `Bearer ${read}` } }),
          );
          if (res.status !== 200) expect(res.headers.get("content-type")).toBe("application/problem+json");
          await res.body?.cancel();
          await sleep(res.status === 200 ? 50 : 300);
        }
      });

      /** Starts an export that waits at the gate with its snapshot taken. */
      const startExport = async (prefix: string) => {
        gate.hold();
        const res = await t.app.request("/v1/audit/exports", {
          method: "POST",
          headers: { Authorization: `Bearer ${exporter}`, "Content-Type": "application/json" },
          body: JSON.stringify({
            filters: {},
            format: "jsonl",
            compression: "none",
            max_file_records: 400,
            destination: stores.destination("s3", prefix, { endpoint: gate.endpoint }),
          }),
        });
        expect(res.status).toBe(202);
        const id = (await json(res)).export_id as string;
        await gate.reached();
        return { id, prefix };
      };
      const exportStatus = async (id: string) => {
        for (;;) {
          const res = await t.app.request(`/v1/audit/exports/${id}`, {
            headers: { Authorization: `Bearer ${exporter}` },
          });
          if (res.status === 200) {
            const e = await json(res);
            if (["completed", "failed", "cancelled"].includes(e.status)) return e;
          } else await res.body?.cancel();
          await sleep(300);
        }
      };

      await sleep(3000);

      // Fault 1: paused for 40 s, with an export held mid-way.
      const paused = await startExport("paused/");
      phase = "paused";
      signal(cluster, "SIGSTOP");
      await sleep(2000);
      const readyDuring = await t.app.request("/readyz");
      expect(readyDuring.status).toBe(503);
      await sleep(PAUSE_MS - 2000);
      signal(cluster, "SIGCONT");
      phase = "after-pause";
      gate.release();
      const afterPause = await waitForOk(t.app, read);
      const pausedExport = await exportStatus(paused.id);

      // Fault 2: killed, with another export held mid-way, then restarted on the same data.
      const killed = await startExport("killed/");
      phase = "killed";
      signal(cluster, "SIGKILL");
      await sleep(3000);
      cluster = await startOwnNode("scaivault-test-faults", dataDir, port);
      phase = "after-restart";
      gate.release();
      const afterRestart = await waitForOk(t.app, read);
      await sleep(3000);

      running = false;
      await Promise.all([...writers, ...readers]);
      const exports = [pausedExport, await exportStatus(killed.id)];

      // Every answer during the faults came fast, and was one a client can act on.
      const during = outcomes.filter((o) => o.phase === "paused" || o.phase === "killed");
      expect(during.length).toBeGreaterThan(20);
      for (const o of outcomes) {
        expect([200, 503, 504], `${o.route} in ${o.phase}`).toContain(o.status);
        expect(o.ms, `${o.route} ${o.status} in ${o.phase}`).toBeLessThan(ANSWERED_WITHIN_MS);
      }
      expect(during.some((o) => o.status === 503)).toBe(true);
      expect(outcomes.filter((o) => o.phase === "after-restart" && o.status === 200).length).toBeGreaterThan(
        0,
      );

      // Nothing acknowledged lost, nothing stored twice.
      await t.client.indices.refresh({ index: "audit-events" });
      const storedIds: string[] = [];
      for (let after: unknown[] | undefined; ; ) {
        const page = await t.client.search({
          index: "audit-events",
          body: {
            query: { term: { "scaivault.tenant": tenant } },
            size: 5000,
            sort: [{ "event.id": "asc" }],
            _source: ["event.id"],
            ...(after ? { search_after: after } : {}),
          } as never,
        });
        const hits = page.body.hits.hits;
        storedIds.push(...hits.map((h) => (h._source as { event: { id: string } }).event.id));
        if (hits.length < 5000) break;
        after = hits.at(-1)?.sort as unknown[] | undefined;
      }
      expect(new Set(storedIds).size).toBe(storedIds.length);
      const storedSet = new Set(storedIds);
      const lost = [...acknowledged].filter((id) => !storedSet.has(id));
      expect(lost).toEqual([]);
      expect(acknowledged.size).toBeGreaterThan(100);

      // The live tail delivered every stored event exactly once, across its reconnects.
      const deliveredIds = () => streams.flatMap((s) => s.events.map((e: { id: string }) => e.id as string));
      for (const end = Date.now() + 30_000; deliveredIds().length < storedIds.length && Date.now() < end; )
        await sleep(200);
      await sleep(500); // anything more (a duplicate) would arrive now
      tailing = false;
      await following;
      const delivered = deliveredIds();
      expect(new Set(delivered).size).toBe(delivered.length);
      expect([...delivered].sort()).toEqual([...storedIds].sort());

      // Each export: completed with every record, or failed with a reason and no manifest.
      for (const [e, prefix] of [
        [exports[0], paused.prefix],
        [exports[1], killed.prefix],
      ] as const) {
        const objects = await stores.read("s3", prefix);
        const manifest = [...objects.keys()].find((k) => k.endsWith("manifest.json"));
        if (e.status === "completed") {
          expect(manifest).toBeDefined();
          const lines = [...objects.entries()]
            .filter(([k]) => !k.endsWith("manifest.json"))
            .flatMap(([, v]) => v.toString("utf8").split("\n").filter(Boolean));
          const ids = lines.map((l) => JSON.parse(l).id as string);
          expect(new Set(ids).size).toBe(1500);
          expect(ids.length).toBe(1500);
        } else {
          expect(e.status).toBe("failed");
          expect(e.error.code).toMatch(/^[a-z_]+$/);
          expect(manifest).toBeUndefined();
        }
      }

      const summary = {
        pause_ms: PAUSE_MS,
        deadlines: DEADLINES,
        recovered_after_pause_ms: Math.round(afterPause),
        recovered_after_restart_ms: Math.round(afterRestart),
        acknowledged: acknowledged.size,
        stored: storedIds.length,
        lost: lost.length,
        delivered_by_live_tail: delivered.length,
        live_tail_connections: streams.length,
        exports: exports.map((e) => ({
          status: e.status,
          error: e.error?.code ?? null,
          records: e.progress?.records ?? null,
        })),
        by_phase: Object.fromEntries(
          ["before", "paused", "after-pause", "killed", "after-restart"].map((p) => {
            const of = outcomes.filter((o) => o.phase === p);
            const ms = of.map((o) => o.ms).sort((a, b) => a - b);
            return [
              p,
              {
                requests: of.length,
                by_status: countBy(of.map((o) => String(o.status))),
                max_ms: Math.round(ms.at(-1) ?? 0),
                p50_ms: Math.round(ms[Math.floor(ms.length / 2)] ?? 0),
              },
            ];
          }),
        ),
      };
      await mkdir(path.join(PROJECT_ROOT, "reports"), { recursive: true });
      await writeFile(
        path.join(PROJECT_ROOT, "reports/faults.json"),
        `${JSON.stringify(summary, null, 2)}\n`,
      );
    } finally {
      running = false;
      tailing = false;
      await worker.stop();
      await t.hub.close();
      t.health.stop();
      await served.close();
      await t.client.close();
      try {
        signal(cluster, "SIGCONT");
      } catch {}
      await cluster.stop();
      await gate.close();
      await stores.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});

/** Polls /logs until a 200; resolves with how long that took (ms). */
async function waitForOk(app: ReturnType<typeof testApp>["app"], token: string): Promise<number> {
  const began = performance.now();
  for (;;) {
    const res = await app.request("/v1/audit/logs?limit=1", {
      headers: { Authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    if (res.status === 200) return performance.now() - began;
    if (performance.now() - began > 60_000)
      throw new Error(`no 200 within 60 s of the fault ending (${res.status})`);
    await sleep(200);
  }
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

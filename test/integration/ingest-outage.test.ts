import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { startOwnNode } from "../support/opensearch.ts";

describe("ingest while OpenSearch goes away", () => {
  it("answers 503 with nothing acknowledged, and a retry of the same batches stores each event exactly once", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "outage-"));
    const port = await freePort();
    let cluster = await startOwnNode("scaivault-test-outage", dataDir, port);
    const { app, client, readiness } = testApp(cluster.url);
    try {
      await readiness.runOnce(client, await loadAssets());
      const tenant = newTenant("outage");
      const token = await tokenFor(tenant, "audit:write");
      const batches = Array.from({ length: 12 }, (_, b) =>
        Array.from({ length: 250 }, (_, i) => event({ id: `b${b}-e${i}` })),
      );
      const send = (b: number) =>
        app.request("/v1/audit/events", {
          method: "POST",
          body: JSON.stringify({ events: batches[b] }),
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        });

      const acknowledged = new Set<number>();
      const failed: number[] = [];
      for (let b = 0; b < batches.length; b++) {
        if (b === 4) await cluster.stop(); // pull the plug mid-run: batches 0-3 land, 4-11 cannot
        const res = await send(b);
        if (res.status === 200) {
          acknowledged.add(b);
          expect((await json(res)).accepted).toBe(250);
        } else {
          expect(res.status).toBe(503);
          expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
          expect(res.headers.get("content-type")).toBe("application/problem+json");
          const body = await json(res);
          expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|Exception|at /);
          failed.push(b);
        }
      }
      expect([...acknowledged]).toEqual([0, 1, 2, 3]);
      expect(failed).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);

      cluster = await startOwnNode("scaivault-test-outage", dataDir, port);
      // Retry everything that was not acknowledged, and one that was: duplicates are harmless.
      let duplicates = 0;
      for (const b of [...failed, 0]) {
        const res = await send(b);
        expect(res.status).toBe(200);
        duplicates += (await json(res)).duplicates;
      }
      expect(duplicates).toBeGreaterThanOrEqual(250);

      await client.indices.refresh({ index: "audit-events" });
      const count = await client.count({
        index: "audit-events",
        body: { query: { term: { "scaivault.tenant": tenant } } },
      });
      expect(count.body.count).toBe(12 * 250);
      const hits = await client.search({
        index: "audit-events",
        body: { query: { term: { "scaivault.tenant": tenant } }, size: 5000, _source: ["event.id"] },
      });
      const ids = new Set(hits.body.hits.hits.map((h) => (h._source as { event: { id: string } }).event.id));
      expect(ids.size).toBe(12 * 250);
    } finally {
      await client.close();
      await cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

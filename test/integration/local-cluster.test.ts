import { statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { provisionOpenSearch } from "../../dev/distribution.ts";
import { findJdk } from "../../dev/jdk.ts";
import { startLocalCluster } from "../../dev/local-cluster.ts";
import { runLifecycle } from "../../src/features/retention/retention.lifecycle.ts";
import { bootstrap, loadAssets } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { testClient } from "../support/opensearch.ts";
import { alive } from "../support/process.ts";

describe("provisioning", () => {
  it("is idempotent: a second call reuses the cached home without downloading or unpacking again", async () => {
    const opts = {
      version: inject("opensearchVersion"),
      cacheDir: inject("cacheDir"),
      javaHome: findJdk({}).home,
    };
    const first = await provisionOpenSearch(opts);
    const marker = path.join(first.home, "provisioned.json");
    const before = statSync(marker).mtimeMs;
    const began = performance.now();
    const second = await provisionOpenSearch(opts);
    expect(performance.now() - began).toBeLessThan(1000);
    expect(second).toEqual(first);
    expect(statSync(marker).mtimeMs).toBe(before);
    expect(first.modules).toContain("reindex");
    expect(JSON.parse(await readFile(marker, "utf8")).version).toBe(opts.version);
  });
});

describe("a two-node cluster", () => {
  it("runs a hot and a cold node, which the bootstrap recognises as a cold tier; old indices move to the cold node; stops both", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "two-node-"));
    const cluster = await startLocalCluster({
      version: inject("opensearchVersion"),
      cacheDir: inject("cacheDir"),
      dataDir,
      httpPort: 0,
      nodes: 2,
      heap: "512m",
      runAs: "opensearch",
      clusterName: "scaivault-test-tiers",
    });
    const client = testClient(cluster.url);
    try {
      const attrs = await client.cat.nodeattrs({ format: "json", h: ["node", "attr", "value"] });
      const temps = (attrs.body as { node: string; attr: string; value: string }[])
        .filter((a) => a.attr === "temp")
        .map((a) => `${a.node}=${a.value}`)
        .sort();
      expect(temps).toEqual(["node-cold=cold", "node-hot=hot"]);
      const result = await bootstrap(client, await loadAssets());
      expect(result.coldTier).toBe(true);
      const health = await client.cluster.health({});
      expect(health.body.number_of_nodes).toBe(2);

      // Without ISM (as here) the service's own lifecycle pass rolls over and moves old indices cold.
      const api = testApp(cluster.url);
      const tenant = newTenant("tiers");
      await ingestAs(
        api,
        tenant,
        Array.from({ length: 20 }, () => event()),
      );
      await new Promise((r) => setTimeout(r, 1500));
      const step = await runLifecycle(
        client,
        { rolloverAge: "1s", rolloverSize: "50gb", coldAfterMs: 1, coldTier: true },
        new Date(),
      );
      expect(step.rolledOver).toBe(true);
      expect(step.movedToCold).toHaveLength(1);
      const old = step.movedToCold[0] as string;
      const primaryNode = async (index: string) => {
        const shards = await client.cat.shards({ index, format: "json", h: ["prirep", "state", "node"] });
        return (shards.body as { prirep: string; state: string; node: string }[]).find(
          (s) => s.prirep === "p" && s.state === "STARTED",
        )?.node;
      };
      const deadline = Date.now() + 60_000;
      while ((await primaryNode(old)) !== "node-cold" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 500));
      expect(await primaryNode(old)).toBe("node-cold");
      // A second pass changes nothing: below the thresholds, and the old index is cold already.
      const again = await runLifecycle(
        client,
        { rolloverAge: "1d", rolloverSize: "50gb", coldAfterMs: 1, coldTier: true },
        new Date(),
      );
      expect(again).toEqual({ rolledOver: false, movedToCold: [] });
      // Every event is still there, across the hot write index and the cold one.
      const logs = await api.app.request("/v1/audit/logs?limit=100", {
        headers: { Authorization: `Bearer ${await tokenFor(tenant, "audit:read")}` },
      });
      expect((await json(logs)).entries).toHaveLength(20);
      await api.client.close();
    } finally {
      await client.close();
      await cluster.stop();
    }
    for (const n of cluster.nodes) expect(alive(n.pid)).toBe(false);
    await rm(dataDir, { recursive: true, force: true });
  }, 240_000);
});

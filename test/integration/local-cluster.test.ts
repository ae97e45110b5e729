import { statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { bootstrap, loadAssets } from "../../src/opensearch/bootstrap.ts";
import { provisionOpenSearch } from "../../src/opensearch/distribution.ts";
import { findJdk } from "../../src/opensearch/jdk.ts";
import { startLocalCluster } from "../../src/opensearch/local-cluster.ts";
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
  it("runs a hot and a cold node, which the bootstrap recognises as a cold tier, and stops both", async () => {
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
    } finally {
      await client.close();
      await cluster.stop();
    }
    for (const n of cluster.nodes) expect(alive(n.pid)).toBe(false);
    await rm(dataDir, { recursive: true, force: true });
  }, 240_000);
});

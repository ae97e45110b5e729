import { describe, expect, it } from "vitest";
import { distributionArtifact, ismPlugins, repoPath } from "../../dev/distribution.ts";
import { freePort, jvmOptions, nodeSettings } from "../../dev/local-cluster.ts";

const hot = {
  name: "node-hot",
  httpPort: 9201,
  transportPort: 9301,
  temp: "hot" as const,
  dir: "/d/node-hot",
};
const cold = {
  name: "node-cold",
  httpPort: 9202,
  transportPort: 9302,
  temp: "cold" as const,
  dir: "/d/node-cold",
};

describe("nodeSettings", () => {
  it("runs a single node on loopback with its own paths", () => {
    const one = { ...hot, name: "node-1", temp: undefined };
    const yml = nodeSettings({ clusterName: "c", node: one, peers: [one], ism: false });
    expect(yml).toContain("network.host: 127.0.0.1");
    expect(yml).toContain("discovery.type: single-node");
    expect(yml).toContain("http.port: 9201");
    expect(yml).toContain("path.data: /d/node-hot/data");
    expect(yml).toContain("cluster.routing.allocation.disk.threshold_enabled: false");
    expect(yml).not.toContain("node.attr.temp");
    // ISM settings are unknown to a node without the plugin, and it would refuse to start.
    expect(yml).not.toContain("index_state_management");
  });

  it("tags two nodes hot and cold and makes them find each other", () => {
    const yml = nodeSettings({ clusterName: "c", node: cold, peers: [hot, cold], ism: true });
    expect(yml).toContain("node.attr.temp: cold");
    expect(yml).not.toContain("single-node");
    expect(yml).toContain('discovery.seed_hosts: ["127.0.0.1:9301", "127.0.0.1:9302"]');
    expect(yml).toContain('cluster.initial_cluster_manager_nodes: ["node-hot", "node-cold"]');
    expect(yml).toContain("plugins.index_state_management.job_interval: 1");
  });
});

describe("jvmOptions", () => {
  const stock = [
    "-Xms1g",
    "-Xmx1g",
    "-XX:HeapDumpPath=data",
    "-XX:ErrorFile=logs/hs_err_pid%p.log",
    "20-:--add-modules=jdk.incubator.vector",
    "9-:-Xlog:gc*,gc+age=trace,safepoint:file=logs/gc.log:utctime,pid,tags:filecount=32,filesize=64m",
  ].join("\n");

  it("sets the heap and makes every relative path absolute under the node folder", () => {
    const out = jvmOptions(stock, "/d/n1", "512m");
    expect(out).toContain("-Xms512m\n-Xmx512m");
    expect(out).toContain("-XX:HeapDumpPath=/d/n1/data");
    expect(out).toContain("-XX:ErrorFile=/d/n1/logs/hs_err_pid%p.log");
    expect(out).toContain("file=/d/n1/logs/gc.log");
    expect(out).not.toMatch(/[=:]logs\//);
    expect(out).toContain("--add-modules=jdk.incubator.vector");
  });
});

describe("artifacts", () => {
  it("names the distribution and the ISM plugins by the OpenSearch version", () => {
    expect(distributionArtifact("3.8.0")).toMatchObject({
      group: "org.opensearch.distribution.integ-test-zip",
      version: "3.8.0",
    });
    expect(ismPlugins("3.8.0").map((p) => `${p.artifact}:${p.version}`)).toEqual([
      "opensearch-job-scheduler:3.8.0.0",
      "opensearch-index-management:3.8.0.0",
    ]);
  });

  it("locates an artifact in a Maven repository layout", () => {
    expect(repoPath("/r", distributionArtifact("3.8.0"))).toBe(
      "/r/org/opensearch/distribution/integ-test-zip/opensearch/3.8.0/opensearch-3.8.0.zip",
    );
  });
});

describe("freePort", () => {
  it("returns distinct usable ports", async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});

/**
 * Starts one throwaway OpenSearch node (temporary data, free ports) for the integration tests,
 * unless OPENSEARCH_URL points at a cluster already, and stops it afterwards.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { DEFAULT_OPENSEARCH_VERSION, defaultCacheDir } from "../../dev/config.ts";
import { type LocalCluster, startLocalCluster } from "../../dev/local-cluster.ts";

declare module "vitest" {
  export interface ProvidedContext {
    opensearchUrl: string;
    opensearchVersion: string;
    cacheDir: string;
  }
}

let cluster: LocalCluster | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject) {
  const version = process.env.OPENSEARCH_VERSION || DEFAULT_OPENSEARCH_VERSION;
  const cacheDir = process.env.OPENSEARCH_CACHE_DIR || defaultCacheDir(process.env);
  project.provide("opensearchVersion", version);
  project.provide("cacheDir", cacheDir);
  if (process.env.OPENSEARCH_URL) {
    project.provide("opensearchUrl", process.env.OPENSEARCH_URL);
    return;
  }
  dataDir = await mkdtemp(path.join(tmpdir(), "scaivault-test-os-"));
  const began = Date.now();
  cluster = await startLocalCluster({
    version,
    cacheDir,
    dataDir,
    httpPort: 0,
    nodes: 1,
    heap: "768m",
    javaHome: process.env.OPENSEARCH_JAVA_HOME,
    runAs: "opensearch",
    clusterName: "scaivault-test",
  });
  console.log(
    `test OpenSearch ${version} at ${cluster.url} (started in ${((Date.now() - began) / 1000).toFixed(1)}s)`,
  );
  project.provide("opensearchUrl", cluster.url);
}

export async function teardown() {
  await cluster?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}

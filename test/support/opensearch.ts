import { inject } from "vitest";
import { type LocalCluster, startLocalCluster } from "../../dev/local-cluster.ts";
import { createOpenSearchClient } from "../../src/opensearch/client.ts";

/** A client for the shared test OpenSearch (see global-setup.ts). */
export function testClient(url = inject("opensearchUrl")) {
  return createOpenSearchClient({ url });
}

/**
 * A node of the test's own (in `dataDir`, on `httpPort`), for tests that pause, kill and restart
 * OpenSearch and so cannot use the shared one.
 */
export function startOwnNode(clusterName: string, dataDir: string, httpPort: number): Promise<LocalCluster> {
  return startLocalCluster({
    version: inject("opensearchVersion"),
    cacheDir: inject("cacheDir"),
    dataDir,
    httpPort,
    nodes: 1,
    heap: "512m",
    runAs: "opensearch",
    clusterName,
  });
}

/**
 * @module main
 * load config → start the embedded OpenSearch when no OPENSEARCH_URL is set → serve the API.
 * Export jobs run in a worker thread (EXPORT_WORKER). Ctrl-C (SIGINT) or SIGTERM ends the live-tail
 * streams (with a final message) and stops the server, then the export thread (its jobs are released
 * for a quick resume), then the embedded node.
 */
import { readFileSync } from "node:fs";
import { createApp } from "./app.ts";
import { loadConfigOrExit } from "./config.ts";
import { type ExportThread, startExportThread } from "./features/exports/exports.thread.ts";
import { Purger } from "./features/retention/retention.purge.ts";
import { StreamHub } from "./features/stream/stream.hub.ts";
import { createVerifier } from "./http/auth.ts";
import { createMetrics } from "./http/metrics.ts";
import { startServer } from "./http/server.ts";
import { createLogger } from "./logger.ts";
import { loadAssets, PROJECT_ROOT } from "./opensearch/bootstrap.ts";
import { createOpenSearchClient } from "./opensearch/client.ts";
import { type LocalCluster, startLocalCluster } from "./opensearch/local-cluster.ts";
import { Readiness } from "./opensearch/readiness.ts";

const config = loadConfigOrExit();

const log = createLogger(config.logLevel);
const version = (JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, "utf8")) as { version: string })
  .version;
const began = performance.now();

let cluster: LocalCluster | undefined;
let url = config.opensearch.url;
if (config.mode === "local") {
  log.info("no OPENSEARCH_URL: starting the embedded OpenSearch node");
  try {
    cluster = await startLocalCluster({ ...config.localNode, nodes: 1, log: (m) => log.info(m) });
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }
  url = cluster.url;
  if (cluster.home.missing.length > 0) {
    log.warn(
      { missing: cluster.home.missing.map((m) => m.artifact) },
      "Index State Management is not available on the embedded node (its plugin is not served by the Maven registry)",
    );
  }
}

const client = createOpenSearchClient({ ...config.opensearch, url: url as string });
const readiness = new Readiness();
const shutdown = new AbortController();
const assets = await loadAssets(PROJECT_ROOT, config.lifecycle);
const metrics = createMetrics();
let exportThread: ExportThread | undefined;
const purger = config.retention.purge
  ? new Purger({
      client,
      log,
      intervalMs: config.retention.purgeIntervalMs,
      requestsPerSecond: config.retention.purgeRequestsPerSecond,
      purged: metrics.purged,
      failures: metrics.purgeFailures,
      // Without ISM the service rolls over and moves indices to the cold tier itself.
      lifecycle: () => {
        const r = readiness.result;
        if (!r || r.lifecycle.mode === "ism") return undefined;
        const { rolloverAge, rolloverSize, coldAfterDays } = config.lifecycle;
        return { rolloverAge, rolloverSize, coldAfterMs: coldAfterDays * 86_400_000, coldTier: r.coldTier };
      },
    })
  : undefined;

void readiness.runUntilDone(client, assets, log, shutdown.signal).then(() => {
  if (!readiness.bootstrapped) return;
  log.info({ seconds: ((performance.now() - began) / 1000).toFixed(1) }, "ready");
  // The job and tenant indices exist once the bootstrap is done.
  purger?.start();
  if (config.exports.worker)
    exportThread = startExportThread(
      {
        logLevel: config.logLevel,
        opensearch: { ...config.opensearch, url: url as string },
        exports: config.exports,
      },
      log,
      (outcome) => metrics.exportsFinished.inc({ outcome }),
    );
});

const hub = new StreamHub({ client, log, settings: config.stream, metrics: metrics.stream });
const app = createApp({
  hub,
  config,
  client,
  log,
  readiness,
  version,
  metrics,
  verify: createVerifier(config.auth),
});
const server = startServer(app.fetch, { port: config.port, hostname: config.host }, (info) => {
  log.info(`ScaiVault Audit Log API listening on http://${info.address}:${info.port} (OpenSearch ${url})`);
  if (config.auth.devSecretFile) {
    log.info(
      `local mode: tokens are signed with the dev secret in ${config.auth.devSecretFile}; mint one with: npm run token -- --tenant acme --scope "audit:read audit:write"`,
    );
  }
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info(`${signal}: shutting down`);
  shutdown.abort();
  // Live-tail streams never end by themselves: close them (with a final message) before the server.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await hub.close();
  await closed;
  await exportThread?.stop();
  purger?.stop();

  await client.close();
  if (cluster) {
    log.info("stopping the embedded OpenSearch node");
    await cluster.stop();
  }
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

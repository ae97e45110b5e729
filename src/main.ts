/**
 * @module main
 * load config → wire the dependencies → serve. Nothing else: every piece is built by its own
 * module from the config. `node src/main.ts` (the image's command) runs it against OPENSEARCH_URL;
 * `npm start` (dev/start.ts) provisions a local node and a dev secret first, then calls
 * `runService`. Export jobs run in a worker thread (EXPORT_WORKER). SIGINT or SIGTERM ends the
 * live-tail streams (with a final message) and stops the server, then the export thread (its jobs
 * are released for a quick resume), then whatever the caller started.
 */
import { readFileSync } from "node:fs";
import { createApp } from "./app.ts";
import { loadConfigOrExit } from "./config.ts";
import { secretsFrom } from "./destinations/credentials.ts";
import { Deliverer } from "./features/delivery/delivery.deliverer.ts";
import { type ExportThread, startExportThread } from "./features/exports/exports.thread.ts";
import { loadIntegrityKeys } from "./features/integrity/integrity.keys.ts";
import { writeReceipt } from "./features/integrity/integrity.receipts.ts";
import { SealerJob } from "./features/integrity/sealer.job.ts";
import { lifecycleWithoutIsm } from "./features/retention/retention.lifecycle.ts";
import { Purger } from "./features/retention/retention.purge.ts";
import { StreamHub } from "./features/stream/stream.hub.ts";
import { RollupJob } from "./features/summary/rollup.job.ts";
import { createVerifier } from "./http/auth.ts";
import { createMetrics } from "./http/metrics.ts";
import { startServer } from "./http/server.ts";
import { createLogger, type Logger } from "./logger.ts";
import { loadAssets, PROJECT_ROOT } from "./opensearch/bootstrap.ts";
import { createOpenSearchClient } from "./opensearch/client.ts";
import { StoreHealth } from "./opensearch/health.ts";
import { AUDIT_STREAM } from "./opensearch/names.ts";
import { Readiness } from "./opensearch/readiness.ts";

export interface ServiceHooks {
  /** Said once the server listens (dev/start: how to mint a token). */
  notice?: string;
  /** Runs after the service has stopped, before the process exits (dev/start: stop the local node). */
  afterStop?: (log: Logger) => Promise<void>;
  /** Local mode (dev/start): mints dev tokens for the console's sign-in page. */
  devToken?: (claims: { sub: string; tenant: string; scope: string }) => Promise<string>;
}

/** Runs the service until SIGINT/SIGTERM. A bad configuration exits with code 2, naming each variable. */
export async function runService(env: NodeJS.ProcessEnv, hooks: ServiceHooks = {}): Promise<void> {
  const config = loadConfigOrExit(env);
  const log = createLogger(config.logLevel);
  const version = (JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, "utf8")) as { version: string })
    .version;
  const began = performance.now();

  const client = createOpenSearchClient(config.opensearch);
  const readiness = new Readiness();
  const health = new StoreHealth(client, config.health);
  health.start();
  const shutdown = new AbortController();
  const metrics = createMetrics();
  const keys = await loadIntegrityKeys(config.integrity, secretsFrom(config.exports.secrets)).catch(
    (err: Error) => {
      log.fatal({ err: err.message }, "the integrity signing key is configured but cannot be had");
      process.exit(2);
    },
  );
  if (!keys.signer)
    log.warn(
      "neither INTEGRITY_SIGNING_KEY_FILE nor INTEGRITY_SIGNING_KEY_SECRET is set: events are not sealed into the tamper-evident log",
    );
  const signer = keys.signer;
  const purger = config.retention.purge
    ? new Purger({
        client,
        log,
        intervalMs: config.retention.purgeIntervalMs,
        requestsPerSecond: config.retention.purgeRequestsPerSecond,
        purged: metrics.purged,
        failures: metrics.purgeFailures,
        lifecycle: lifecycleWithoutIsm(readiness, config.lifecycle),
        ...(signer ? { beforeDelete: (p) => writeReceipt(client, signer, config.integrity.origin, p) } : {}),
      })
    : undefined;
  const rollup = config.rollup.enabled
    ? new RollupJob({ client, log, intervalMs: config.rollup.intervalMs })
    : undefined;
  const sealer =
    keys.signer && config.integrity.sealer
      ? new SealerJob({
          client,
          log,
          signer: keys.signer,
          retired: keys.retired,
          origin: config.integrity.origin,
          intervalMs: config.integrity.sealIntervalMs,
          checkpointIntervalMs: config.integrity.checkpointIntervalMs,
        })
      : undefined;
  const secrets = secretsFrom(config.exports.secrets);
  const deliverer = config.delivery.worker
    ? new Deliverer({
        client,
        store: { client, stream: AUDIT_STREAM },
        log,
        secrets,
        allowlist: config.exports.endpointAllowlist,
        settings: config.delivery,
        metrics: metrics.delivery,
      })
    : undefined;
  let exportThread: ExportThread | undefined;

  void readiness
    .runUntilDone(client, await loadAssets(PROJECT_ROOT, config.lifecycle), log, shutdown.signal)
    .then(() => {
      if (!readiness.bootstrapped) return;
      log.info({ seconds: ((performance.now() - began) / 1000).toFixed(1) }, "ready");
      // The job and tenant indices exist once the bootstrap is done.
      purger?.start();
      rollup?.start();
      sealer?.start();
      deliverer?.start();
      if (config.exports.worker)
        exportThread = startExportThread(
          new URL("./export-thread.ts", import.meta.url),
          {
            logLevel: config.logLevel,
            opensearch: config.opensearch,
            exports: config.exports,
            ...(keys.signerText
              ? { integrity: { signerKey: keys.signerText, origin: config.integrity.origin } }
              : {}),
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
    health,
    version,
    metrics,
    verify: createVerifier(config.auth),
    secrets,
    ...(hooks.devToken ? { devToken: hooks.devToken } : {}),
    integrity: {
      active: keys.signer,
      retired: keys.retired,
      origin: config.integrity.origin,
      ...(keys.seal ? { seal: keys.seal } : {}),
    },
  });
  const server = startServer(
    app.fetch,
    { port: config.port, hostname: config.host, connections: config.connections },
    (info) => {
      log.info(
        `ScaiVault Audit Log API listening on http://${info.address}:${info.port} (OpenSearch ${config.opensearch.url})`,
      );
      if (hooks.notice) log.info(hooks.notice);
    },
  );

  let stopping = false;
  const stop = async (signal: string) => {
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
    await rollup?.stop();
    await sealer?.stop();
    await deliverer?.stop();
    health.stop();
    await client.close();
    await hooks.afterStop?.(log);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

if (import.meta.main) await runService(process.env);

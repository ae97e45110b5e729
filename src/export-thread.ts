/**
 * @module export-thread
 * The export worker thread's composition root (see features/exports/exports.thread.ts): builds its
 * own OpenSearch client, logger, secret resolver and — with a signing key — the tamper-evident log's
 * attestor from the data it was given, runs the worker, and on "stop" releases its jobs (their
 * leases expire at once, so another replica or the next start resumes them) and ends.
 */

import { parentPort, workerData } from "node:worker_threads";
import { secretsFrom } from "./destinations/credentials.ts";
import type { ExportThreadData, ThreadMessage } from "./features/exports/exports.thread.ts";
import { ExportWorker } from "./features/exports/exports.worker.ts";
import { exportProofs } from "./features/integrity/integrity.exports.ts";
import { parseSignerKey } from "./features/integrity/note.ts";
import { createLogger } from "./logger.ts";
import { createOpenSearchClient } from "./opensearch/client.ts";

const data = workerData as ExportThreadData;
const port = parentPort;
if (!port) throw new Error("export-thread.ts runs only as a worker thread");

const client = createOpenSearchClient(data.opensearch);
const worker = new ExportWorker({
  client,
  log: createLogger(data.logLevel).child({ component: "export-worker" }),
  secrets: secretsFrom(data.exports.secrets),
  settings: data.exports,
  finished: (outcome) => port.postMessage({ type: "finished", outcome } satisfies ThreadMessage),
  ...(data.integrity
    ? {
        attest: exportProofs(client, parseSignerKey(data.integrity.signerKey), data.integrity.origin),
      }
    : {}),
});
worker.start();

port.on("message", async (m) => {
  if (m !== "stop") return;
  await worker.stop();
  await client.close();
  port.close();
});

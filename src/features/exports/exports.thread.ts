/**
 * @module features/exports/thread
 * Runs the export worker in a worker thread with its own, bounded V8 heap. An export streams
 * millions of events through one process; in its own isolate the young generation is kept small
 * (page garbage is collected early instead of growing the heap) and the old generation is capped,
 * so the process stays within a predictable memory budget, and an export that ran out of memory
 * ends its thread — its job is resumed from the checkpoint — instead of the API.
 */
import { Worker } from "node:worker_threads";
import type { Config } from "../../config.ts";
import type { Logger } from "../../logger.ts";

/** What the thread needs: plain data (it is copied into the thread). */
export interface ExportThreadData {
  logLevel: string;
  opensearch: Config["opensearch"] & { url: string };
  exports: Config["exports"];
  /** The checkpoint signer's key (its text) and the logs' origin: manifests get proofs and a signature. */
  integrity?: { signerKey: string; origin: string };
}

export type ThreadMessage = { type: "finished"; outcome: "completed" | "failed" | "cancelled" };

/** Young generation and old generation limits of the export thread (MB). */
export const EXPORT_THREAD_LIMITS = { maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 256 };

export interface ExportThread {
  stop(): Promise<void>;
}

/** Starts the thread and restarts it (after 5 s) if it dies; `stop` asks it to release its jobs and waits. */
export function startExportThread(
  /** The thread's entry module (the composition root's: src/export-thread.ts). */
  entry: URL,
  data: ExportThreadData,
  log: Logger,
  onFinished: (outcome: "completed" | "failed" | "cancelled") => void,
): ExportThread {
  let worker: Worker | undefined;
  let stopping = false;
  let restart: NodeJS.Timeout | undefined;

  const spawn = () => {
    const w = new Worker(entry, {
      workerData: data,
      resourceLimits: EXPORT_THREAD_LIMITS,
    });
    w.on("message", (m: ThreadMessage) => {
      if (m.type === "finished") onFinished(m.outcome);
    });
    w.on("error", (err) => log.error({ err: err.message }, "export worker thread failed"));
    w.on("exit", (code) => {
      if (stopping) return;
      log.error(
        { code },
        "export worker thread exited; restarting it in 5 s (its jobs resume from their checkpoints)",
      );
      restart = setTimeout(spawn, 5000);
    });
    worker = w;
  };
  spawn();

  return {
    async stop() {
      stopping = true;
      clearTimeout(restart);
      const w = worker;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
      w.postMessage("stop");
      // Releasing the leases takes a moment; a thread that does not end in time is terminated.
      const timer = setTimeout(() => void w.terminate(), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

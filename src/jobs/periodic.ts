/**
 * @module jobs/periodic
 * Work that runs every so often in every replica (the export worker's poll, the retention
 * purge, and later the sealer and the deliverers): one run at a time, never overlapping itself;
 * a failed run is logged and the next one comes on schedule; `stop` ends the schedule and waits
 * for a run in progress. Which replica may do a piece of work is each job's own lease (jobs/lease).
 */
import type { Logger } from "../logger.ts";

export class PeriodicJob {
  readonly #name: string;
  readonly #intervalMs: number;
  readonly #run: () => Promise<unknown>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<unknown> | undefined;
  #stopped = false;

  constructor(opts: { name: string; intervalMs: number; run: () => Promise<unknown>; log: Logger }) {
    this.#name = opts.name;
    this.#intervalMs = opts.intervalMs;
    this.#run = opts.run;
    this.#log = opts.log;
  }

  /** Runs at once, then `intervalMs` after each run ends. */
  start(): void {
    this.#stopped = false;
    const loop = () => {
      this.#current = this.#run()
        .catch((err) =>
          this.#log.error({ err: (err as Error).message }, `${this.#name} failed; the next run retries`),
        )
        .finally(() => {
          this.#current = undefined;
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#intervalMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** No further runs; resolves once a run in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#current;
  }
}

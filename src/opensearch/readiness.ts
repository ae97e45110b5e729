/**
 * @module opensearch/readiness
 * Tracks whether the bootstrap has run, and runs it in the background with back-off until it
 * succeeds, so the API can start before OpenSearch answers and `/readyz` says when it is ready.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { Logger } from "../logger.ts";
import { type Assets, type BootstrapResult, bootstrap } from "./bootstrap.ts";

export class Readiness {
  result: BootstrapResult | undefined;
  lastError: string | undefined;

  get bootstrapped(): boolean {
    return this.result !== undefined;
  }

  /** Runs the bootstrap once; records the outcome. */
  async runOnce(client: Client, assets: Assets): Promise<BootstrapResult> {
    try {
      this.result = await bootstrap(client, assets);
      this.lastError = undefined;
      return this.result;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /** Retries the bootstrap (1 s, 2 s, … up to 30 s apart) until it succeeds or `signal` aborts. */
  async runUntilDone(client: Client, assets: Assets, log: Logger, signal?: AbortSignal): Promise<void> {
    let delay = 1000;
    while (!signal?.aborted) {
      try {
        const r = await this.runOnce(client, assets);
        log.info({ bootstrap: r }, "OpenSearch bootstrap done");
        if (r.lifecycle.mode === "unavailable")
          log.warn(`lifecycle policies not installed: ${r.lifecycle.reason}`);
        else
          for (const m of r.lifecycle.managed)
            if (Object.keys(m.failed).length > 0)
              log.error({ policy: m.policy, failed: m.failed }, "ISM refused to manage some backing indices");
        return;
      } catch (err) {
        log.warn(
          { err: (err as Error).message, retry_in_ms: delay },
          "OpenSearch bootstrap failed; retrying",
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }
}

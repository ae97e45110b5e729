/**
 * @module features/retention/purge
 * Physically deletes expired events: every RETENTION_PURGE_INTERVAL_MS, one replica (the holder
 * of a lease stored in OpenSearch, taken with seq_no/primary_term) runs a throttled
 * delete-by-query per tenant with its own retention, and one for all tenants on the default.
 * It deletes only what reads already hide, so raising a retention never loses events inside the
 * new window. The lease is kept until the next period, so other replicas skip this one.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@opensearch-project/opensearch";
import type { Counter } from "prom-client";
import { isoMicros } from "../../events/time.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { AUDIT_STREAM, TENANTS_INDEX } from "../../opensearch/names.ts";
import type { Clause } from "../../opensearch/tenant-scope.ts";
import { type LifecycleOptions, type LifecycleStep, runLifecycle } from "./retention.lifecycle.ts";
import { customRetentions, expiredFor, expiredForDefault } from "./retention.query.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "./retention.service.ts";

export const PURGE_LEASE_ID = "purge-lease";

export interface PurgeDeps {
  client: Client;
  log: Logger;
  intervalMs: number;
  /** delete-by-query throttle (documents per second); -1 = unthrottled. */
  requestsPerSecond: number;
  now?: () => Date;
  /** Events deleted, for /metrics. */
  purged?: Counter;
  /** Without ISM: the thresholds for the service's own lifecycle pass (undefined: ISM does it). */
  lifecycle?: () => LifecycleOptions | undefined;
}

export interface PurgeResult {
  /** false when another replica holds this period's lease. */
  ran: boolean;
  deleted: { tenant: string; deleted: number }[];
  /** The lifecycle pass, when the service runs it (no ISM). */
  lifecycle?: LifecycleStep;
}

export class Purger {
  readonly id = `purger-${randomUUID()}`;
  readonly #deps: PurgeDeps;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: PurgeDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
  }

  start(): void {
    const loop = () => {
      void this.runOnce()
        .catch((err) =>
          this.#deps.log.warn({ err: (err as Error).message }, "retention purge failed; next period retries"),
        )
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#deps.intervalMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** Stops scheduling. A delete-by-query in progress finishes on its own in OpenSearch. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Takes this period's lease (or returns ran: false) and purges every tenant's expired events. */
  async runOnce(): Promise<PurgeResult> {
    if (!(await this.#takeLease())) return { ran: false, deleted: [] };
    const { client, log } = this.#deps;
    const now = this.#now();
    const res = await client.search({ index: TENANTS_INDEX, body: customRetentions as never });
    const custom = (
      res.body.hits.hits as unknown as {
        _source: { scaivault: { tenant: string }; retention_days: number };
      }[]
    ).map((h) => h._source);
    const deleted: PurgeResult["deleted"] = [];
    for (const t of custom) {
      const n = await this.#deleteByQuery(expiredFor(t.scaivault.tenant, cutoff(t.retention_days, now)));
      deleted.push({ tenant: t.scaivault.tenant, deleted: n });
    }
    const n = await this.#deleteByQuery(
      expiredForDefault(
        cutoff(DEFAULT_RETENTION_DAYS, now),
        custom.map((t) => t.scaivault.tenant),
      ),
    );
    deleted.push({ tenant: "*default*", deleted: n });
    const total = deleted.reduce((s, d) => s + d.deleted, 0);
    this.#deps.purged?.inc(total);
    log.info({ deleted: deleted.filter((d) => d.deleted > 0), total }, "retention purge done");
    const lifecycleOptions = this.#deps.lifecycle?.();
    if (!lifecycleOptions) return { ran: true, deleted };
    const lifecycle = await runLifecycle(client, lifecycleOptions, now);
    if (lifecycle.rolledOver || lifecycle.movedToCold.length > 0)
      log.info(lifecycle, "lifecycle pass (no ISM on this cluster)");
    return { ran: true, deleted, lifecycle };
  }

  async #deleteByQuery(body: Clause): Promise<number> {
    const { client, requestsPerSecond } = this.#deps;
    const started = await client.deleteByQuery({
      index: AUDIT_STREAM,
      body: body as never,
      conflicts: "proceed",
      requests_per_second: requestsPerSecond,
      wait_for_completion: false,
      refresh: true,
    });
    const task = (started.body as { task: string }).task;
    // Poll the task: a large purge outlives any single request timeout.
    for (;;) {
      const t = await client.tasks.get({ task_id: task, wait_for_completion: true, timeout: "20s" });
      const b = t.body as { completed: boolean; response?: { deleted: number }; error?: unknown };
      if (b.error) throw new Error(`delete-by-query failed: ${JSON.stringify(b.error).slice(0, 300)}`);
      if (b.completed) return b.response?.deleted ?? 0;
    }
  }

  /** The lease for this period: free, expired or already ours → take it until the next period. */
  async #takeLease(): Promise<boolean> {
    const { client, intervalMs } = this.#deps;
    const now = this.#now();
    const lease = { owner: this.id, expires_at: isoMicros(new Date(now.getTime() + intervalMs * 0.9)) };
    try {
      const cur = await client.get({ index: TENANTS_INDEX, id: PURGE_LEASE_ID });
      const held = (cur.body._source as { lease?: { owner: string; expires_at: string } }).lease;
      if (held && held.owner !== this.id && held.expires_at > isoMicros(now)) return false;
      await client.index({
        index: TENANTS_INDEX,
        id: PURGE_LEASE_ID,
        if_seq_no: cur.body._seq_no as number,
        if_primary_term: cur.body._primary_term as number,
        body: { lease } as never,
      });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false; // another replica took it first
      if (statusOf(err) !== 404) throw err;
      try {
        await client.index({
          index: TENANTS_INDEX,
          id: PURGE_LEASE_ID,
          op_type: "create",
          body: { lease } as never,
        });
        return true;
      } catch (e) {
        if (statusOf(e) === 409) return false;
        throw e;
      }
    }
  }
}

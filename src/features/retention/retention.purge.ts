/**
 * @module features/retention/purge
 * Physically deletes expired events: every RETENTION_PURGE_INTERVAL_MS, one replica (the holder
 * of a lease stored in OpenSearch, taken with seq_no/primary_term) goes through every tenant with
 * stored events: counts what its retention hides, deletes exactly that with a throttled
 * delete-by-query, then counts again. It deletes only what reads already hide, so raising a
 * retention never loses events inside the new window.
 *
 * A purge cannot fail silently: a task error, per-document failures (a write-blocked index),
 * version conflicts, a task still running at the period's end, or expired events left afterwards
 * make that tenant's outcome a failure — an error in the log, audit_retention_purge_failures_total
 * in /metrics, and `last_purge.succeeded: false` on GET /v1/audit/retention. The next period
 * tries again. Each tenant's outcome is stored (`_id` = tenant:purge). Before deleting, a signed
 * purge receipt is written for the tamper-evident log (`beforeDelete`): no receipt, no delete.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@opensearch-project/opensearch";
import type { Counter } from "prom-client";
import { isoMicros } from "../../events/time.ts";
import { takeLease } from "../../jobs/lease.ts";
import { PeriodicJob } from "../../jobs/periodic.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { AUDIT_STREAM, TENANTS_INDEX } from "../../opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS, markPurging, purgeStatusId } from "../../tenancy/retention.ts";
import type { Clause } from "../../tenancy/tenant-scope.ts";
import { type LifecycleOptions, type LifecycleStep, runLifecycle } from "./retention.lifecycle.ts";
import { customRetentions, expiredFor, tenantsPage } from "./retention.query.ts";

export const PURGE_LEASE_ID = "purge-lease";

export type PurgeFailure = "task_error" | "document_failures" | "version_conflicts" | "timeout" | "remaining";

/** One tenant's outcome in one run, as GET /v1/audit/retention shows it (`last_purge`). */
export interface TenantPurge {
  tenant: string;
  ran_at: string;
  /** Events older than this were to go. */
  cutoff: string;
  /** Expired events found before deleting. */
  expired: number;
  deleted: number;
  /** Expired events still stored afterwards (0 when it worked). */
  remaining: number;
  succeeded: boolean;
  /** What went wrong, each as the kind and what OpenSearch said (no documents). */
  failures: { kind: PurgeFailure; detail: string }[];
}

export interface PurgeDeps {
  client: Client;
  log: Logger;
  intervalMs: number;
  /** delete-by-query throttle (documents per second); -1 = unthrottled. */
  requestsPerSecond: number;
  now?: () => Date;
  /** Events deleted, for /metrics. */
  purged?: Counter;
  /** Purge failures by kind, for /metrics. */
  failures?: Counter<"kind">;
  /** Without ISM: the thresholds for the service's own lifecycle pass (undefined: ISM does it). */
  lifecycle?: () => LifecycleOptions | undefined;
  /** Tenants per page when listing them (tests make it small). */
  pageSize?: number;
  /**
   * Runs before a tenant's expired events are deleted, and must succeed for them to be: the
   * tamper-evident log's signed purge receipt (wired in main), so a verification tells them purged.
   */
  beforeDelete?: (purge: { tenant: string; cutoff: string; expired: number; at: string }) => Promise<void>;
}

export interface PurgeResult {
  /** false when another replica holds this period's lease. */
  ran: boolean;
  tenants: TenantPurge[];
  /** The lifecycle pass, when the service runs it (no ISM). */
  lifecycle?: LifecycleStep;
}

interface TaskResponse {
  deleted?: number;
  version_conflicts?: number;
  failures?: {
    index?: string;
    cause?: { type?: string; reason?: string };
    reason?: { type?: string; reason?: string };
  }[];
}

export class Purger {
  readonly id = `purger-${randomUUID()}`;
  readonly #deps: PurgeDeps;
  readonly #now: () => Date;
  readonly #job: PeriodicJob;

  constructor(deps: PurgeDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#job = new PeriodicJob({
      name: "retention purge",
      intervalMs: deps.intervalMs,
      run: () => this.runOnce(),
      log: deps.log,
    });
  }

  start(): void {
    this.#job.start();
  }

  /** Stops scheduling. A delete-by-query in progress finishes on its own in OpenSearch. */
  stop(): void {
    void this.#job.stop();
  }

  /** Takes this period's lease (or returns ran: false) and purges every tenant's expired events. */
  async runOnce(): Promise<PurgeResult> {
    const { client, log, intervalMs } = this.#deps;
    const now = this.#now();
    // This period is one replica's: the lease is held until just before the next, and everything
    // must be done by then.
    const until = new Date(now.getTime() + intervalMs * 0.9);
    if (!(await takeLease(client, { index: TENANTS_INDEX, id: PURGE_LEASE_ID }, this.id, now, until)))
      return { ran: false, tenants: [] };
    const deadline = until.getTime();
    const res = await client.search({ index: TENANTS_INDEX, body: customRetentions as never });
    const days = new Map(
      (
        res.body.hits.hits as unknown as {
          _source: { scaivault: { tenant: string }; retention_days: number };
        }[]
      ).map((h) => [h._source.scaivault.tenant, h._source.retention_days]),
    );
    const tenants: TenantPurge[] = [];
    for await (const tenant of this.#tenants()) {
      tenants.push(
        await this.#purgeTenant(tenant, cutoff(days.get(tenant) ?? DEFAULT_RETENTION_DAYS, now), deadline),
      );
    }
    await this.#record(tenants);

    const deleted = tenants.reduce((n, t) => n + t.deleted, 0);
    this.#deps.purged?.inc(deleted);
    const failed = tenants.filter((t) => !t.succeeded);
    for (const t of failed) {
      for (const f of t.failures) this.#deps.failures?.inc({ kind: f.kind });
      log.error(
        {
          tenant: t.tenant,
          cutoff: t.cutoff,
          expired: t.expired,
          deleted: t.deleted,
          remaining: t.remaining,
          failures: t.failures,
        },
        "retention purge left expired events of a tenant; the next period retries",
      );
    }
    log.info(
      {
        tenants: tenants.length,
        deleted,
        failed: failed.length,
        purged: tenants.filter((t) => t.deleted > 0).map((t) => ({ tenant: t.tenant, deleted: t.deleted })),
      },
      "retention purge done",
    );
    const lifecycleOptions = this.#deps.lifecycle?.();
    if (!lifecycleOptions) return { ran: true, tenants };
    const lifecycle = await runLifecycle(client, lifecycleOptions, now);
    if (lifecycle.rolledOver || lifecycle.movedToCold.length > 0)
      log.info(lifecycle, "lifecycle pass (no ISM on this cluster)");
    return { ran: true, tenants, lifecycle };
  }

  /** Every tenant with stored events, in tenant order. */
  async *#tenants(): AsyncGenerator<string> {
    const size = this.#deps.pageSize ?? 1000;
    let after: string | undefined;
    for (;;) {
      const res = await this.#deps.client.search({
        index: AUDIT_STREAM,
        body: tenantsPage(size, after) as never,
      });
      const agg = (
        res.body.aggregations as unknown as {
          tenants: { buckets: { key: { tenant: string } }[]; after_key?: { tenant: string } };
        }
      ).tenants;
      for (const b of agg.buckets) yield b.key.tenant;
      if (agg.buckets.length < size || !agg.after_key) return;
      after = agg.after_key.tenant;
    }
  }

  /** Counts, deletes and counts again one tenant's expired events. */
  async #purgeTenant(tenant: string, cut: string, deadline: number): Promise<TenantPurge> {
    const body = expiredFor(tenant, cut);
    const out: TenantPurge = {
      tenant,
      ran_at: isoMicros(this.#now()),
      cutoff: cut,
      expired: await this.#count(body),
      deleted: 0,
      remaining: 0,
      succeeded: true,
      failures: [],
    };
    if (out.expired > 0) {
      try {
        await this.#deps.beforeDelete?.({ tenant, cutoff: cut, expired: out.expired, at: out.ran_at });
        await markPurging(this.#deps.client, tenant, cut);
        const r = await this.#deleteByQuery(body, deadline);
        out.deleted = r.deleted ?? 0;
        if ((r.version_conflicts ?? 0) > 0)
          out.failures.push({
            kind: "version_conflicts",
            detail: `${r.version_conflicts} version conflicts`,
          });
        const docs = r.failures ?? [];
        if (docs.length > 0) {
          const first = docs[0]?.cause ?? docs[0]?.reason;
          out.failures.push({
            kind: "document_failures",
            detail: `${docs.length} documents could not be deleted, e.g. in ${docs[0]?.index ?? "?"}: ${first?.type ?? "?"}: ${(first?.reason ?? "").slice(0, 200)}`,
          });
        }
      } catch (err) {
        const kind: PurgeFailure = err instanceof PurgeTimeout ? "timeout" : "task_error";
        out.failures.push({ kind, detail: (err as Error).message.slice(0, 300) });
      }
      out.remaining = await this.#count(body);
      if (out.remaining > 0)
        out.failures.push({
          kind: "remaining",
          detail: `${out.remaining} events older than the cut-off are still stored`,
        });
    }
    out.succeeded = out.failures.length === 0;
    return out;
  }

  async #count(body: Clause): Promise<number> {
    const res = await this.#deps.client.count({ index: AUDIT_STREAM, body: body as never });
    return res.body.count;
  }

  async #deleteByQuery(body: Clause, deadline: number): Promise<TaskResponse> {
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
    // Poll the task: a large purge outlives any single request timeout, but not the period.
    for (;;) {
      const wait = Math.max(1, Math.min(20, Math.ceil((deadline - Date.now()) / 1000)));
      const t = await client.tasks
        .get({ task_id: task, wait_for_completion: true, timeout: `${wait}s` })
        // Still running when the wait ends is a 504 (timeout_exception): keep polling.
        .catch((err: unknown) => {
          if (statusOf(err) === 504) return undefined;
          throw err;
        });
      const b = t?.body as
        | { completed: boolean; response?: TaskResponse; error?: { type?: string; reason?: string } }
        | undefined;
      if (b?.error)
        throw new Error(`delete-by-query failed: ${b.error.type ?? "?"}: ${b.error.reason ?? ""}`);
      if (b?.completed) return b.response ?? {};
      if (Date.now() > deadline) {
        await client.tasks.cancel({ task_id: task }).catch(() => {});
        throw new PurgeTimeout(
          `delete-by-query still running at the end of the period; cancelled (task ${task})`,
        );
      }
    }
  }

  /** Each tenant's outcome, where GET /v1/audit/retention reads it. */
  async #record(tenants: TenantPurge[]): Promise<void> {
    for (let i = 0; i < tenants.length; i += 500) {
      let body = "";
      for (const t of tenants.slice(i, i + 500)) {
        body += `${JSON.stringify({ index: { _index: TENANTS_INDEX, _id: purgeStatusId(t.tenant) } })}\n`;
        body += `${JSON.stringify({ scaivault: { tenant: t.tenant }, last_purge: t })}\n`;
      }
      const res = await this.#deps.client.bulk({ body: body as never, refresh: true });
      if ((res.body as { errors?: boolean }).errors)
        this.#deps.log.error("could not record some purge outcomes");
    }
  }
}

class PurgeTimeout extends Error {
  override name = "PurgeTimeout";
}

/**
 * @module features/summary/rollup-job
 * Keeps the hourly rollup (rollup.query): every SUMMARY_ROLLUP_INTERVAL_MS, one replica (the holder of a
 * lease, as the purge's) follows the audit store in store order from the committed watermark to
 * the shards' checkpoints, finds the (tenant, hour) pairs that received events — late ones too —
 * and recounts the rows of those hours (and of their days, for the daily kinds) from every stored
 * event. Only once the rows are written and
 * searchable does it commit the new watermark, so a reader never takes a half-written hour for a
 * clean one (an hour with events after the committed watermark is read from the events).
 *
 * Rows are written with their count as an external version (`external_gte`): a period's counts
 * only grow (events are never rewritten; purged hours are clamped by readers), so of two replicas
 * recounting one period — a lease that ran out under a slow run — the larger, later count wins. The
 * watermark is committed with seq_no/primary_term: it only moves forward.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@opensearch-project/opensearch";
import { isoMicros } from "../../events/time.ts";
import { takeLease } from "../../jobs/lease.ts";
import { PeriodicJob } from "../../jobs/periodic.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { AUDIT_STREAM, ROLLUP_INDEX, TENANTS_INDEX } from "../../opensearch/names.ts";
import { type Position, reachable, refresh, storeProgress } from "../../opensearch/progress.ts";
import {
  changedPairsSearch,
  periodsOf,
  purgedRows,
  ROW_KINDS,
  type RowKind,
  rowDocument,
  rowsSearch,
} from "./rollup.query.ts";

export const ROLLUP_LEASE_ID = "rollup-lease";
export const WATERMARK_ID = "watermark";
/** Hours recounted per request: bounds each aggregation and how long the lease goes unrenewed. */
const HOURS_PER_BATCH = 240;

export interface RollupDeps {
  client: Client;
  log: Logger;
  intervalMs: number;
  now?: () => Date;
  /** Composite page size (tests make it small). */
  pageSize?: number;
  /** The data stream followed (tests use the audit stream too). */
  stream?: string;
}

export interface RollupRun {
  /** false when another replica holds the lease. */
  ran: boolean;
  /** (tenant, hour) pairs recounted. */
  hours: number;
  rows: number;
  /** The watermark committed by this run, if it moved. */
  mark?: Position;
}

/** The committed watermark and the version to commit the next one against. */
export async function readWatermark(
  client: Client,
): Promise<{ mark: Position; seqNo: number; primaryTerm: number } | null> {
  try {
    const res = await client.get({ index: ROLLUP_INDEX, id: WATERMARK_ID });
    const mark = (res.body._source as { watermark?: Position } | undefined)?.watermark;
    if (!mark) return null;
    return { mark, seqNo: res.body._seq_no as number, primaryTerm: res.body._primary_term as number };
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

const samePosition = (a: Position | null, b: Position | null) =>
  a === b || (a !== null && b !== null && a.gen === b.gen && a.seq.join() === b.seq.join());

export class RollupJob {
  readonly id = `rollup-${randomUUID()}`;
  readonly #deps: RollupDeps;
  readonly #now: () => Date;
  readonly #job: PeriodicJob;

  constructor(deps: RollupDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#job = new PeriodicJob({
      name: "summary rollup",
      intervalMs: deps.intervalMs,
      run: () => this.runOnce(),
      log: deps.log,
    });
  }

  start(): void {
    this.#job.start();
  }

  async stop(): Promise<void> {
    await this.#job.stop();
  }

  async runOnce(): Promise<RollupRun> {
    const { client, log } = this.#deps;
    const stream = this.#deps.stream ?? AUDIT_STREAM;
    if (!(await this.#lease())) return { ran: false, hours: 0, rows: 0 };
    const committed = await readWatermark(client);
    const from = committed?.mark ?? null;
    await this.#dropPurged();
    const to = reachable(await storeProgress({ client, stream }, from?.gen), from);
    if (!to || samePosition(from, to)) return { ran: true, hours: 0, rows: 0 };
    // Every operation up to the checkpoints read above becomes searchable.
    await refresh(client, stream);

    let hours = 0;
    let rows = 0;
    for await (const [tenant, tenantHours] of this.#changedPairs(stream, from)) {
      for (let i = 0; i < tenantHours.length; i += HOURS_PER_BATCH) {
        const batch = tenantHours.slice(i, i + HOURS_PER_BATCH);
        // Each kind recounts the periods (hours or days) holding those hours, whole.
        for (const kind of Object.keys(ROW_KINDS) as RowKind[])
          rows += await this.#recount(kind, tenant, periodsOf(batch, ROW_KINDS[kind].every));
        hours += batch.length;
        if (!(await this.#lease())) throw new Error("the rollup lease was lost mid-run; nothing committed");
      }
    }
    await client.indices.refresh({ index: ROLLUP_INDEX });
    const doc = { watermark: to, committed_at: isoMicros(this.#now()) };
    try {
      await client.index({
        index: ROLLUP_INDEX,
        id: WATERMARK_ID,
        body: doc as never,
        refresh: "wait_for",
        ...(committed
          ? { if_seq_no: committed.seqNo, if_primary_term: committed.primaryTerm }
          : { op_type: "create" as const }),
      });
    } catch (err) {
      // Another replica committed meanwhile (its lease outlived ours): its watermark stands.
      if (statusOf(err) === 409) return { ran: true, hours, rows };
      throw err;
    }
    if (hours > 0) log.debug({ hours, rows, watermark: to }, "rollup recounted");
    return { ran: true, hours, rows, mark: to };
  }

  /**
   * Deletes the rows of hours a purge reached (readers already ignore them, see rowSpan): rows
   * would otherwise outlive their events by years.
   */
  async #dropPurged(): Promise<void> {
    const { client } = this.#deps;
    let after: unknown[] | undefined;
    for (;;) {
      const res = await client.search({
        index: TENANTS_INDEX,
        body: {
          query: { exists: { field: "purged_before" } },
          size: 1000,
          sort: [{ "scaivault.tenant": "asc" }],
          _source: ["scaivault.tenant", "purged_before"],
          ...(after ? { search_after: after } : {}),
        } as never,
      });
      const hits = res.body.hits.hits as unknown as {
        _source: { scaivault: { tenant: string }; purged_before: string };
        sort: unknown[];
      }[];
      if (hits.length === 0) return;
      const purges = hits.map((h) => ({
        tenant: h._source.scaivault.tenant,
        before: h._source.purged_before,
      }));
      await client.deleteByQuery({
        index: ROLLUP_INDEX,
        conflicts: "proceed",
        refresh: true,
        body: { query: purgedRows(purges) } as never,
      });
      if (hits.length < 1000) return;
      after = hits.at(-1)?.sort;
    }
  }

  /** Takes or renews the lease until well past the next run's start. */
  #lease(): Promise<boolean> {
    const now = this.#now();
    const until = new Date(now.getTime() + Math.max(this.#deps.intervalMs * 2, 10_000));
    return takeLease(this.#deps.client, { index: TENANTS_INDEX, id: ROLLUP_LEASE_ID }, this.id, now, until);
  }

  /** Each tenant with the hours (ascending) that received events after `from`. */
  async *#changedPairs(stream: string, from: Position | null): AsyncGenerator<[string, number[]]> {
    const size = this.#deps.pageSize ?? 5000;
    let tenant: string | undefined;
    let hours: number[] = [];
    let after: Record<string, unknown> | undefined;
    for (;;) {
      const res = await this.#deps.client.search({
        index: stream,
        body: changedPairsSearch({ stream, mark: from }, size, after) as never,
      });
      const agg = (
        res.body.aggregations as unknown as {
          pairs: {
            buckets: { key: { tenant: string; hour: number } }[];
            after_key?: Record<string, unknown>;
          };
        }
      ).pairs;
      for (const { key } of agg.buckets) {
        if (key.tenant !== tenant) {
          if (tenant !== undefined) yield [tenant, hours];
          tenant = key.tenant;
          hours = [];
        }
        hours.push(key.hour);
      }
      if (agg.buckets.length < size || !agg.after_key) break;
      after = agg.after_key;
    }
    if (tenant !== undefined) yield [tenant, hours];
  }

  /** Recounts a tenant's rows of `kind` over `periods` and writes them; returns how many. */
  async #recount(kind: RowKind, tenant: string, periods: number[]): Promise<number> {
    const { client } = this.#deps;
    const stream = this.#deps.stream ?? AUDIT_STREAM;
    const size = this.#deps.pageSize ?? 5000;
    let after: Record<string, unknown> | undefined;
    let written = 0;
    for (;;) {
      const res = await client.search({
        index: stream,
        body: rowsSearch(kind, tenant, periods, size, after) as never,
      });
      const agg = (
        res.body.aggregations as unknown as {
          rows: {
            buckets: { key: Record<string, unknown>; doc_count: number }[];
            after_key?: Record<string, unknown>;
          };
        }
      ).rows;
      let body = "";
      for (const b of agg.buckets) {
        const { id, doc } = rowDocument(tenant, kind, b.key, b.doc_count);
        body += `${JSON.stringify({ index: { _index: ROLLUP_INDEX, _id: id, version: b.doc_count, version_type: "external_gte" } })}\n${JSON.stringify(doc)}\n`;
      }
      if (body) {
        const out = await client.bulk({ body: body as never });
        const failed = (out.body.items as { index?: { status: number; error?: { type?: string } } }[]).filter(
          // 409: a larger count of the same row is already there (another run's, later).
          (i) => (i.index?.status ?? 500) >= 300 && i.index?.status !== 409,
        );
        if (failed.length > 0)
          throw new Error(
            `could not write ${failed.length} rollup rows: ${failed[0]?.index?.error?.type ?? "?"}`,
          );
        written += agg.buckets.length;
      }
      if (agg.buckets.length < size || !agg.after_key) return written;
      after = agg.after_key;
    }
  }
}

/**
 * @module features/summary/rollup-query
 * PURE builders for the hourly rollup (issue 17): rows of counts per tenant, hour and key, kept by
 * the rollup job, so the unfiltered summary of a long window aggregates a fifth of the documents.
 *
 * A row carries its key in the events' own field names (`event.action`, `user.id`, …) and its
 * count in `scaivault.rollup.count`; events have no such field. Every summary aggregation counts
 * `sum(scaivault.rollup.count, missing: 1)`, so one search over events and rows together merges
 * them exactly inside OpenSearch, top lists and cardinalities included: a row counts its events,
 * an event counts 1.
 *
 * Which hours rows may answer: the job commits a watermark in store order (a position, as the
 * live tail's) once every event before it is counted in the rows. An hour holding an event stored
 * after the watermark is "dirty" and read from the events; so are the window's partial edge hours,
 * and every hour before the newest purge cut-off (rows may still count purged events).
 */
import { createHash } from "node:crypto";
import { backingIndex, type Position } from "../../opensearch/progress.ts";
import { type Clause, scoped, TENANT_FIELD, type Tenant } from "../../tenancy/tenant-scope.ts";

export const HOUR_MS = 3_600_000;
/** Marks a row (and its kind); events lack it. */
const KIND_FIELD = "scaivault.rollup.kind";
const COUNT_FIELD = "scaivault.rollup.count";

/** The keys of each kind of row: what the summary's aggregations of that kind read. */
export const ROW_KINDS = {
  totals: ["event.action", "event.outcome", "scaivault.identity.type", "error.code"],
  identity: ["user.id", "event.outcome"],
  path: ["scaivault.path"],
  source: ["source.ip"],
} as const;
export type RowKind = keyof typeof ROW_KINDS;

/** Counts each document as what it stands for: a row its count, an event 1. */
export const WEIGHT = { sum: { field: COUNT_FIELD, missing: 1 } };

/** Events, and rows of `kind`. */
export const eventsOr = (kind: RowKind): Clause => ({
  bool: {
    should: [{ term: { [KIND_FIELD]: kind } }, { bool: { must_not: { exists: { field: KIND_FIELD } } } }],
    minimum_should_match: 1,
  },
});

const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;
const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;

/**
 * Wildcards matching the backing indices after generation `gen` (`_index` takes no range or
 * regexp): per digit of the zero-padded number, each larger digit followed by any digits, and
 * every generation of seven digits or more.
 */
export function laterIndexPatterns(stream: string, gen: number): string[] {
  const name = backingIndex(stream, gen);
  const digits = name.slice(name.length - 6);
  const prefix = name.slice(0, name.length - 6);
  const out: string[] = [];
  if (digits.length === 6) {
    for (let i = 0; i < 6; i++) {
      for (let d = Number(digits[i]) + 1; d <= 9; d++)
        out.push(`${prefix}${digits.slice(0, i)}${d}${"?".repeat(5 - i)}`);
    }
  }
  out.push(`${prefix}???????*`);
  return out;
}

/**
 * Events stored after `mark` (none committed yet: all of them). With several shards the lowest
 * shard's position stands for all: more events than stored after it, never fewer.
 */
export function storedAfter(stream: string, mark: Position | null): Clause {
  if (!mark) return { match_all: {} };
  return {
    bool: {
      should: [
        {
          bool: {
            filter: [
              { term: { _index: backingIndex(stream, mark.gen) } },
              { range: { _seq_no: { gte: Math.min(...mark.seq, Number.MAX_SAFE_INTEGER) } } },
            ],
          },
        },
        ...laterIndexPatterns(stream, mark.gen).map((p) => ({ wildcard: { _index: { value: p } } })),
      ],
      minimum_should_match: 1,
    },
  };
}

const hourSource = { hour: { date_histogram: { field: "@timestamp", fixed_interval: "1h" } } };
const page = (name: string, sources: Clause[], size: number, after?: Record<string, unknown>) => ({
  [name]: { composite: { size, sources, ...(after ? { after } : {}) } },
});

/** The dirty hours of a summary: the tenant's hours in `span` holding events stored after `mark`. */
export function dirtyHoursSearch(
  tenant: Tenant,
  span: { lo: number; hi: number },
  at: { stream: string; mark: Position },
  size: number,
  after?: Record<string, unknown>,
): Clause {
  const inSpan = { range: { "@timestamp": { gte: span.lo, lt: span.hi, format: "epoch_millis" } } };
  return {
    query: scoped(tenant, [inSpan, storedAfter(at.stream, at.mark)]),
    size: 0,
    track_total_hits: false,
    aggs: page("hours", [hourSource], size, after),
  };
}

/** The job: which (tenant, hour) pairs hold events stored after `mark`, one page in key order. */
export function changedPairsSearch(
  at: { stream: string; mark: Position | null },
  size: number,
  after?: Record<string, unknown>,
): Clause {
  return {
    query: storedAfter(at.stream, at.mark),
    size: 0,
    track_total_hits: false,
    aggs: page("pairs", [{ tenant: { terms: { field: TENANT_FIELD } } }, hourSource], size, after),
  };
}

/**
 * The job: one page of a tenant's rows of `kind` over `hours`, recounted from every stored event
 * (not only those its retention shows: readers clamp, see rowSpan).
 */
export function rowsSearch(
  kind: RowKind,
  tenant: string,
  hours: number[],
  size: number,
  after?: Record<string, unknown>,
): Clause {
  const sources = ROW_KINDS[kind].map((field) => ({ [field]: { terms: { field, missing_bucket: true } } }));
  return {
    query: {
      bool: {
        filter: [
          { term: { [TENANT_FIELD]: tenant } },
          { bool: { should: inHours(hours), minimum_should_match: 1 } },
        ],
      },
    },
    size: 0,
    track_total_hits: false,
    aggs: page("rows", [hourSource, ...sources], size, after),
  };
}

/** The job: rows of whole hours before each tenant's newest purge cut-off. */
export function purgedRows(purges: { tenant: string; before: string }[]): Clause {
  return {
    bool: {
      filter: [{ exists: { field: KIND_FIELD } }],
      should: purges.map((p) => ({
        bool: {
          filter: [
            { term: { [TENANT_FIELD]: p.tenant } },
            { range: { "@timestamp": { lt: floorHour(Date.parse(p.before)), format: "epoch_millis" } } },
          ],
        },
      })),
      minimum_should_match: 1,
    },
  };
}

/** The hours `hours` (starts, ascending) as ranges, neighbours merged. */
export function hourRanges(hours: number[]): { gte: number; lt: number }[] {
  const out: { gte: number; lt: number }[] = [];
  for (const h of hours) {
    const last = out.at(-1);
    if (last && last.lt === h) last.lt = h + HOUR_MS;
    else out.push({ gte: h, lt: h + HOUR_MS });
  }
  return out;
}

const inHours = (hours: number[]): Clause[] =>
  hourRanges(hours).map((r) => ({ range: { "@timestamp": { ...r, format: "epoch_millis" } } }));

/** A row document: the tenant, the hour, the key fields (absent ones left out) and the count. */
export function rowDocument(
  tenant: string,
  kind: RowKind,
  key: Record<string, unknown>,
  count: number,
): { id: string; doc: Record<string, unknown> } {
  const hour = key.hour as number;
  const doc: Record<string, unknown> = {
    [TENANT_FIELD]: tenant,
    "@timestamp": new Date(hour).toISOString(),
    [KIND_FIELD]: kind,
    [COUNT_FIELD]: count,
  };
  const values = ROW_KINDS[kind].map((f) => key[f] ?? null);
  ROW_KINDS[kind].forEach((f, i) => {
    if (values[i] !== null) doc[f] = values[i];
  });
  // One id per tenant, hour, kind and key: a recomputed row replaces the one before.
  const id = createHash("sha256")
    .update(JSON.stringify([tenant, hour, kind, ...values]))
    .digest("base64url");
  return { id, doc };
}

/**
 * The part of a summary's window that rows answer: whole hours from the later of `from`, the
 * retention cut-off and the newest purge cut-off, to `to`. Undefined when no whole hour remains.
 */
export function rowSpan(
  window: { from: number; to: number },
  since: string | null,
  purgedBefore: string | null,
): { lo: number; hi: number } | undefined {
  const starts = [window.from, since ? Date.parse(since) : 0, purgedBefore ? Date.parse(purgedBefore) : 0];
  const lo = ceilHour(Math.max(...starts));
  const hi = floorHour(window.to);
  return hi > lo ? { lo, hi } : undefined;
}

/**
 * Events outside the rows' span or in a dirty hour, and rows inside it but not in a dirty hour:
 * together every event of the window counted once.
 */
export function splitClause(span: { lo: number; hi: number }, dirty: number[]): Clause {
  const dirtyRanges = inHours(dirty);
  const range = (r: Record<string, number>) => ({
    range: { "@timestamp": { ...r, format: "epoch_millis" } },
  });
  return {
    bool: {
      should: [
        {
          bool: {
            must_not: [{ exists: { field: KIND_FIELD } }],
            should: [range({ lt: span.lo }), range({ gte: span.hi }), ...dirtyRanges],
            minimum_should_match: 1,
          },
        },
        {
          bool: {
            filter: [{ exists: { field: KIND_FIELD } }, range({ gte: span.lo, lt: span.hi })],
            must_not: dirtyRanges,
          },
        },
      ],
      minimum_should_match: 1,
    },
  };
}

/**
 * @module features/summary/rollup-query
 * PURE builders for the hourly rollup (issue 17): rows of counts per tenant, hour and key, kept by
 * the rollup job, so the unfiltered summary of a long window aggregates a fifth of the documents.
 *
 * A row carries its key in the events' own field names (`event.action`, `user.id`, …) and its
 * count in `scaivault.rollup.count`; events have no such field. Only the histogram needs hours:
 * its rows are per hour and outcome; every other kind is per day (an hour holds nearly as many
 * distinct paths, identities and addresses as a day: rows per day are ~20× fewer). Every summary aggregation counts
 * `sum(scaivault.rollup.count, missing: 1)`, so one search over events and rows together merges
 * them exactly inside OpenSearch, top lists and cardinalities included: a row counts its events,
 * an event counts 1.
 *
 * Which periods rows may answer: the job commits a watermark in store order (a position, as the
 * live tail's) once every event before it is counted in the rows. An hour holding an event stored
 * after the watermark is "dirty" (and so is its day) and read from the events; so are the window's
 * partial edge hours and days, and everything before the newest purge cut-off (rows may still
 * count purged events).
 */
import { createHash } from "node:crypto";
import { backingIndex, type Position } from "../../opensearch/progress.ts";
import { type Clause, scoped, TENANT_FIELD, type Tenant } from "../../tenancy/tenant-scope.ts";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Marks a row (and its kind); events lack it. */
const KIND_FIELD = "scaivault.rollup.kind";
const COUNT_FIELD = "scaivault.rollup.count";

/** Each kind of row: the period it counts and its keys (what the summary's aggregations of it read). */
export const ROW_KINDS = {
  hourly: { every: HOUR_MS, keys: ["event.outcome"] },
  totals: { every: DAY_MS, keys: ["event.action", "event.outcome", "scaivault.identity.type", "error.code"] },
  identity: { every: DAY_MS, keys: ["user.id", "event.outcome"] },
  path: { every: DAY_MS, keys: ["scaivault.path"] },
  source: { every: DAY_MS, keys: ["source.ip"] },
} as const;
export type RowKind = keyof typeof ROW_KINDS;
const ALL_KINDS = Object.keys(ROW_KINDS) as RowKind[];

/** Counts each document as what it stands for: a row its count, an event 1. */
export const WEIGHT = { sum: { field: COUNT_FIELD, missing: 1 } };

/** Whole periods of a window that rows answer, and the dirty ones inside them (starts, ascending). */
export interface RollupPlan {
  hours: Span;
  /** Undefined when the window holds no whole day. */
  days?: Span;
  dirtyHours: number[];
  dirtyDays: number[];
}
interface Span {
  lo: number;
  hi: number;
}

const EVENT = { bool: { must_not: { exists: { field: KIND_FIELD } } } };
const range = (r: Record<string, number>): Clause => ({
  range: { "@timestamp": { ...r, format: "epoch_millis" } },
});
const outside = (span: Span | undefined, dirty: number[], every: number): Clause[] =>
  span ? [range({ lt: span.lo }), range({ gte: span.hi }), ...inPeriods(dirty, every)] : [];

/**
 * What one kind's aggregations count in a summary read with `plan`: its rows, and the events its
 * rows do not stand for. The query holds the events no daily row stands for, so daily kinds take
 * all of them; the hourly kind only those outside its clean whole hours.
 */
export function countedBy(kind: RowKind, plan: RollupPlan): Clause {
  const events: Clause =
    ROW_KINDS[kind].every === HOUR_MS
      ? {
          bool: {
            filter: [EVENT],
            should: outside(plan.hours, plan.dirtyHours, HOUR_MS),
            minimum_should_match: 1,
          },
        }
      : EVENT;
  return { bool: { should: [{ term: { [KIND_FIELD]: kind } }, events], minimum_should_match: 1 } };
}

const floorTo = (ms: number, every: number) => Math.floor(ms / every) * every;
const ceilTo = (ms: number, every: number) => Math.ceil(ms / every) * every;

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
 * The job: one page of a tenant's rows of `kind` over `periods` (starts of the kind's periods),
 * recounted from every stored event (not only those its retention shows: readers clamp, see
 * rollupPlan).
 */
export function rowsSearch(
  kind: RowKind,
  tenant: string,
  periods: number[],
  size: number,
  after?: Record<string, unknown>,
): Clause {
  const { every, keys } = ROW_KINDS[kind];
  const period = { period: { date_histogram: { field: "@timestamp", fixed_interval: `${every}ms` } } };
  const sources = keys.map((field) => ({ [field]: { terms: { field, missing_bucket: true } } }));
  return {
    query: {
      bool: {
        filter: [
          { term: { [TENANT_FIELD]: tenant } },
          { bool: { should: inPeriods(periods, every), minimum_should_match: 1 } },
        ],
      },
    },
    size: 0,
    track_total_hits: false,
    aggs: page("rows", [period, ...sources], size, after),
  };
}

/** The job: rows of periods begun before each tenant's newest purge cut-off (readers skip them). */
export function purgedRows(purges: { tenant: string; before: string }[]): Clause {
  return {
    bool: {
      filter: [{ exists: { field: KIND_FIELD } }],
      should: purges.map((p) => ({
        bool: {
          filter: [
            { term: { [TENANT_FIELD]: p.tenant } },
            range({ lt: floorTo(Date.parse(p.before), HOUR_MS) }),
          ],
        },
      })),
      minimum_should_match: 1,
    },
  };
}

/** The periods starting at `starts` (ascending) of length `every` as ranges, neighbours merged. */
export function periodRanges(starts: number[], every: number): { gte: number; lt: number }[] {
  const out: { gte: number; lt: number }[] = [];
  for (const h of starts) {
    const last = out.at(-1);
    if (last && last.lt >= h) last.lt = Math.max(last.lt, h + every);
    else out.push({ gte: h, lt: h + every });
  }
  return out;
}

const inPeriods = (starts: number[], every: number): Clause[] => periodRanges(starts, every).map(range);

/** The start of the period of `every` holding each of `hours`, once each, ascending. */
export const periodsOf = (hours: number[], every: number): number[] => [
  ...new Set(hours.map((h) => floorTo(h, every))),
];

/** A row document: the tenant, the period, the key fields (absent ones left out) and the count. */
export function rowDocument(
  tenant: string,
  kind: RowKind,
  key: Record<string, unknown>,
  count: number,
): { id: string; doc: Record<string, unknown> } {
  const period = key.period as number;
  const doc: Record<string, unknown> = {
    [TENANT_FIELD]: tenant,
    "@timestamp": new Date(period).toISOString(),
    [KIND_FIELD]: kind,
    [COUNT_FIELD]: count,
  };
  const { keys } = ROW_KINDS[kind];
  const values = keys.map((f) => key[f] ?? null);
  keys.forEach((f, i) => {
    if (values[i] !== null) doc[f] = values[i];
  });
  // One id per tenant, period, kind and key: a recounted row replaces the one before.
  const id = createHash("sha256")
    .update(JSON.stringify([tenant, period, kind, ...values]))
    .digest("base64url")
    .slice(0, 22);
  return { id, doc };
}

/**
 * The whole hours and days of a summary's window that rows may answer: from the later of `from`,
 * the retention cut-off and the newest purge cut-off, to `to`. Undefined without a whole hour.
 */
export function rollupSpans(
  window: { from: number; to: number },
  since: string | null,
  purgedBefore: string | null,
): { hours: Span; days?: Span } | undefined {
  const starts = [window.from, since ? Date.parse(since) : 0, purgedBefore ? Date.parse(purgedBefore) : 0];
  const hours = { lo: ceilTo(Math.max(...starts), HOUR_MS), hi: floorTo(window.to, HOUR_MS) };
  if (hours.hi <= hours.lo) return undefined;
  const days = { lo: ceilTo(hours.lo, DAY_MS), hi: floorTo(hours.hi, DAY_MS) };
  return days.hi > days.lo ? { hours, days } : { hours };
}

/**
 * The documents of a summary read with `plan`: the events no daily row stands for (outside the
 * whole days, or in a dirty day), hourly rows of clean whole hours, daily rows of clean whole
 * days. Each kind's aggregations then take their part (countedBy): every event counted once.
 * A series reads one daily kind: `kinds` limits the rows to it.
 */
export function splitClause(plan: RollupPlan, kinds: readonly RowKind[] = ALL_KINDS): Clause {
  const daily = kinds.filter((k) => ROW_KINDS[k].every === DAY_MS);
  const rows = (kinds: RowKind[], span: Span, dirty: number[], every: number): Clause => ({
    bool: {
      filter: [{ terms: { [KIND_FIELD]: kinds } }, range({ gte: span.lo, lt: span.hi })],
      must_not: inPeriods(dirty, every),
    },
  });
  const events: Clause = plan.days
    ? {
        bool: {
          filter: [EVENT],
          should: outside(plan.days, plan.dirtyDays, DAY_MS),
          minimum_should_match: 1,
        },
      }
    : EVENT;
  return {
    bool: {
      should: [
        events,
        ...(kinds.includes("hourly") ? [rows(["hourly"], plan.hours, plan.dirtyHours, HOUR_MS)] : []),
        ...(plan.days && daily.length ? [rows(daily, plan.days, plan.dirtyDays, DAY_MS)] : []),
      ],
      minimum_should_match: 1,
    },
  };
}

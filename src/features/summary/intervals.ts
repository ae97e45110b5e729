/**
 * @module features/summary/intervals
 * Histogram intervals: the contract's list, how OpenSearch names each (fixed for minutes to days,
 * calendar for weeks and months, both aligned in UTC), and the default for a window.
 */

export const INTERVALS = ["1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "1w", "1M"] as const;
export type Interval = (typeof INTERVALS)[number];

const MS: Record<Interval, number> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "30m": 1_800_000,
  "1h": 3_600_000,
  "3h": 10_800_000,
  "6h": 21_600_000,
  "12h": 43_200_000,
  "1d": 86_400_000,
  "1w": 604_800_000,
  "1M": 2_629_746_000, // an average month; only used to choose a default
};

export const MAX_DEFAULT_BUCKETS = 200;

export const intervalMs = (i: Interval): number => MS[i];

/** `fixed_interval` or `calendar_interval`, as date_histogram wants it. */
export function histogramInterval(i: Interval): { fixed_interval: string } | { calendar_interval: string } {
  return i === "1w" || i === "1M" ? { calendar_interval: i } : { fixed_interval: i };
}

/** The smallest interval that cuts the window into at most ~200 buckets. */
export function defaultInterval(windowMs: number): Interval {
  return INTERVALS.find((i) => Math.ceil(windowMs / MS[i]) <= MAX_DEFAULT_BUCKETS) ?? "1M";
}

export function isInterval(v: string): v is Interval {
  return (INTERVALS as readonly string[]).includes(v);
}

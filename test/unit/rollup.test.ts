import { describe, expect, it } from "vitest";
import {
  laterIndexPatterns,
  periodRanges,
  periodsOf,
  rollupSpans,
  rowDocument,
} from "../../src/features/summary/rollup.query.ts";
import { backingIndex, reachable } from "../../src/opensearch/progress.ts";

const H = 3_600_000;
/** OpenSearch's wildcard: `?` one character, `*` any run of them. */
const matches = (pattern: string, name: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\-]/g, "\\$&")
      .replace(/\?/g, ".")
      .replace(/\*/g, ".*")}$`,
  ).test(name);

describe("laterIndexPatterns", () => {
  const gens = [
    ...Array.from({ length: 1200 }, (_, i) => i + 1),
    9_999,
    10_000,
    10_001,
    99_999,
    123_455,
    123_456,
    123_457,
    999_998,
    999_999,
    1_000_000,
    1_234_567,
  ];
  it.each([1, 9, 10, 42, 99, 100, 909, 1000, 123_456, 999_998, 999_999])(
    "matches exactly the generations after %d",
    (gen) => {
      const patterns = laterIndexPatterns("audit-events", gen);
      for (const g of gens) {
        const name = backingIndex("audit-events", g);
        expect(
          patterns.some((p) => matches(p, name)),
          name,
        ).toBe(g > gen);
      }
    },
  );
});

describe("rollupSpans", () => {
  const day = Date.UTC(2026, 10, 25);
  const D = 24 * H;
  it("takes whole hours and whole days from the window", () => {
    expect(rollupSpans({ from: day + 30 * 60_000, to: day + 5 * H + 1 }, null, null)).toEqual({
      hours: { lo: day + H, hi: day + 5 * H },
    });
    expect(rollupSpans({ from: day - 2 * H - 1, to: day + 2 * D + 3 * H }, null, null)).toEqual({
      hours: { lo: day - 2 * H, hi: day + 2 * D + 3 * H },
      days: { lo: day, hi: day + 2 * D },
    });
  });
  it("starts after the retention cut-off and after the newest purge cut-off", () => {
    const since = new Date(day + 2 * H + 1).toISOString();
    expect(rollupSpans({ from: day, to: day + 9 * H }, since, null)?.hours.lo).toBe(day + 3 * H);
    const purged = new Date(day + 4 * H).toISOString();
    expect(rollupSpans({ from: day, to: day + 3 * D }, since, purged)).toEqual({
      hours: { lo: day + 4 * H, hi: day + 3 * D },
      days: { lo: day + D, hi: day + 3 * D },
    });
  });
  it("is undefined without a whole hour", () => {
    expect(rollupSpans({ from: day + 1, to: day + H + 1 }, null, null)).toBeUndefined();
    expect(rollupSpans({ from: day, to: day }, null, null)).toBeUndefined();
  });
});

describe("rollup rows", () => {
  it("merges neighbouring periods into ranges, and finds the days of hours", () => {
    expect(periodsOf([H, 2 * H, 25 * H, 49 * H], 24 * H)).toEqual([0, 24 * H, 48 * H]);
    expect(periodRanges([0, 24 * H, 72 * H], 24 * H)).toEqual([
      { gte: 0, lt: 48 * H },
      { gte: 72 * H, lt: 96 * H },
    ]);
    expect(periodRanges([0, H, 2 * H, 5 * H, 7 * H, 8 * H], H)).toEqual([
      { gte: 0, lt: 3 * H },
      { gte: 5 * H, lt: 6 * H },
      { gte: 7 * H, lt: 9 * H },
    ]);
    expect(periodRanges([], H)).toEqual([]);
  });

  it("one id per tenant, period, kind and key; absent keys left out of the row", () => {
    const key = {
      period: H,
      "event.action": "read",
      "event.outcome": "failure",
      "scaivault.identity.type": "user",
      "error.code": null,
    };
    const a = rowDocument("acme", "totals", key, 7);
    expect(a.doc).toEqual({
      "scaivault.tenant": "acme",
      "@timestamp": "1970-01-01T01:00:00.000Z",
      "scaivault.rollup.kind": "totals",
      "scaivault.rollup.count": 7,
      "event.action": "read",
      "event.outcome": "failure",
      "scaivault.identity.type": "user",
    });
    expect(rowDocument("acme", "totals", key, 9).id).toBe(a.id);
    expect(rowDocument("other", "totals", key, 7).id).not.toBe(a.id);
    expect(rowDocument("acme", "totals", { ...key, period: 2 * H }, 7).id).not.toBe(a.id);
    expect(rowDocument("acme", "totals", { ...key, "error.code": "not_found" }, 7).id).not.toBe(a.id);
  });
});

describe("reachable", () => {
  const index = (gen: number, shards: [number, number][]) => ({
    name: backingIndex("audit-events", gen),
    gen,
    shards: shards.map(([checkpoint, max]) => ({ checkpoint, max })),
  });
  it("goes through complete indices to the newest one's checkpoints", () => {
    expect(reachable([index(3, [[9, 9]]), index(4, [[4, 6]])], { gen: 3, seq: [2] })).toEqual({
      gen: 4,
      seq: [5],
    });
  });
  it("stops at an older index still being written to", () => {
    expect(reachable([index(3, [[7, 9]]), index(4, [[4, 4]])], { gen: 3, seq: [2] })).toEqual({
      gen: 3,
      seq: [8],
    });
  });
  it("from nothing, and per shard", () => {
    expect(
      reachable(
        [
          index(1, [
            [-1, -1],
            [3, 3],
          ]),
        ],
        null,
      ),
    ).toEqual({ gen: 1, seq: [0, 4] });
  });
});

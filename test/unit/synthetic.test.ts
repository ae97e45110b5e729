import { describe, expect, it } from "vitest";
import { take } from "../../scripts/synthetic.ts";
import { IngestEventSchema } from "../../src/events/event.schema.ts";

const opts = { seed: 7, tenant: "acme", days: 30, end: new Date("2026-11-26T00:00:00Z") };

describe("synthetic events", () => {
  const events = take(5000, opts);

  it("are valid API events", () => {
    for (const e of events) {
      const r = IngestEventSchema.safeParse(e);
      if (!r.success) throw new Error(`${JSON.stringify(e)}: ${JSON.stringify(r.error.issues)}`);
    }
  });

  it("are reproducible from the seed, and differ with another seed", () => {
    expect(take(200, opts)).toEqual(events.slice(0, 200));
    expect(take(200, { ...opts, seed: 8 })).not.toEqual(events.slice(0, 200));
  });

  it("look like a vault's traffic: every identity type, mostly reads, some failures, IPv4 and IPv6, unique ids", () => {
    const share = (f: (e: any) => boolean) => events.filter(f).length / events.length;
    expect(new Set(events.map((e: any) => e.identity.type))).toEqual(
      new Set(["user", "service_account", "group"]),
    );
    expect(share((e) => e.action === "read")).toBeGreaterThan(0.5);
    expect(new Set(events.map((e: any) => e.action)).size).toBeGreaterThanOrEqual(12);
    expect(share((e) => !e.success)).toBeGreaterThan(0.01);
    expect(share((e) => !e.success)).toBeLessThan(0.2);
    expect(share((e) => String(e.source_ip).includes(":"))).toBeGreaterThan(0.01);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) {
      const t = Date.parse(e.timestamp as string);
      expect(t).toBeGreaterThanOrEqual(opts.end.getTime() - 30 * 86_400_000);
      expect(t).toBeLessThan(opts.end.getTime());
    }
  });
});

import { afterAll, describe, expect, it } from "vitest";
import { seed } from "../../scripts/seed.ts";
import { bootstrap, loadAssets } from "../../src/opensearch/bootstrap.ts";
import { testClient } from "../support/opensearch.ts";

const client = testClient();
afterAll(() => client.close());

describe("npm run seed", () => {
  it("writes the requested number of events across tenants, and a second run with the same seed adds nothing", async () => {
    await bootstrap(client, await loadAssets());
    const opts = {
      events: 3000,
      tenants: 3,
      days: 10,
      seed: 1234,
      end: new Date("2026-06-01T00:00:00Z"),
      chunk: 700,
    };
    const first = await seed(client, opts);
    expect(first.written).toBe(3000);
    const again = await seed(client, opts);
    expect(again.tenants).toEqual(first.tenants);
    await client.indices.refresh({ index: "audit-events" });
    const res = await client.search({
      index: "audit-events",
      body: {
        size: 0,
        query: { terms: { "scaivault.tenant": first.tenants } },
        aggs: { tenants: { terms: { field: "scaivault.tenant", size: 10 } } },
      } as never, // the client's aggregation types lag the API
    });
    const aggs = res.body.aggregations as unknown as {
      tenants: { buckets: { key: string; doc_count: number }[] };
    };
    const buckets = aggs.tenants.buckets;
    expect(buckets.reduce((s, b) => s + b.doc_count, 0)).toBe(3000);
    expect(buckets).toHaveLength(3);
    // The first tenant is the biggest, as in real fleets.
    expect(buckets[0]?.key).toBe(first.tenants[0]);
  });
});

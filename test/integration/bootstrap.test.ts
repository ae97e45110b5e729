import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { bootstrap, loadAssets } from "../../src/opensearch/bootstrap.ts";
import { testClient } from "../support/opensearch.ts";

const client = testClient();
afterAll(() => client.close());

describe("bootstrap against a real OpenSearch", async () => {
  const assets = await loadAssets();

  it("is idempotent: running it twice installs the same things and fails on nothing", async () => {
    const first = await bootstrap(client, assets);
    const second = await bootstrap(client, assets);
    expect(second).toEqual(first);
    expect(first.templates).toEqual(["audit-events"]);
    expect(first.dataStreams).toEqual(["audit-events"]);
  });

  it("installs the index template as OpenSearch reports it", async () => {
    await bootstrap(client, assets);
    const res = await client.indices.getIndexTemplate({ name: "audit-events" });
    const t = res.body.index_templates[0]?.index_template as Record<string, any>;
    expect(t.index_patterns).toEqual(["audit-events"]);
    expect(t.template.mappings.dynamic).toBe("strict");
    expect(t.template.mappings.properties["@timestamp"].type).toBe("date_nanos");
  });

  it("creates the data stream, whose backing index is sorted newest first and rejects unknown fields", async () => {
    await bootstrap(client, assets);
    const ds = await client.indices.getDataStream({ name: "audit-events" });
    const stream = ds.body.data_streams[0];
    expect(stream?.timestamp_field.name).toBe("@timestamp");
    const backing = stream?.indices[0]?.index_name as string;
    const settings = await client.indices.getSettings({ index: backing, flat_settings: true });
    const s = settings.body[backing]?.settings as Record<string, unknown>;
    expect(s["index.sort.field"]).toEqual(["@timestamp", "event.id"]);
    expect(s["index.sort.order"]).toEqual(["desc", "desc"]);

    // Strict mapping: a stray field is an error, not a guess.
    await expect(
      client.index({
        index: "audit-events",
        op_type: "create",
        body: { "@timestamp": "2026-11-26T14:30:05.123456Z", surprise: 1 },
      }),
    ).rejects.toMatchObject({ meta: { statusCode: 400 } });
  });

  it("keeps microseconds exact in @timestamp (date_nanos)", async () => {
    await bootstrap(client, assets);
    const id = randomUUID();
    await client.index({
      index: "audit-events",
      op_type: "create",
      id,
      refresh: true,
      body: { "@timestamp": "2026-11-26T14:30:05.123456Z", event: { id }, scaivault: { tenant: `t-${id}` } },
    });
    const res = await client.search({
      index: "audit-events",
      body: {
        query: { term: { "event.id": id } },
        sort: [{ "@timestamp": "desc" }],
        docvalue_fields: [{ field: "@timestamp", format: "strict_date_optional_time_nanos" }],
      },
    });
    const hit = res.body.hits.hits[0] as any;
    expect(hit.fields["@timestamp"][0]).toBe("2026-11-26T14:30:05.123456Z");
    // The sort value is nanoseconds since the epoch: beyond 2^53, so it must arrive unrounded.
    const expected = BigInt(Date.parse("2026-11-26T14:30:05.123Z")) * 1_000_000n + 456_000n;
    expect(typeof hit.sort[0]).not.toBe("number");
    expect(BigInt(hit.sort[0])).toBe(expected);
  });

  it("reports whether lifecycle policies could be installed, from the cluster's own plugin list", async () => {
    const result = await bootstrap(client, assets);
    const info = await client.nodes.info({ metric: ["plugins"] });
    const nodes = Object.values(info.body.nodes) as { plugins: { name: string }[] }[];
    const hasIsm = nodes.every((n) => n.plugins.some((p) => p.name === "opensearch-index-management"));
    expect(result.lifecycle.mode).toBe(hasIsm ? "ism" : "unavailable");
    if (hasIsm) {
      const explain = await client.ism.explainPolicy({ index: ".ds-audit-events-*" });
      expect(JSON.stringify(explain.body)).toContain("audit-events-lifecycle");
    }
  });
});

describe("the node's modules", () => {
  it("has reindex loaded, so delete-by-query (retention purges) works", async () => {
    const info = await client.nodes.info({ metric: ["plugins"] });
    for (const node of Object.values(info.body.nodes) as { modules: { name: string }[] }[]) {
      expect(node.modules.map((m) => m.name)).toEqual(
        expect.arrayContaining(["reindex", "lang-painless", "analysis-common", "mapper-extras"]),
      );
    }
    const index = `dbq-${randomUUID()}`;
    await client.indices.create({ index });
    await client.bulk({
      refresh: true,
      body: [{ index: { _index: index } }, { n: 1 }, { index: { _index: index } }, { n: 2 }],
    });
    const res = await client.deleteByQuery({ index, refresh: true, body: { query: { term: { n: 1 } } } });
    expect((res.body as { deleted?: number }).deleted).toBe(1);
    expect((await client.count({ index })).body.count).toBe(1);
    await client.indices.delete({ index });
  });
});

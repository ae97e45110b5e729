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
    expect(first.templates).toEqual([
      "audit-events",
      "scaivault-destinations",
      "scaivault-exports",
      "scaivault-integrity",
      "scaivault-rollup",
      "scaivault-tenants",
    ]);
    expect(first.dataStreams).toEqual(["audit-events"]);
    expect(first.indices).toEqual([
      "scaivault-destinations",
      "scaivault-exports",
      "scaivault-integrity",
      "scaivault-rollup",
      "scaivault-tenants",
    ]);
    expect(first.coldAfterDays).toBe(90);
    for (const index of first.indices) {
      const mapping = await client.indices.getMapping({ index });
      expect(mapping.body[index]?.mappings.dynamic, index).toBe("strict");
    }
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

  it("keeps microseconds exact in @timestamp (date_nanos), in doc values and in search_after", async () => {
    await bootstrap(client, assets);
    const tenant = `t-${randomUUID()}`;
    const stamps = [
      "2026-11-26T14:30:05.123455Z",
      "2026-11-26T14:30:05.123456Z",
      "2026-11-26T14:30:05.123457Z",
    ];
    for (const [i, ts] of stamps.entries()) {
      await client.index({
        index: "audit-events",
        op_type: "create",
        refresh: true,
        body: { "@timestamp": ts, event: { id: `e${i}` }, scaivault: { tenant } },
      });
    }
    const search = (after?: string[]) =>
      client.search({
        index: "audit-events",
        body: {
          query: { term: { "scaivault.tenant": tenant } },
          sort: [{ "@timestamp": "desc" }, { "event.id": "desc" }],
          docvalue_fields: [{ field: "@timestamp", format: "strict_date_optional_time_nanos" }],
          ...(after ? { search_after: after } : {}),
        } as never,
      });
    const all = (await search()).body.hits.hits as any[];
    expect(all.map((h) => h.fields["@timestamp"][0])).toEqual([...stamps].reverse());
    // A date string in search_after is exact to the microsecond: one microsecond apart, nothing skipped or repeated.
    const after = (await search(["2026-11-26T14:30:05.123456Z", "e1"])).body.hits.hits as any[];
    expect(after.map((h) => h.fields["@timestamp"][0])).toEqual(["2026-11-26T14:30:05.123455Z"]);
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

describe("a template upgrade", () => {
  it("rolls the data stream over when its write index has an older mapping version, once", async () => {
    const name = `upgrade-${randomUUID().slice(0, 8)}`;
    const template = (version: number, fields: Record<string, unknown>) => ({
      name,
      body: {
        index_patterns: [name],
        data_stream: { timestamp_field: { name: "@timestamp" } },
        priority: 900,
        template: {
          settings: { index: { number_of_shards: 1, number_of_replicas: 0 } },
          mappings: {
            dynamic: "strict",
            _meta: { version },
            properties: { "@timestamp": { type: "date_nanos" }, ...fields },
          },
        },
      },
    });
    const backing = async () =>
      (await client.indices.getDataStream({ name })).body.data_streams[0]?.indices.map((i) => i.index_name) ??
      [];

    await bootstrap(client, { templates: [template(1, {})], policies: [] });
    expect(await backing()).toHaveLength(1);
    // Version 2 adds a field: the old write index (strict) would refuse documents carrying it.
    await bootstrap(client, { templates: [template(2, { added: { type: "keyword" } })], policies: [] });
    expect(await backing()).toHaveLength(2);
    await client.index({
      index: name,
      op_type: "create",
      body: { "@timestamp": "2026-11-26T00:00:00Z", added: "ok" },
      refresh: true,
    });
    // Idempotent: a second start with the same version does not roll over again.
    await bootstrap(client, { templates: [template(2, { added: { type: "keyword" } })], policies: [] });
    expect(await backing()).toHaveLength(2);
    await client.indices.deleteDataStream({ name });
    await client.indices.deleteIndexTemplate({ name });
  });
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadAssets, PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";

type Props = Record<string, { type?: string; properties?: Props }>;

/** Every field path the template maps, e.g. "event.action". */
function mappedFields(props: Props, prefix = ""): string[] {
  return Object.entries(props).flatMap(([name, def]) =>
    def.properties ? mappedFields(def.properties, `${prefix}${name}.`) : [`${prefix}${name}`],
  );
}

describe("OpenSearch Dashboards saved objects", async () => {
  const objects = readFileSync(path.join(PROJECT_ROOT, "dashboards", "scaivault-audit.ndjson"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const template = (await loadAssets()).templates.find((t) => t.name === "audit-events")?.body as any;
  const fields = new Set(mappedFields(template.template.mappings.properties));

  it("define an index pattern on the data stream with @timestamp as its time field", () => {
    const ip = objects.find((o) => o.type === "index-pattern");
    expect(ip.attributes).toEqual({ title: "audit-events", timeFieldName: "@timestamp" });
  });

  it("reference only fields the index template maps, and only the index pattern shipped", () => {
    const ipId = objects.find((o) => o.type === "index-pattern").id;
    for (const o of objects.filter((x) => x.type !== "index-pattern")) {
      expect(o.references.map((r: { id: string }) => r.id)).toEqual([ipId]);
      const used: string[] = [...(o.attributes.columns ?? [])];
      const source = JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
      used.push(...[...String(source.query.query).matchAll(/([\w@.]+):/g)].map((m) => m[1] as string));
      if (o.attributes.visState) {
        for (const agg of JSON.parse(o.attributes.visState).aggs)
          if (agg.params.field) used.push(agg.params.field);
      }
      for (const f of used) expect(fields, `${o.id} uses ${f}`).toContain(f);
    }
  });
});

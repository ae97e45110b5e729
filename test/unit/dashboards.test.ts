import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadAssets, PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";

type FieldDef = { type?: string; doc_values?: boolean; index?: boolean; properties?: Props };
type Props = Record<string, FieldDef>;
type Ref = { name: string; type: string; id: string };
type SavedObject = { type: string; id: string; attributes: any; references: Ref[] };
type Agg = { type: string; schema: string; params: { field?: string } };

/** Every field path the template maps, e.g. "event.action", with its definition. */
function mappedFields(props: Props, prefix = ""): [string, FieldDef][] {
  return Object.entries(props).flatMap(([name, def]) =>
    def.properties ? mappedFields(def.properties, `${prefix}${name}.`) : [[`${prefix}${name}`, def]],
  );
}

/** Types a terms aggregation can bucket on (with doc values). */
const AGGREGATABLE = new Set(["keyword", "ip", "date", "date_nanos", "long", "integer", "short", "boolean"]);
const DATES = new Set(["date", "date_nanos"]);

/** The fields a KQL query names (`field:value`). */
const queryFields = (query: string) => [...query.matchAll(/([\w@.]+):/g)].map((m) => m[1] as string);

describe("OpenSearch Dashboards saved objects", async () => {
  const lines = readFileSync(path.join(PROJECT_ROOT, "dashboards", "scaivault-audit.ndjson"), "utf8")
    .trim()
    .split("\n");
  const objects: SavedObject[] = lines.map((l) => JSON.parse(l));
  const template = (await loadAssets()).templates.find((t) => t.name === "audit-events")?.body as any;
  const fields = new Map(mappedFields(template.template.mappings.properties));
  const byId = new Map(objects.map((o) => [o.id, o]));
  const ofType = (type: string) => objects.filter((o) => o.type === type);
  const ipId = ofType("index-pattern")[0]?.id;
  const visState = (o: SavedObject) => JSON.parse(o.attributes.visState) as { type: string; aggs: Agg[] };
  const source = (o: SavedObject) => JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
  const dashboard = ofType("dashboard")[0] as SavedObject;
  const panels = JSON.parse(dashboard.attributes.panelsJSON) as {
    panelRefName: string;
    panelIndex: string;
    gridData: { x: number; y: number; w: number; h: number; i: string };
  }[];
  /** The objects the panels show (a panel whose reference is missing shows none: see its test). */
  const panelObjects = panels.flatMap((p) => {
    const ref = dashboard.references.find((r) => r.name === p.panelRefName);
    const o = ref && byId.get(ref.id);
    return o ? [o] : [];
  });

  it("are one JSON object per line, each with a unique id", () => {
    expect(lines.length).toBe(objects.length);
    expect(new Set(objects.map((o) => o.id)).size).toBe(objects.length);
  });

  it("define an index pattern on the data stream with @timestamp as its time field", () => {
    expect(ofType("index-pattern")).toHaveLength(1);
    expect(byId.get(ipId as string)?.attributes).toEqual({
      title: AUDIT_STREAM,
      timeFieldName: "@timestamp",
    });
  });

  it("resolve every reference to an object in the file of the type it names", () => {
    const refs = objects.flatMap((o) => o.references.map((r) => [o.id, r] as const));
    expect(refs.length).toBeGreaterThan(0);
    for (const [from, r] of refs) {
      expect(byId.get(r.id), `${from} → ${r.id}`).toBeDefined();
      expect(byId.get(r.id)?.type, `${from} → ${r.id}`).toBe(r.type);
    }
  });

  it("point searches and visualizations at the index pattern shipped, through indexRefName", () => {
    const sourced = objects.filter((o) => o.type === "search" || o.type === "visualization");
    expect(sourced.length).toBeGreaterThan(0);
    for (const o of sourced) {
      expect(o.references, o.id).toEqual([
        { name: "kibanaSavedObjectMeta.searchSourceJSON.index", type: "index-pattern", id: ipId },
      ]);
      expect(source(o).indexRefName, o.id).toBe("kibanaSavedObjectMeta.searchSourceJSON.index");
    }
  });

  it("use only fields the index template maps, and aggregate only on aggregatable ones", () => {
    const sourced = objects.filter((o) => o.type === "search" || o.type === "visualization");
    let aggregated = 0;
    for (const o of sourced) {
      const used: string[] = [...(o.attributes.columns ?? []), ...queryFields(String(source(o).query.query))];
      used.push(...(o.attributes.sort ?? []).map((s: string[]) => s[0]));
      for (const f of used) expect(fields.has(f), `${o.id} uses ${f}`).toBe(true);
      if (o.type !== "visualization") continue;
      for (const agg of visState(o).aggs) {
        if (agg.type === "count") continue;
        const def = fields.get(agg.params.field ?? "");
        expect(def, `${o.id} aggregates on ${agg.params.field}`).toBeDefined();
        expect(AGGREGATABLE.has(def?.type ?? ""), `${o.id}: ${agg.params.field} is ${def?.type}`).toBe(true);
        expect(def?.doc_values, `${o.id}: ${agg.params.field} has no doc values`).not.toBe(false);
        if (agg.type === "date_histogram") expect(DATES.has(def?.type ?? ""), o.id).toBe(true);
        aggregated++;
      }
    }
    expect(aggregated).toBeGreaterThan(0);
  });

  it("give the dashboard a reference for every panel, and a panel for every reference", () => {
    expect(ofType("dashboard")).toHaveLength(1);
    expect(dashboard.attributes.title).toBe("ScaiVault: audit overview");
    expect(panels.length).toBeGreaterThanOrEqual(4);
    expect(panels.map((p) => p.panelRefName).sort()).toEqual(dashboard.references.map((r) => r.name).sort());
    expect(new Set(panels.map((p) => p.panelIndex)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridData.i).toBe(p.panelIndex);
      expect(p.gridData.x + p.gridData.w, p.panelRefName).toBeLessThanOrEqual(48);
    }
    expect(JSON.parse(dashboard.attributes.optionsJSON)).toBeTypeOf("object");
    expect(source(dashboard).query).toEqual({ query: "", language: "kuery" });
  });

  it("compose events over time by action, failures, top identities and top source IPs", () => {
    const aggsOf = (o: SavedObject) => (o.type === "visualization" ? visState(o).aggs : []);
    const terms = (o: SavedObject, field: string) =>
      aggsOf(o).some((a) => a.type === "terms" && a.params.field === field);
    const overTime = (o: SavedObject) =>
      aggsOf(o).some((a) => a.type === "date_histogram" && a.params.field === "@timestamp");
    const failures = (o: SavedObject) => /event\.outcome:\s*"?failure"?/.test(String(source(o).query.query));

    expect(panelObjects.some((o) => overTime(o) && terms(o, "event.action"))).toBe(true);
    expect(panelObjects.some((o) => o.type === "visualization" && failures(o))).toBe(true);
    expect(panelObjects.some((o) => terms(o, "user.id"))).toBe(true);
    expect(panelObjects.some((o) => terms(o, "source.ip"))).toBe(true);
  });
});

describe("The tenant analyst role (dashboards/tenant-analyst-role.json)", async () => {
  const role = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, "dashboards", "tenant-analyst-role.json"), "utf8"),
  );
  const template = (await loadAssets()).templates.find((t) => t.name === "audit-events")?.body as any;
  const fields = new Map(mappedFields(template.template.mappings.properties));

  it("grants read only, on the audit data stream and its backing indices", () => {
    expect(role.index_permissions).toHaveLength(1);
    const [perm] = role.index_permissions;
    expect(perm.index_patterns).toEqual([AUDIT_STREAM, `.ds-${AUDIT_STREAM}-*`]);
    expect(perm.allowed_actions).toEqual(["read"]);
    expect(role.cluster_permissions).toEqual(["cluster_composite_ops_ro"]);
  });

  it("restricts documents with a term query on scaivault.tenant, a keyword field", () => {
    const dls = JSON.parse(role.index_permissions[0].dls);
    expect(Object.keys(dls)).toEqual(["term"]);
    expect(Object.keys(dls.term)).toEqual(["scaivault.tenant"]);
    expect(dls.term["scaivault.tenant"]).toBeTypeOf("string");
    expect(fields.get("scaivault.tenant")?.type).toBe("keyword");
  });

  it("gives the analysts their own Dashboards tenant, read-only", () => {
    const dlsTenant = JSON.parse(role.index_permissions[0].dls).term["scaivault.tenant"];
    expect(role.tenant_permissions).toEqual([
      { tenant_patterns: [dlsTenant], allowed_actions: ["kibana_all_read"] },
    ]);
  });
});

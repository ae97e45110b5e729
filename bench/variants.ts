/**
 * `npm run bench:variants [-- --events 1000000] [--iterations 100] [--variants a,b]`
 * The experiments behind the index design: the stream's events copied into indices that differ
 * from the service's template in one respect each, and the pages and trails of `npm run bench`
 * timed on each of them, on the stream and on the naive index, interleaved, request cache off; also
 * the stream's fetch without stored fields (`#none`: what the fetch phase costs) and from doc
 * values (`#dv`). Same cluster and data folder as `npm run bench` at that size; copies are kept.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { eventsSearch } from "../src/features/query/query.query.ts";
import { FILTER_PARAMS, type Filters, parseQuery } from "../src/filters/filters.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../src/tenancy/retention.ts";
import { copyStream, ensureNaive, NAIVE_INDEX, naiveBody } from "./naive.ts";
import { questions } from "./parts/query.ts";
import { sizeLabel } from "./report.ts";
import { benchEnv, ensureSeeded, percentile } from "./support.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    iterations: { type: "string", default: "100" },
    variants: { type: "string", default: "" },
  },
});

type Json = Record<string, unknown>;
const template = JSON.parse(
  await readFile(new URL("../index-templates/audit-events.json", import.meta.url), "utf8"),
) as { template: { settings: { index: Json }; mappings: Json } };

function noDocValues(mappings: Json, paths: string[]): void {
  for (const path of paths) {
    let node = mappings;
    for (const part of path.split(".")) node = (node.properties as Json)[part] as Json;
    node.doc_values = false;
  }
}

/** Each changes the template's index settings or mappings in one respect. */
const VARIANTS: Record<string, (s: Json, m: Json) => void> = {
  // Mapping version 2: DEFLATE stored fields, and the text copy left out of _source (which made
  // OpenSearch keep a full recovery copy of each document beside the filtered one).
  "v2-design": (s, m) => {
    s.codec = "best_compression";
    m._source = { excludes: ["scaivault.text"] };
  },
  "best-compression": (s) => {
    s.codec = "best_compression";
  },
  unsorted: (s) => {
    delete s["sort.field"];
    delete s["sort.order"];
  },
  // No doc values for the session id either (v4 dropped them for the request id): filtered on,
  // never aggregated or sorted by the service, but an aggregation analysts may want in Dashboards.
  "lean-doc-values": (_s, m) => noDocValues(m, ["scaivault.session.id"]),
  // Two shards on the one node: a page's query phase runs on both cores, then merges.
  "two-shards": (s) => {
    s.number_of_shards = 2;
  },
  "tenant-first": (s) => {
    s["sort.field"] = ["scaivault.tenant", "@timestamp", "event.id"];
    s["sort.order"] = ["asc", "desc", "desc"];
  },
};
const DV_FIELDS = [
  { field: "@timestamp", format: "uuuu-MM-dd'T'HH:mm:ss.SSSSSSX" },
  ...["event.id", "event.action", "event.outcome", "event.duration", "user.id", "scaivault.path"],
  ...["scaivault.identity.type", "scaivault.session.id", "source.ip", "user_agent.original"],
  // Not http.request.id: it has no doc values since mapping v4 (another reason pages read _source).
  ...["http.request.method", "http.response.status_code", "error.code"],
];

const events = Number(values.events);
const env = await benchEnv({}, "lifted", { dataDir: path.resolve(".data/bench", sizeLabel(events)) });
const client = createOpenSearchClient({ url: env.opensearchUrl, requestTimeoutMs: 3_600_000 });
const END = new Date("2026-11-26T00:00:00Z");
const total = await ensureSeeded(client, events, END);
await ensureNaive(client);

const chosen = values.variants ? values.variants.split(",") : Object.keys(VARIANTS);
const indices: Record<string, string> = { stream: AUDIT_STREAM, naive: NAIVE_INDEX };
for (const name of chosen) {
  const change = VARIANTS[name];
  if (!change) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(", ")}`);
  const { auto_expand_replicas: _, ...settings } = structuredClone(template.template.settings.index);
  const mappings = structuredClone(template.template.mappings);
  change(settings, mappings);
  indices[name] = `bench-variant-${name}`;
  await copyStream(client, indices[name], {
    settings: { index: { ...settings, number_of_replicas: 0 } },
    mappings,
  });
}

const sizes = [];
for (const [name, index] of Object.entries(indices)) {
  const st = await client.indices.stats({ index, metric: "store" });
  sizes.push(`${name} ${((st.body._all.primaries.store?.size_in_bytes ?? 0) / 1e6).toFixed(0)} MB`);
}
console.log(`${total} events, ${values.iterations} iterations; store: ${sizes.join(" · ")}\n`);

const now = new Date();
const scope = { id: "acme", since: cutoff(DEFAULT_RETENTION_DAYS, now) };
for (const q of questions(END).filter((q) => !q.skip)) {
  const filters: Filters = {
    ...parseQuery(new URLSearchParams(q.qs), { allowed: FILTER_PARAMS, now }).filters,
    ...q.fixed,
  };
  const body = eventsSearch(scope, filters, { limit: 100 });
  const sides: Record<string, [string, unknown]> = {};
  for (const [name, index] of Object.entries(indices))
    sides[name] = [index, name === "naive" ? naiveBody(body) : body];
  sides["stream#none"] = [AUDIT_STREAM, { ...body, stored_fields: "_none_" }];
  sides["stream#dv"] = [AUDIT_STREAM, { ...body, stored_fields: "_none_", docvalue_fields: DV_FIELDS }];
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  const names = Object.keys(sides);
  for (let i = 0; i < Number(values.iterations) + 10; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length] as string;
      const [index, b] = sides[name] as [string, unknown];
      const t = performance.now();
      const res = await fetch(`${env.opensearchUrl}/${index}/_search?request_cache=false`, {
        method: "POST",
        body: JSON.stringify(b),
        headers: { "Content-Type": "application/json" },
      });
      if (res.status !== 200) throw new Error(`${name}: ${(await res.text()).slice(0, 300)}`);
      await res.json();
      if (i >= 10) times[name]?.push(performance.now() - t);
    }
  }
  console.log(
    `${q.name.padEnd(26)} ${names.map((n) => `${n} ${percentile(times[n] as number[], 50).toFixed(1)}`).join(" | ")}`,
  );
}
await client.close();
await env.close();

/**
 * The baseline a team would otherwise build: the same documents shipped into OpenSearch as a
 * Fluent Bit or Logstash pipeline does — one index, default dynamic mappings (every string a `text`
 * with a `.keyword` copy, `@timestamp` a millisecond `date`), default codec, no index sorting — and
 * the same questions asked of it the way such a team would ask them.
 */
import type { Client } from "@opensearch-project/opensearch";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";

export const NAIVE_INDEX = "bench-naive-events";

/** String fields the service maps as keywords: dynamic mapping leaves them `text` with `.keyword`. */
const KEYWORDS = new Set([
  "event.id",
  "event.action",
  "event.outcome",
  "user.id",
  "scaivault.tenant",
  "scaivault.path",
  "scaivault.identity.type",
  "scaivault.session.id",
  "http.request.id",
  "http.request.method",
  "error.code",
]);

/** A CIDR on a text-mapped address: what is left is a prefix on octet boundaries. */
function cidrPrefix(cidr: string): string {
  const [addr = "", bits = "32"] = cidr.split("/");
  const octets = Math.floor(Number(bits) / 8);
  return octets >= 4 ? addr : `${addr.split(".").slice(0, octets).join(".")}.`;
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The service's request body, rewritten field by field for the dynamically mapped index. */
export function naiveBody(body: Json): Json {
  if (Array.isArray(body)) return body.map(naiveBody);
  if (!isObj(body)) return body;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(body)) {
    // A query clause (`{terms: {<field>: …}}`), not an aggregation (`{terms: {field: …}}`).
    if ((k === "term" || k === "terms" || k === "prefix") && isObj(v) && !("field" in v)) {
      const [field, value] = Object.entries(v)[0] as [string, Json];
      if (field === "source.ip" && typeof value === "string" && value.includes("/")) {
        out.prefix = { "source.ip.keyword": cidrPrefix(value) };
      } else out[k] = { [KEYWORDS.has(field) || field === "source.ip" ? `${field}.keyword` : field]: value };
    } else if (k === "sort" && Array.isArray(v)) {
      out.sort = v.map((s) =>
        isObj(s)
          ? Object.fromEntries(Object.entries(s).map(([f, o]) => [KEYWORDS.has(f) ? `${f}.keyword` : f, o]))
          : s,
      );
    } else if (k === "field" && typeof v === "string" && (KEYWORDS.has(v) || v === "source.ip"))
      out.field = `${v}.keyword`;
    else out[k] = naiveBody(v);
  }
  return out;
}

/** The naive index holding exactly the stream's events (copied once; kept between runs). */
export async function ensureNaive(client: Client): Promise<number> {
  // One shard and no replica, as the service's own indices on one node: only the design differs.
  // A pipeline ships events without the service's text copy.
  return copyStream(
    client,
    NAIVE_INDEX,
    { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } } },
    {
      source: "ctx._source.scaivault.remove('text')",
    },
  );
}

/**
 * `index` created with `body` and holding the stream's events (reindexed, merged like the stream),
 * unless it already holds as many as the stream. Returns the count.
 */
export async function copyStream(
  client: Client,
  index: string,
  body: unknown,
  script?: unknown,
): Promise<number> {
  const source = (await client.count({ index: AUDIT_STREAM })).body.count;
  if ((await client.indices.exists({ index })).body) {
    await client.indices.refresh({ index });
    if ((await client.count({ index })).body.count === source) return source;
    await client.indices.delete({ index });
  }
  console.log(`copying ${source} events into ${index}…`);
  await client.indices.create({ index, body: body as never });
  const started = await client.reindex({
    body: {
      source: { index: AUDIT_STREAM, size: 5000 },
      dest: { index, op_type: "create" },
      ...(script ? { script } : {}),
    } as never,
    wait_for_completion: false,
    slices: "auto",
  });
  // A task polled, not one long request: 10M events take longer than any client timeout.
  const task = String((started.body as { task?: string }).task);
  for (;;) {
    const t = await client.tasks.get({ task_id: task });
    if (t.body.completed) {
      const failures = (t.body.response as { failures?: unknown[] } | undefined)?.failures ?? [];
      if (failures.length > 0) throw new Error(`copy into ${index} failed: ${JSON.stringify(failures[0])}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  await client.indices.refresh({ index });
  await client.indices.forcemerge({ index, max_num_segments: 5 });
  return (await client.count({ index })).body.count;
}

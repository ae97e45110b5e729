/**
 * `npm run bench [-- --events 1000000] [--parts ingest,query,summary,export,stream] [--iterations 100]`
 *
 * One benchmark run on one OpenSearch: seeds `--events` events (5 tenants, 90 days; reused when
 * already there) and a naive copy of them (default dynamic mappings, see naive.ts), starts the
 * service as its own process, runs the parts in order, prints each table with its ratios, writes
 * bench/results/run-<size>.json and rewrites bench/RESULTS.md (and its chart) from every size
 * measured so far. The cluster is OPENSEARCH_URL, else a node of its own whose data stays in
 * `.data/bench/<size>` between runs (10M events take ≈ 5 GB there with the naive copy).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { startS3 } from "../test/support/object-stores.ts";
import { ensureNaive, NAIVE_INDEX } from "./naive.ts";
import { delivery } from "./parts/delivery.ts";
import { EXPORT_PAGE_SIZE, exports } from "./parts/export.ts";
import { ingest } from "./parts/ingest.ts";
import { integrity } from "./parts/integrity.ts";
import type { BenchContext, Part, PartResult, Table } from "./parts/part.ts";
import { query } from "./parts/query.ts";
import { SUBSCRIBERS, stream } from "./parts/stream.ts";
import { summary } from "./parts/summary.ts";
import { sizeLabel, writeReport } from "./report.ts";
import { benchEnv, ensureSeeded } from "./support.ts";

const PARTS: Record<string, Part> = { ingest, query, summary, export: exports, stream, integrity, delivery };

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    parts: { type: "string", default: Object.keys(PARTS).join(",") },
    iterations: { type: "string", default: "100" },
  },
});
const events = Number(values.events);
const chosen = (values.parts as string).split(",").filter(Boolean);
const unknown = chosen.filter((p) => !(p in PARTS));
if (!Number.isInteger(events) || events < 10_000 || unknown.length > 0) {
  console.error(
    `usage: npm run bench -- [--events N ≥ 10000] [--parts ${Object.keys(PARTS).join(",")}] [--iterations N]` +
      (unknown.length ? `\nunknown part: ${unknown.join(", ")}` : ""),
  );
  process.exit(2);
}

const TENANT = "acme";
const END = new Date("2026-11-26T00:00:00Z");
const BUCKET = "bench-archive";
const label = sizeLabel(events);

const s3 = chosen.includes("export") ? await startS3() : undefined;
const secretsDir = await mkdtemp(path.join(tmpdir(), "bench-secrets-"));
const secretsFile = path.join(secretsDir, "secrets.json");
await writeFile(
  secretsFile,
  JSON.stringify({ [TENANT]: { "bench/s3": { access_key_id: "bench", secret_access_key: "bench" } } }),
);
if (s3) {
  const s3Client = new S3Client({
    region: "us-east-1",
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  await s3Client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  s3Client.destroy();
}

const env = await benchEnv(
  {
    SECRETS_FILE: secretsFile,
    ...(s3 ? { EXPORT_ENDPOINT_ALLOWLIST: s3.endpoint } : {}),
    EXPORT_PAGE_SIZE: String(EXPORT_PAGE_SIZE),
    EXPORT_POLL_INTERVAL_MS: "200",
    STREAM_MAX_PER_TENANT: String(SUBSCRIBERS + 10),
  },
  "lifted",
  { dataDir: path.resolve(".data/bench", label) },
);
const client = createOpenSearchClient({ url: env.opensearchUrl, requestTimeoutMs: 3_600_000 });
const stored = await ensureSeeded(client, events, END);
await ensureNaive(client);

const ctx: BenchContext = {
  env,
  client,
  events: stored,
  tenant: TENANT,
  end: END,
  iterations: Number(values.iterations),
  ...(s3 ? { s3: { endpoint: s3.endpoint, bucket: BUCKET, secret: "bench/s3" } } : {}),
};
const info = (await client.info()).body as { version: { number: string } };
console.log(
  `bench: ${stored.toLocaleString("en")} events, OpenSearch ${info.version.number} at ${env.opensearchUrl}, ` +
    `Node ${process.version}, ${cpus().length} cores; parts ${chosen.join(", ")}`,
);

const results: Record<string, PartResult> = {
  storage: { ...(await storage()), measured: new Date().toISOString() },
};
print(results.storage?.tables ?? []);
try {
  for (const name of chosen) {
    console.log(`\n== ${name}`);
    const r = await (PARTS[name] as Part)(ctx);
    results[name] = { ...r, measured: new Date().toISOString() };
    print(r.tables);
  }
} catch (err) {
  // Stop what this run started (the node keeps its data), then fail.
  await shutdown();
  throw err;
}
await removeWritten();

await mkdir(new URL("./results/", import.meta.url), { recursive: true });
const runFile = new URL(`./results/run-${label}.json`, import.meta.url);
// Parts not run this time keep their earlier figures (each says when it was measured).
const earlier = await readFile(runFile, "utf8").then(
  (t) => {
    const run = JSON.parse(t) as { date: string; parts?: Record<string, PartResult> };
    return Object.fromEntries(
      Object.entries(run.parts ?? {}).map(([k, p]) => [k, { ...p, measured: p.measured ?? run.date }]),
    );
  },
  () => ({}),
);
await writeFile(
  runFile,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      events: stored,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 2 ** 30) },
      versions: { opensearch: info.version.number, node: process.version },
      iterations: ctx.iterations,
      parts: { ...earlier, ...results },
    },
    null,
    2,
  )}\n`,
);
await writeReport();
console.log(`\nwrote bench/results/run-${label}.json and bench/RESULTS.md`);

await shutdown();

async function shutdown() {
  await client.close();
  await env.close();
  await s3?.stop();
  await rm(secretsDir, { recursive: true, force: true });
}

/**
 * Removes what the ingest and stream parts wrote (their tenants start `bench-` and `tail-`), so the
 * data set, and the next run's storage figure, stay those of the seed.
 */
async function removeWritten() {
  await client.deleteByQuery({
    index: AUDIT_STREAM,
    body: {
      query: {
        bool: {
          should: [{ prefix: { "scaivault.tenant": "bench-" } }, { prefix: { "scaivault.tenant": "tail-" } }],
        },
      },
    },
    conflicts: "proceed",
    refresh: true,
  });
  await client.indices.forcemerge({ index: AUDIT_STREAM, only_expunge_deletes: true });
}

/** The stream's and the naive index's size on disk (both merged to at most 5 segments). */
async function storage(): Promise<PartResult> {
  const size = async (index: string) => {
    // Settled first: a merge (or the deletes of an earlier run's parts) leaves old segment files on
    // disk until a refresh and a flush release them.
    await client.indices.forcemerge({ index, max_num_segments: 5 });
    await client.indices.refresh({ index });
    await client.indices.flush({ index });
    const st = await client.indices.stats({ index, metric: "store" });
    return (st.body._all.primaries.store?.size_in_bytes ?? 0) / 1e6;
  };
  const [mine, naive] = [await size(AUDIT_STREAM), await size(NAIVE_INDEX)];
  return {
    tables: [
      {
        title: "Storage (primaries, merged)",
        head: ["index", "MB", "÷ naive"],
        rows: [
          ["the service's stream", mine.toFixed(0), (mine / naive).toFixed(2)],
          ["naive index", naive.toFixed(0), ""],
        ],
      },
    ],
    data: { stream_mb: Math.round(mine), naive_mb: Math.round(naive) },
  };
}

function print(tables: Table[]) {
  for (const t of tables) {
    console.log(`\n${t.title}`);
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => String(r[i] ?? "").length)));
    const line = (cells: (string | number)[]) =>
      cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(" │ ");
    console.log(line(t.head));
    for (const r of t.rows) console.log(line(r));
  }
}

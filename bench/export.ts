/**
 * `npm run bench:export [-- --events 1000000 --rounds 2]`
 * Export throughput of one tenant's events (all of them, one snapshot) through the service to a
 * local S3 server (moto), as jsonl and jsonl+gzip, against a raw point-in-time scan of the same
 * events (the same page body, hits parsed, nothing formatted or uploaded), in the same run; the
 * sides alternate within each round and the ratio is taken per round. Also the service's peak RSS
 * (VmHWM). Target: export ≥ 0.6× the raw scan. Writes bench/results/export.json.
 *
 * Starts its own OpenSearch (or OPENSEARCH_URL) and seeds one tenant with --events events.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mintToken } from "../dev/token.ts";
import { snapshotPage } from "../src/features/exports/exports.query.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../src/tenancy/retention.ts";
import { startS3 } from "../test/support/object-stores.ts";
import { benchEnv, ensureSeeded, median } from "./support.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "2" },
    "page-size": { type: "string", default: "5000" },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const TENANT = "acme";
const END = new Date("2026-11-26T00:00:00Z");
const PAGE_SIZE = Number(values["page-size"]);
const BUCKET = "bench-archive";

const s3 = await startS3();
const s3Client = new S3Client({
  region: "us-east-1",
  endpoint: s3.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
});
await s3Client.send(new CreateBucketCommand({ Bucket: BUCKET }));
const dir = await mkdtemp(path.join(tmpdir(), "bench-export-"));
const secretsFile = path.join(dir, "secrets.json");
await writeFile(
  secretsFile,
  JSON.stringify({ [TENANT]: { "bench/s3": { access_key_id: "bench", secret_access_key: "bench" } } }),
);

const env = await benchEnv({
  SECRETS_FILE: secretsFile,
  EXPORT_ENDPOINT_ALLOWLIST: s3.endpoint,
  EXPORT_PAGE_SIZE: String(PAGE_SIZE),
  EXPORT_POLL_INTERVAL_MS: "200",
});
const client = createOpenSearchClient({ url: env.opensearchUrl });
await ensureSeeded(client, EVENTS, END, 1);
const tenantEvents = (
  await client.count({ index: AUDIT_STREAM, body: { query: { term: { "scaivault.tenant": TENANT } } } })
).body.count;
const token = await mintToken(env.secret, { sub: "user:bench", tenant: TENANT, scope: "audit:export" });

const memory = async () => {
  const status = await readFile(`/proc/${env.apiPid}/status`, "utf8");
  const kb = (key: string) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rss_mb: Math.round(kb("VmRSS") / 1024), peak_rss_mb: Math.round(kb("VmHWM") / 1024) };
};

/** The raw scan: open a PIT, page through it with the export's own page body, parse every hit. */
async function rawScan(): Promise<{ events: number; seconds: number }> {
  const began = performance.now();
  const pit = await client.createPit({ index: [AUDIT_STREAM], keep_alive: "5m" });
  const pitId = (pit.body as { pit_id: string }).pit_id;
  let after: [string, string] | null = null;
  let events = 0;
  for (;;) {
    const res = await client.search({
      body: snapshotPage(
        { id: TENANT, since: cutoff(DEFAULT_RETENTION_DAYS, new Date()) },
        {},
        { pitId, keepAlive: "5m", size: PAGE_SIZE, after },
      ) as never,
    });
    const hits = res.body.hits.hits as unknown as {
      _source: { "@timestamp": string; event: { id: string } };
    }[];
    events += hits.length;
    const last = hits.at(-1);
    if (!last || hits.length < PAGE_SIZE) break;
    after = [last._source["@timestamp"], last._source.event.id];
  }
  await client.deletePit({ body: { pit_id: [pitId] } });
  return { events, seconds: (performance.now() - began) / 1000 };
}

/** One export through the API; its duration is the job's own started_at → completed_at. */
async function exportVia(compression: "none" | "gzip", round: number) {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const res = await fetch(`${env.apiUrl}/v1/audit/exports`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      format: "jsonl",
      compression,
      destination: {
        type: "s3",
        bucket: BUCKET,
        region: "us-east-1",
        endpoint: s3.endpoint,
        prefix: `round-${round}-${compression}/`,
        credentials_secret: "bench/s3",
      },
    }),
  });
  if (res.status !== 202) throw new Error(`POST ${res.status}: ${await res.text()}`);
  const { export_id } = (await res.json()) as { export_id: string };
  let peakRssMb = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    peakRssMb = Math.max(peakRssMb, (await memory()).rss_mb);
    const job = (await (await fetch(`${env.apiUrl}/v1/audit/exports/${export_id}`, { headers })).json()) as {
      status: string;
      started_at: string;
      completed_at: string;
      error: unknown;
      manifest: { total_records: number; files: { bytes: number }[] } | null;
    };
    if (job.status === "failed" || job.status === "cancelled")
      throw new Error(`export ${job.status}: ${JSON.stringify(job.error)}`);
    if (job.status === "completed" && job.manifest) {
      const seconds = (Date.parse(job.completed_at) - Date.parse(job.started_at)) / 1000;
      const bytes = job.manifest.files.reduce((n, f) => n + f.bytes, 0);
      return { events: job.manifest.total_records, seconds, mb: Math.round(bytes / 1024 / 1024), peakRssMb };
    }
  }
}

console.log(
  `export benchmark: ${tenantEvents} events of tenant ${TENANT}, ${ROUNDS} rounds, ${cpus().length} cores`,
);
const before = await memory();
const rounds = [];
for (let round = 1; round <= ROUNDS; round++) {
  const raw = await rawScan();
  const jsonl = await exportVia("none", round);
  const gzip = await exportVia("gzip", round);
  for (const e of [jsonl, gzip])
    if (e.events !== raw.events)
      throw new Error(`export wrote ${e.events} events, the scan saw ${raw.events}`);
  const eps = (x: { events: number; seconds: number }) => Math.round(x.events / x.seconds);
  const r = {
    round,
    raw_scan_eps: eps(raw),
    jsonl_eps: eps(jsonl),
    jsonl_mb: jsonl.mb,
    gzip_eps: eps(gzip),
    gzip_mb: gzip.mb,
    jsonl_ratio: +(eps(jsonl) / eps(raw)).toFixed(2),
    gzip_ratio: +(eps(gzip) / eps(raw)).toFixed(2),
    jsonl_peak_rss_mb: jsonl.peakRssMb,
    gzip_peak_rss_mb: gzip.peakRssMb,
  };
  rounds.push(r);
  console.log(
    `round ${round}: raw scan ${r.raw_scan_eps} ev/s | jsonl ${r.jsonl_eps} ev/s (${r.jsonl_mb} MB, ${r.jsonl_ratio}×, RSS ≤ ${r.jsonl_peak_rss_mb} MB) | ` +
      `jsonl+gzip ${r.gzip_eps} ev/s (${r.gzip_mb} MB, ${r.gzip_ratio}×, RSS ≤ ${r.gzip_peak_rss_mb} MB)`,
  );
}
const after = await memory();
const summary = {
  jsonl_ratio_median: +median(rounds.map((r) => r.jsonl_ratio)).toFixed(2),
  gzip_ratio_median: +median(rounds.map((r) => r.gzip_ratio)).toFixed(2),
  service_rss_mb_before: before.rss_mb,
  service_peak_rss_mb: after.peak_rss_mb,
};
console.log(
  `median ratio jsonl ${summary.jsonl_ratio_median} ${summary.jsonl_ratio_median >= 0.6 ? "ok" : "MISSED"}, ` +
    `jsonl+gzip ${summary.gzip_ratio_median} ${summary.gzip_ratio_median >= 0.6 ? "ok" : "MISSED"} (target ≥ 0.6); ` +
    `service RSS ${before.rss_mb} MB before, peak ${after.peak_rss_mb} MB`,
);
await writeFile(
  new URL("./results/export.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), events: tenantEvents, machine: { cores: cpus().length }, page_size: PAGE_SIZE, rounds, summary }, null, 2)}\n`,
);
s3Client.destroy();
await client.close();
await env.close();
await s3.stop();
await rm(dir, { recursive: true, force: true });

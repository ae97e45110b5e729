/**
 * Export throughput: the busiest tenant's last days (about 150k events) through the service to S3 (moto on
 * loopback), as jsonl and jsonl+gzip, against a raw point-in-time scan of the same events (the
 * export's own page body, hits parsed, nothing formatted or uploaded); sides alternate within each
 * round. Also the service's peak RSS while exporting.
 */
import { readFile } from "node:fs/promises";
import { mintToken } from "../../dev/token.ts";
import { snapshotPage } from "../../src/features/exports/exports.query.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../../src/tenancy/retention.ts";
import { median } from "../support.ts";
import { type BenchContext, type PartResult, ratio } from "./part.ts";

const ROUNDS = 2;
export const EXPORT_PAGE_SIZE = 5000;

export async function exports(ctx: BenchContext): Promise<PartResult> {
  const { env, client, tenant, s3 } = ctx;
  if (!s3) throw new Error("the export part needs an S3 endpoint");
  // About 150k events of the busiest tenant whatever the size: 30 days at 1M, 3 at 10M.
  const DAYS = Math.min(90, Math.max(1, Math.round(30e6 / ctx.events)));
  const from = new Date(ctx.end.getTime() - DAYS * 86_400_000).toISOString();
  const token = await mintToken(env.secret, { sub: "user:bench", tenant, scope: "audit:export" });
  const memory = async () => {
    const status = await readFile(`/proc/${env.apiPid}/status`, "utf8");
    return Math.round(Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024);
  };

  async function rawScan(): Promise<{ events: number; seconds: number }> {
    const began = performance.now();
    const pit = await client.createPit({ index: [AUDIT_STREAM], keep_alive: "5m" });
    const pitId = (pit.body as { pit_id: string }).pit_id;
    let after: [string, string] | null = null;
    let events = 0;
    for (;;) {
      const res = await client.search({
        body: snapshotPage(
          { id: tenant, since: cutoff(DEFAULT_RETENTION_DAYS, new Date()) },
          { from },
          { pitId, keepAlive: "5m", size: EXPORT_PAGE_SIZE, after },
        ) as never,
      });
      const hits = res.body.hits.hits as unknown as {
        _source: { "@timestamp": string; event: { id: string } };
      }[];
      events += hits.length;
      const last = hits.at(-1);
      if (!last || hits.length < EXPORT_PAGE_SIZE) break;
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
        filters: { from },
        destination: {
          type: "s3",
          bucket: s3?.bucket,
          region: "us-east-1",
          endpoint: s3?.endpoint,
          prefix: `run-${Date.now()}-${round}-${compression}/`,
          credentials_secret: s3?.secret,
        },
      }),
    });
    if (res.status !== 202) throw new Error(`POST ${res.status}: ${await res.text()}`);
    const { export_id } = (await res.json()) as { export_id: string };
    let peak = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      peak = Math.max(peak, await memory());
      const job = (await (
        await fetch(`${env.apiUrl}/v1/audit/exports/${export_id}`, { headers })
      ).json()) as {
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
        return { events: job.manifest.total_records, seconds, mb: bytes / 1e6, peak };
      }
    }
  }

  const rounds: {
    events: number;
    raw: number;
    jsonl: number;
    gzip: number;
    jsonl_mb: number;
    gzip_mb: number;
    peak_rss_mb: number;
  }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const raw = await rawScan();
    const jsonl = await exportVia("none", round);
    const gzip = await exportVia("gzip", round);
    for (const e of [jsonl, gzip])
      if (e.events !== raw.events)
        throw new Error(`export wrote ${e.events} events, the scan saw ${raw.events}`);
    const eps = (x: { events: number; seconds: number }) => Math.round(x.events / x.seconds);
    rounds.push({
      events: raw.events,
      raw: eps(raw),
      jsonl: eps(jsonl),
      gzip: eps(gzip),
      jsonl_mb: jsonl.mb,
      gzip_mb: gzip.mb,
      peak_rss_mb: Math.max(jsonl.peak, gzip.peak),
    });
    console.log(`  round ${round}: ${JSON.stringify(rounds.at(-1))}`);
  }
  const med = (k: "raw" | "jsonl" | "gzip") => Math.round(median(rounds.map((r) => r[k])));
  const perRound = (k: "jsonl" | "gzip") => `${median(rounds.map((r) => r[k] / r.raw)).toFixed(2)}×`;
  const events = rounds[0]?.events ?? 0;
  const peak = Math.max(...rounds.map((r) => r.peak_rss_mb));
  return {
    tables: [
      {
        title: `Exports (${events.toLocaleString("en")} events: tenant ${tenant}, last ${DAYS} days; events/s, median of ${ROUNDS} rounds)`,
        head: ["path", "events/s", "÷ raw scan", "size, MB"],
        rows: [
          ["raw point-in-time scan (parse only)", med("raw"), "", ""],
          ["export, jsonl → S3", med("jsonl"), perRound("jsonl"), (rounds[0]?.jsonl_mb ?? 0).toFixed(0)],
          ["export, jsonl + gzip → S3", med("gzip"), perRound("gzip"), (rounds[0]?.gzip_mb ?? 0).toFixed(0)],
          ["service peak RSS while exporting, MB", peak, "", ""],
        ],
      },
    ],
    data: { days: DAYS, page_size: EXPORT_PAGE_SIZE, rounds, ratio: ratio(med("jsonl"), med("raw")) },
  };
}

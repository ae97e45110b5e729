/**
 * @module cli/commands/summary
 * `summary` (GET /v1/audit/summary): the counts, and the histogram as bars in the terminal;
 * `anomalies` (GET /v1/audit/anomalies): entities departing from their own baseline.
 */
import type { Command } from "commander";
import type { z } from "zod";
import type { HistogramBucketSchema, SummarySchema } from "../../src/features/summary/summary.schema.ts";
import { addFilters, clientOf, filtersOf, positiveInt } from "../common.ts";
import {
  listFormat,
  listOutput,
  objectFormat,
  objectOutput,
  printJson,
  printRows,
  table,
  write,
} from "../output.ts";

// The service's own response types (type-only imports: nothing of the service runs in the CLI).
type Bucket = z.infer<typeof HistogramBucketSchema>;
type Summary = z.infer<typeof SummarySchema>;

const BAR_WIDTH = 40;

/** Buckets merged (summed) into at most `rows` rows, each drawn as a bar of `#` (failures as `!`). */
export function histogram(buckets: Bucket[], rows: number): string {
  const per = Math.max(1, Math.ceil(buckets.length / rows));
  const merged: Bucket[] = [];
  for (let i = 0; i < buckets.length; i += per) {
    const group = buckets.slice(i, i + per);
    merged.push({
      start: (group[0] as Bucket).start,
      total: group.reduce((s, b) => s + b.total, 0),
      failures: group.reduce((s, b) => s + b.failures, 0),
    });
  }
  const max = Math.max(1, ...merged.map((b) => b.total));
  const width = String(max).length;
  return merged
    .map((b) => {
      const len = Math.round((b.total / max) * BAR_WIDTH);
      const fail = Math.min(len, Math.round((b.failures / max) * BAR_WIDTH));
      const bar = "#".repeat(len - fail) + "!".repeat(fail);
      return `${b.start}  ${String(b.total).padStart(width)} |${bar}`;
    })
    .join("\n");
}

const nonZero = (r: Record<string, number>) =>
  Object.entries(r)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(" ") || "-";

export function registerSummary(program: Command): void {
  const summary = program
    .command("summary")
    .description("counts over the matching events, plus a histogram (GET /v1/audit/summary)");
  addFilters(summary)
    .option("--interval <interval>", "histogram bucket: 1m 5m 15m 30m 1h 3h 6h 12h 1d 1w 1M")
    .option("--top <n>", "length of the top lists (1–100)")
    .option("--bars <n>", "at most this many histogram rows (buckets are merged)", positiveInt("--bars"), 24)
    .addOption(objectOutput())
    .action(async (opts, command: Command) => {
      const s = await clientOf(command).get<Summary>("/v1/audit/summary", {
        ...filtersOf(opts),
        interval: opts.interval,
        top: opts.top,
      });
      if (objectFormat(opts.output) === "json") {
        printJson(s);
        return;
      }
      write(
        table(
          ["window", "total", "success", "failure", "identities", "paths"],
          [
            [
              `${s.from} – ${s.to}`,
              s.total,
              s.outcomes.success,
              s.outcomes.failure,
              s.unique_identities,
              s.unique_paths,
            ],
          ],
        ),
      );
      write(`by action:        ${nonZero(s.by_action)}\n`);
      write(`by identity type: ${nonZero(s.by_identity_type)}\n`);
      write(`errors:           ${nonZero(s.errors)}\n`);
      write(
        `top identities:   ${s.top_identities.map((t) => `${t.identity_id}=${t.count}`).join(" ") || "-"}\n`,
      );
      write(`top paths:        ${s.top_paths.map((t) => `${t.path}=${t.count}`).join(" ") || "-"}\n`);
      write(
        `top source IPs:   ${s.top_source_ips.map((t) => `${t.source_ip}=${t.count}`).join(" ") || "-"}\n`,
      );
      write(`\nhistogram (${s.histogram.interval} buckets; # events, ! failures):\n`);
      write(`${histogram(s.histogram.buckets, opts.bars)}\n`);
    });

  const anomalies = program
    .command("anomalies")
    .description(
      "identities or paths whose activity departs from their own baseline (GET /v1/audit/anomalies)",
    );
  addFilters(anomalies)
    .option("--group-by <field>", "identity_id or path")
    .option(
      "--baseline <duration>",
      "ISO 8601 duration before --from, e.g. P28D (the service's default P28D)",
    )
    .option("--threshold <z>", "|z| at or above which an entity is reported")
    .option("--min-count <n>", "ignore entities quieter than this")
    .addOption(listOutput())
    .addHelpText("after", "\n--from and --to are required by the service.")
    .action(async (opts, command: Command) => {
      const a = await clientOf(command).get<{
        anomalies: {
          key: string;
          observed: number;
          baseline: { mean: number; stddev: number; slots: number } | null;
          score: number | null;
          reason: string;
        }[];
        evaluated: number;
      }>("/v1/audit/anomalies", {
        ...filtersOf(opts),
        group_by: opts.groupBy,
        baseline: opts.baseline,
        threshold: opts.threshold,
        min_count: opts.minCount,
      });
      const format = listFormat(opts.output);
      printRows(
        format,
        ["key", "reason", "observed", "mean", "stddev", "score"],
        a.anomalies,
        (x: (typeof a.anomalies)[number]) => [
          x.key,
          x.reason,
          x.observed,
          x.baseline ? round(x.baseline.mean) : null,
          x.baseline ? round(x.baseline.stddev) : null,
          x.score === null ? null : round(x.score),
        ],
      );
      if (format === "table")
        write(`${a.anomalies.length} anomalies among ${a.evaluated} entities evaluated\n`);
    });
}

const round = (n: number) => Math.round(n * 100) / 100;

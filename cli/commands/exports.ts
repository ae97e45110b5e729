/**
 * @module cli/commands/exports
 * `export create|status|wait|list|cancel` (scope audit:export). `wait` polls the job and shows a
 * progress bar (cli-progress, on stderr, only on a terminal) of records written against the
 * snapshot's exact count, then prints the manifest; a failed or cancelled export is exit code 1.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import type { ExportView } from "../../src/features/exports/exports.schema.ts";
import { type Client, Failed, UsageError } from "../client.ts";
import { addFilters, addPaging, clientOf, eachPage, filtersJson, positiveInt } from "../common.ts";
import {
  keyValues,
  listFormat,
  listOutput,
  objectFormat,
  objectOutput,
  printJson,
  printRows,
  write,
} from "../output.ts";

const ENDED = ["completed", "failed", "cancelled"];

/** A JSON value given inline or as @file. */
function jsonArg(what: string, v: string): unknown {
  let text = v;
  if (v.startsWith("@")) {
    try {
      text = readFileSync(v.slice(1), "utf8");
    } catch (err) {
      throw new UsageError(`${what}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

function printExport(e: ExportView, output: string | undefined): void {
  if (objectFormat(output) === "json") {
    printJson(e);
    return;
  }
  write(
    keyValues([
      ["export_id", e.export_id],
      ["status", e.status],
      ["format", `${e.format}${e.compression === "gzip" ? " (gzip)" : ""}`],
      ["records", `${e.progress.records} of ${e.progress.estimated_total ?? "?"}`],
      ["created_at", e.created_at],
      ["started_at", e.started_at],
      ["completed_at", e.completed_at],
      ["filters", e.filters],
      ["destination", e.destination],
      ["error", e.error ? `${e.error.code}: ${e.error.message}` : null],
      ["files", e.manifest ? e.manifest.files.map((f) => f.uri).join("\n") : null],
    ]),
  );
}

async function waitFor(
  client: Client,
  id: string,
  intervalMs: number,
  output: string | undefined,
): Promise<void> {
  const path = `/v1/audit/exports/${encodeURIComponent(id)}`;
  const tty = Boolean(process.stderr.isTTY);
  const bar = new cliProgress.SingleBar(
    { format: "{bar} {value}/{total} records | {status}", hideCursor: tty, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let job: ExportView;
  try {
    for (;;) {
      job = await client.get<ExportView>(path);
      const total = job.progress.estimated_total;
      if (total !== null) {
        if (!started) bar.start(total, job.progress.records, { status: job.status });
        else bar.update(job.progress.records, { status: job.status });
        started = true;
      }
      if (ENDED.includes(job.status)) break;
      await sleep(intervalMs);
    }
  } finally {
    bar.stop();
  }
  if (!tty)
    process.stderr.write(
      `${job.export_id}: ${job.status}, ${job.progress.records} of ${job.progress.estimated_total ?? "?"} records\n`,
    );
  if (job.status !== "completed") {
    process.stderr.write(
      `error: export ${job.export_id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ""}\n`,
    );
    throw new Failed(`export ${job.status}`);
  }
  if (objectFormat(output) === "json" || output === undefined) printJson(job.manifest);
  else printExport(job, output);
}

export function registerExports(program: Command): void {
  const exp = program.command("export").description("exports to S3, GCS or Azure Blob (scope audit:export)");

  const create = exp
    .command("create")
    .description("start an export of the events matching the filters (POST /v1/audit/exports)")
    .requiredOption(
      "--destination <json|@file>",
      'where to write, e.g. {"type":"s3","bucket":"b","prefix":"p/","region":"us-east-1","credentials_secret":"infra/aws/exporter"}',
    )
    .addOption(new Option("--format <format>", "jsonl, csv or ocsf").choices(["jsonl", "csv", "ocsf"]))
    .addOption(new Option("--compression <c>", "none or gzip").choices(["none", "gzip"]))
    .option("--max-file-records <n>", "records per file", positiveInt("--max-file-records"))
    .option("--path <path>", "one secret's exact path");
  addFilters(create)
    .option("--wait", "then wait for it as `export wait` does")
    .option("--interval <ms>", "with --wait: poll every ms", positiveInt("--interval"), 1000)
    .addOption(objectOutput())
    .action(async (opts, command: Command) => {
      const client = clientOf(command);
      const body = {
        ...(opts.format ? { format: opts.format } : {}),
        ...(opts.compression ? { compression: opts.compression } : {}),
        ...(opts.maxFileRecords ? { max_file_records: opts.maxFileRecords } : {}),
        filters: { ...filtersJson(opts), ...(opts.path ? { path: opts.path } : {}) },
        destination: jsonArg("--destination", opts.destination),
      };
      const created = await client.json<{ export_id: string }>("POST", "/v1/audit/exports", { body });
      if (!opts.wait) {
        printJson(created);
        return;
      }
      process.stderr.write(`${created.export_id} created\n`);
      await waitFor(client, created.export_id, opts.interval, opts.output);
    });

  exp
    .command("status <export-id>")
    .description("one export: status, progress, error, manifest")
    .addOption(objectOutput())
    .action(async (id: string, opts, command: Command) => {
      printExport(
        await clientOf(command).get<ExportView>(`/v1/audit/exports/${encodeURIComponent(id)}`),
        opts.output,
      );
    });

  exp
    .command("wait <export-id>")
    .description(
      "wait for an export to end, with a progress bar; print its manifest (exit 1 if it failed or was cancelled)",
    )
    .option("--interval <ms>", "poll every ms", positiveInt("--interval"), 1000)
    .addOption(objectOutput())
    .action(async (id: string, opts, command: Command) => {
      await waitFor(clientOf(command), id, opts.interval, opts.output);
    });

  const list = exp
    .command("list")
    .description("the tenant's exports, newest first")
    .addOption(
      new Option("--status <status>", "only these").choices([
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
      ]),
    );
  addPaging(list)
    .addOption(listOutput())
    .action(async (opts, command: Command) => {
      const format = listFormat(opts.output);
      await eachPage<{ entries: ExportView[]; next_cursor: string | null }>(
        clientOf(command),
        "/v1/audit/exports",
        { status: opts.status },
        opts,
        (p, i) =>
          printRows(
            format,
            ["export_id", "status", "format", "records", "total", "created_at", "error"],
            p.entries,
            (e: ExportView) => [
              e.export_id,
              e.status,
              e.format,
              e.progress.records,
              e.progress.estimated_total,
              e.created_at,
              e.error?.code,
            ],
            i === 0,
          ),
      );
    });

  exp
    .command("cancel <export-id>")
    .description("cancel a pending or running export (409 once it has ended)")
    .addOption(objectOutput())
    .action(async (id: string, opts, command: Command) => {
      const client = clientOf(command);
      const path = `/v1/audit/exports/${encodeURIComponent(id)}`;
      const res = await client.send("DELETE", path);
      const body =
        res.status === 204 ? await client.get<ExportView>(path) : ((await res.json()) as ExportView);
      printExport(body, opts.output);
    });
}

/**
 * @module cli/commands/logs
 * `logs`: GET /v1/audit/logs with every filter as a flag, one page or all of them; `--follow`
 * rides the live tail (GET /v1/audit/stream) and, when the connection drops or the service
 * restarts, reconnects with Last-Event-ID after a back-off, so every event is printed once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Command, Option } from "commander";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import { ApiError, type Client, Failed, type Query, Unreachable } from "../client.ts";
import { addFilters, addPaging, clientOf, eachPage, filtersOf } from "../common.ts";
import { type ListFormat, listFormat, listOutput, printEvents, write } from "../output.ts";
import { readSse } from "../sse.ts";

export function registerLogs(program: Command): void {
  const cmd = program
    .command("logs")
    .description("query audit events (GET /v1/audit/logs), newest first; --follow for the live tail");
  addFilters(cmd);
  addPaging(cmd)
    .addOption(listOutput())
    .addOption(
      new Option(
        "-f, --follow",
        "print new events as they are stored (live tail), resuming after disconnects",
      ).conflicts(["all", "pages", "cursor", "limit"]),
    )
    .option("--last-event-id <id>", "with --follow: resume after this stream id")
    .addHelpText(
      "after",
      "\nExamples:\n  scaivault-audit logs --action read --path-prefix prod/db --from now-1d --output csv --all\n  scaivault-audit logs --follow --identity-id user:ana@acme.example",
    )
    .action(async (opts, command: Command) => {
      const client = clientOf(command);
      const format = listFormat(opts.output);
      if (opts.follow) return follow(client, filtersOf(opts), format, opts.lastEventId);
      await eachPage<{ entries: AuditEvent[]; next_cursor: string | null }>(
        client,
        "/v1/audit/logs",
        filtersOf(opts),
        opts,
        (p, i) => printEvents(format, p.entries, i === 0),
      );
    });
}

const MAX_BACKOFF_MS = 10_000;
/** Event ids printed lately: a resume never repeats one, and this makes sure of it. */
const SEEN_MAX = 10_000;

async function follow(
  client: Client,
  query: Query,
  format: ListFormat,
  from: string | undefined,
): Promise<void> {
  let last = from;
  let base = 1000;
  let delay = base;
  let connected = false;
  let csvHeader = true;
  const seen = new Set<string>();
  for (;;) {
    let ending = "connection lost";
    try {
      const res = await client.send("GET", "/v1/audit/stream", {
        query,
        headers: { Accept: "text/event-stream", ...(last ? { "Last-Event-ID": last } : {}) },
      });
      process.stderr.write(
        connected ? `resumed after ${last ?? "(start)"}\n` : `following ${client.baseUrl}\n`,
      );
      connected = true;
      delay = base;
      for await (const m of readSse(res.body as ReadableStream<Uint8Array>)) {
        if ("retry" in m) {
          base = delay = m.retry;
          continue;
        }
        if (m.id !== undefined) last = m.id;
        if (m.event === "end") {
          const reason = (JSON.parse(m.data ?? "{}") as { reason?: string; detail?: string }).reason ?? "end";
          if (reason === "token_expired")
            throw new Failed("the token expired: follow again with a new token");
          ending = reason;
          break;
        }
        if (m.event !== "message" || m.data === undefined) continue;
        const e = JSON.parse(m.data) as AuditEvent;
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value as string);
        if (format === "table") write(`${followLine(e)}\n`);
        else printEvents(format, [e], csvHeader);
        csvHeader = false;
      }
    } catch (err) {
      // Before the first connection, an unreachable service or a refusal is the answer.
      if (!connected) throw err;
      if (err instanceof ApiError && ![429, 502, 503, 504].includes(err.status)) throw err;
      if (err instanceof Failed) throw err;
      if (!(err instanceof ApiError || err instanceof Unreachable || err instanceof TypeError)) throw err;
      ending = err.message;
    }
    process.stderr.write(`stream ended (${ending}); reconnecting in ${delay} ms\n`);
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_BACKOFF_MS);
  }
}

const followLine = (e: AuditEvent) =>
  [
    e.timestamp,
    e.action.padEnd(8),
    e.success ? "ok  " : "FAIL",
    e.identity.id,
    e.path,
    e.source_ip,
    e.id,
  ].join("  ");

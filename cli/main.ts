#!/usr/bin/env node
/**
 * scaivault-audit — the command-line client of the ScaiVault Audit Log service.
 * `node cli/main.ts --help` (or `npm run cli -- --help`) lists the commands; README "CLI" has more.
 *
 * Exit codes: 0 ok; 1 the service answered an error (4xx/5xx), verify found a failure, or an
 * export failed; 2 bad usage (arguments, options, profile file); 3 the service cannot be reached.
 */
import { Command, CommanderError } from "commander";
import { ApiError, Failed, Unreachable, UsageError } from "./client.ts";
import { registerAdmin } from "./commands/admin.ts";
import { registerExports } from "./commands/exports.ts";
import { registerLocal } from "./commands/local.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerSummary } from "./commands/summary.ts";
import { registerTrails } from "./commands/trails.ts";

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

const program = new Command("scaivault-audit")
  .description("Query, follow, summarize and export the ScaiVault audit log.")
  .version("0.1.0")
  .option("--url <url>", "service URL (env SCAIVAULT_AUDIT_URL, profile, default http://localhost:8080)")
  .option("--token <jwt>", "bearer token (env SCAIVAULT_AUDIT_TOKEN, profile)")
  .option("--profile <name>", 'profile in the config file (env SCAIVAULT_AUDIT_PROFILE, default "default")')
  .showHelpAfterError("(add --help for usage)")
  .exitOverride()
  .addHelpText(
    "after",
    `
Settings: flags > environment > profile file ($SCAIVAULT_AUDIT_CONFIG or
~/.config/scaivault-audit/config.json: {"profiles": {"default": {"url": "…", "token": "…"}}}).

Exit codes:
  0  ok
  1  the service answered an error (4xx/5xx), verify found a failure, an export failed
  2  bad usage (arguments, options, profile file)
  3  the service cannot be reached`,
  );

registerLogs(program);
registerTrails(program);
registerSummary(program);
registerExports(program);
registerAdmin(program);
registerLocal(program);

function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed it
  if (err instanceof ApiError) {
    const lines = [`error: ${err.title} (${err.status})${err.detail ? `: ${err.detail}` : ""}`];
    for (const e of err.errors) lines.push(`  ${e.field}: ${e.message}`);
    if (err.requestId) lines.push(`  request_id: ${err.requestId}`);
    process.stderr.write(`${lines.join("\n")}\n`);
    return EXIT.failed;
  }
  if (err instanceof Unreachable) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.unreachable;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof Failed) return EXIT.failed;
  process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.failed;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = report(err);
}

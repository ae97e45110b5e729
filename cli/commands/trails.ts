/**
 * @module cli/commands/trails
 * `trail secret <path>` (GET /v1/audit/secrets/{path}), `trail identity <id>`
 * (GET /v1/audit/identities/{id}) and `paths <id>` (…/paths: each path an identity touched, the
 * offboarding list).
 */
import type { Command } from "commander";
import type { z } from "zod";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import type { IdentityPathsSchema } from "../../src/features/query/query.schema.ts";
import { encodePath } from "../client.ts";
import { addFilters, addPaging, clientOf, eachPage, filtersOf } from "../common.ts";
import { listFormat, listOutput, printEvents, printRows } from "../output.ts";

type EventsPage = { entries: AuditEvent[]; next_cursor: string | null };
type IdentityPaths = z.infer<typeof IdentityPathsSchema>;
type PathSummary = IdentityPaths["paths"][number];

export function registerTrails(program: Command): void {
  const trail = program.command("trail").description("the trail of one secret path or one identity");

  const secret = trail
    .command("secret <path>")
    .description("every event on exactly this path (it may contain /)");
  addFilters(secret, ["path_prefix"]);
  addPaging(secret)
    .addOption(listOutput())
    .action(async (path: string, opts, command: Command) => {
      const format = listFormat(opts.output);
      await eachPage<EventsPage>(
        clientOf(command),
        `/v1/audit/secrets/${encodePath(path)}`,
        filtersOf(opts, ["path_prefix"]),
        opts,
        (p, i) => printEvents(format, p.entries, i === 0),
      );
    });

  const identity = trail
    .command("identity <id>")
    .description("every action of one identity, e.g. user:ana@acme.example");
  addFilters(identity, ["identity_id", "identity_type"]);
  addPaging(identity)
    .addOption(listOutput())
    .action(async (id: string, opts, command: Command) => {
      const format = listFormat(opts.output);
      await eachPage<EventsPage>(
        clientOf(command),
        `/v1/audit/identities/${encodeURIComponent(id)}`,
        filtersOf(opts, ["identity_id", "identity_type"]),
        opts,
        (p, i) => printEvents(format, p.entries, i === 0),
      );
    });

  const paths = program
    .command("paths <identity-id>")
    .description(
      "offboarding: each distinct path an identity touched, with per-action counts and first/last time",
    );
  addFilters(paths, ["identity_id", "identity_type"]);
  addPaging(paths)
    .addOption(listOutput())
    .action(async (id: string, opts, command: Command) => {
      const format = listFormat(opts.output);
      await eachPage<IdentityPaths>(
        clientOf(command),
        `/v1/audit/identities/${encodeURIComponent(id)}/paths`,
        filtersOf(opts, ["identity_id", "identity_type"]),
        opts,
        (p, i) =>
          printRows(
            format,
            ["path", "actions", "first_at", "last_at"],
            p.paths,
            (s: PathSummary) => [
              s.path,
              Object.entries(s.actions)
                .map(([a, n]) => `${a}=${n}`)
                .join(" "),
              s.first_at,
              s.last_at,
            ],
            i === 0,
          ),
      );
    });
}

/**
 * @module cli/commands/admin
 * `retention get|set` (GET/PUT /v1/audit/retention) and `destinations list|status`
 * (GET /v1/audit/destinations[/{id}], scope audit:admin).
 */
import type { Command } from "commander";
import type { DestinationView } from "../../src/features/delivery/delivery.schema.ts";
import { clientOf } from "../common.ts";
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

const printObject = (v: Record<string, unknown>, output: string | undefined) =>
  objectFormat(output) === "json" ? printJson(v) : write(keyValues(Object.entries(v)));

export function registerAdmin(program: Command): void {
  const retention = program.command("retention").description("the tenant's retention");
  retention
    .command("get")
    .description("retention_days, cold tier (scope audit:read)")
    .addOption(objectOutput())
    .action(async (opts, command: Command) => {
      printObject(await clientOf(command).get("/v1/audit/retention"), opts.output);
    });
  retention
    .command("set <days>")
    .description("set retention_days, 1–3650 (scope audit:admin)")
    .addOption(objectOutput())
    .action(async (days: string, opts, command: Command) => {
      // Sent as typed (a number when it is one): the service judges the value and names the field.
      const value = /^-?\d+(\.\d+)?$/.test(days) ? Number(days) : days;
      printObject(
        await clientOf(command).json("PUT", "/v1/audit/retention", { body: { retention_days: value } }),
        opts.output,
      );
    });

  const destinations = program
    .command("destinations")
    .description("delivery destinations (scope audit:admin)");
  destinations
    .command("list")
    .description("every destination with its delivery status")
    .addOption(listOutput())
    .action(async (opts, command: Command) => {
      const { entries } = await clientOf(command).get<{ entries: DestinationView[] }>(
        "/v1/audit/destinations",
      );
      printRows(
        listFormat(opts.output),
        [
          "destination_id",
          "name",
          "type",
          "format",
          "state",
          "lag_events",
          "delivered",
          "failed",
          "last_success_at",
        ],
        entries,
        (d: DestinationView) => [
          d.destination_id,
          d.name,
          d.type,
          d.format,
          d.status.state,
          d.status.lag_events,
          d.status.delivered,
          d.status.failed,
          d.status.last_success_at,
        ],
      );
    });
  destinations
    .command("status <destination-id>")
    .description("one destination's delivery status: state, position, lag, counts, last error")
    .addOption(objectOutput())
    .action(async (id: string, opts, command: Command) => {
      const d = await clientOf(command).get<DestinationView>(
        `/v1/audit/destinations/${encodeURIComponent(id)}`,
      );
      printObject(
        { destination_id: d.destination_id, name: d.name, paused: d.paused, ...d.status },
        opts.output,
      );
    });
}

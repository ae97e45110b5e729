/**
 * @module features/retention/lifecycle
 * The lifecycle for clusters without ISM (such as the embedded node here): the purge holder also
 * rolls the data stream over by age and size, and moves backing indices older than
 * cold_after_days to the cold tier (`index.routing.allocation.require.temp: cold`) when the
 * cluster has `temp: cold` nodes. With ISM the policy in ilm-policies/ does this and this is off.
 * Old data is deleted by the per-tenant purge, not by index age (an index's age says nothing
 * about its events' timestamps).
 */
import type { Client } from "@opensearch-project/opensearch";
import type { LifecycleThresholds } from "../../config.ts";
import { AUDIT_STREAM } from "../../opensearch/names.ts";

export type LifecycleOptions = Pick<LifecycleThresholds, "rolloverAge" | "rolloverSize"> & {
  coldAfterMs: number;
  /** Whether the cluster has `temp: cold` nodes. */
  coldTier: boolean;
};

export interface LifecycleStep {
  rolledOver: boolean;
  /** Backing indices newly sent to the cold tier. */
  movedToCold: string[];
}

/** One pass: roll over if the write index is old or big enough, then send old indices cold. */
export async function runLifecycle(client: Client, t: LifecycleOptions, now: Date): Promise<LifecycleStep> {
  // Rollover with conditions is a no-op until one is met.
  const rollover = await client.indices.rollover({
    alias: AUDIT_STREAM,
    body: { conditions: { max_age: t.rolloverAge, max_size: t.rolloverSize } } as never,
  });
  const rolledOver = Boolean((rollover.body as { rolled_over?: boolean }).rolled_over);

  const movedToCold: string[] = [];
  if (t.coldTier) {
    const ds = await client.indices.getDataStream({ name: AUDIT_STREAM });
    const backing = ds.body.data_streams[0]?.indices.map((i) => i.index_name) ?? [];
    const older = backing.slice(0, -1); // never the write index
    if (older.length > 0) {
      const settings = await client.indices.getSettings({ index: older.join(","), flat_settings: true });
      for (const [index, s] of Object.entries(
        settings.body as Record<string, { settings: Record<string, string> }>,
      )) {
        const created = Number(s.settings["index.creation_date"]);
        const cold = s.settings["index.routing.allocation.require.temp"] === "cold";
        if (!cold && now.getTime() - created >= t.coldAfterMs) {
          await client.indices.putSettings({
            index,
            body: { "index.routing.allocation.require.temp": "cold" } as never,
          });
          movedToCold.push(index);
        }
      }
    }
  }
  return { rolledOver, movedToCold };
}

/**
 * The purge holder's lifecycle pass, when the cluster has no ISM: its thresholds from config, and
 * whether a cold tier exists from the bootstrap; undefined (no pass) once ISM does it, or before
 * the bootstrap has run.
 */
export function lifecycleWithoutIsm(
  readiness: { result?: { lifecycle: { mode: string }; coldTier: boolean } | undefined },
  t: LifecycleThresholds,
): () => LifecycleOptions | undefined {
  return () => {
    const r = readiness.result;
    if (!r || r.lifecycle.mode === "ism") return undefined;
    return {
      rolloverAge: t.rolloverAge,
      rolloverSize: t.rolloverSize,
      coldAfterMs: t.coldAfterDays * 86_400_000,
      coldTier: r.coldTier,
    };
  };
}

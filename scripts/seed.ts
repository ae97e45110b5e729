/**
 * `npm run seed -- --events 1000000 --tenants 5 --days 90 [--seed 42] [--url http://…]`
 * Writes a realistic, reproducible mix of audit events straight into OpenSearch (bulk, the same
 * documents and ids the API would write), for demos and benchmarks. Uses OPENSEARCH_URL, else the
 * local node (`npm start` or `npm run opensearch -- start` must be running).
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Client } from "@opensearch-project/opensearch";
import { loadDevConfigOrExit } from "../dev/config.ts";
import { normalize } from "../src/events/event.mapping.ts";
import type { IngestEvent } from "../src/events/event.schema.ts";
import type { SealKey } from "../src/events/leaf.ts";
import { bulkBody } from "../src/features/ingest/ingest.bulk.ts";
import { sealKeyOf } from "../src/features/integrity/integrity.keys.ts";
import { parseSignerKey } from "../src/features/integrity/note.ts";
import { bootstrap, loadAssets } from "../src/opensearch/bootstrap.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { syntheticEvents } from "./synthetic.ts";

export const TENANT_NAMES = [
  "acme",
  "globex",
  "initech",
  "umbrella",
  "hooli",
  "stark",
  "wayne",
  "tyrell",
  "cyberdyne",
  "soylent",
];

export async function seed(
  client: Client,
  opts: {
    events: number;
    tenants: number;
    days: number;
    seed: number;
    end?: Date;
    chunk?: number;
    concurrency?: number;
    /** Seal each event as ingest does, so the service's sealer appends it to the tenant's log. */
    seal?: SealKey;
  },
  onProgress: (written: number) => void = () => {},
): Promise<{ written: number; tenants: string[] }> {
  const tenants = Array.from({ length: opts.tenants }, (_, i) => TENANT_NAMES[i] ?? `tenant-${i + 1}`);
  const end = opts.end ?? new Date();
  const ingested = new Date().toISOString();
  const chunk = opts.chunk ?? 5000;
  let written = 0;
  // Bigger tenants first: the first tenant gets the largest share, as in real fleets.
  const shares = tenants.map((_, i) => 1 / (i + 1));
  const total = shares.reduce((a, b) => a + b, 0);
  const counts = shares.map((s) => Math.floor((opts.events * s) / total));
  counts[0] = (counts[0] ?? 0) + opts.events - counts.reduce((a, b) => a + b, 0);

  const jobs: (() => Promise<void>)[] = [];
  for (const [t, tenant] of tenants.entries()) {
    const stream = syntheticEvents({ seed: opts.seed + t, tenant, days: opts.days, end });
    for (let left = counts[t] ?? 0; left > 0; left -= chunk) {
      const n = Math.min(chunk, left);
      jobs.push(async () => {
        // Generated when the job runs, so memory holds a few chunks, not the whole run.
        const events = Array.from(
          { length: n },
          () => normalize(stream.next().value as IngestEvent, () => "unused").event,
        );
        const res = await client.bulk({
          body: bulkBody(AUDIT_STREAM, tenant, events, ingested, opts.seal) as never,
        });
        const failed = (res.body.items as { create?: { status: number; error?: unknown } }[]).filter(
          (i) => (i.create?.status ?? 500) >= 300 && i.create?.status !== 409,
        );
        if (failed.length > 0)
          throw new Error(`bulk failed for ${failed.length} events: ${JSON.stringify(failed[0])}`);
        written += n;
        onProgress(written);
      });
    }
  }
  const concurrency = opts.concurrency ?? 2;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job();
    }),
  );
  return { written, tenants };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "100000" },
      tenants: { type: "string", default: "5" },
      days: { type: "string", default: "90" },
      seed: { type: "string", default: "42" },
      url: { type: "string" },
    },
  });
  const num = (name: keyof typeof values, min: number) => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < min) {
      console.error(`--${name} must be a whole number ≥ ${min}`);
      process.exit(2);
    }
    return v;
  };
  const dev = loadDevConfigOrExit();
  const env = process.env;
  const url = values.url ?? env.OPENSEARCH_URL ?? `http://127.0.0.1:${dev.localNode.httpPort}`;
  const client = createOpenSearchClient({
    url,
    username: env.OPENSEARCH_USERNAME || undefined,
    password: env.OPENSEARCH_PASSWORD || undefined,
    caFile: env.OPENSEARCH_CA_FILE || undefined,
    tlsVerify: env.OPENSEARCH_TLS_VERIFY !== "false",
  });
  await bootstrap(client, await loadAssets());
  // Sealed with the service's key when there is one (the key `npm start` uses), as ingest seals.
  const keyFile = env.INTEGRITY_SIGNING_KEY_FILE ?? dev.devSigningKeyFile;
  const seal =
    keyFile && existsSync(keyFile) ? sealKeyOf(parseSignerKey(readFileSync(keyFile, "utf8"))) : undefined;
  const began = performance.now();
  const events = num("events", 1);
  let last = 0;
  const result = await seed(
    client,
    {
      events,
      tenants: num("tenants", 1),
      days: num("days", 1),
      seed: num("seed", 0),
      ...(seal ? { seal } : {}),
    },
    (written) => {
      if (written - last >= 100_000 || written === events) {
        last = written;
        console.log(`${written} events (${Math.round(written / ((performance.now() - began) / 1000))}/s)`);
      }
    },
  );
  await client.indices.refresh({ index: AUDIT_STREAM });
  const secs = (performance.now() - began) / 1000;
  console.log(
    `seeded ${result.written} events for ${result.tenants.join(", ")} at ${url} in ${secs.toFixed(1)}s`,
  );
  await client.close();
}

/**
 * Shared bench plumbing: an OpenSearch to measure against (OPENSEARCH_URL, or a throwaway local
 * node like the tests'), and the service started as its own process so the load generator does
 * not share its event loop.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@opensearch-project/opensearch";
import { DEFAULT_OPENSEARCH_VERSION, defaultCacheDir } from "../dev/config.ts";
import { freePort, startLocalCluster } from "../dev/local-cluster.ts";
import { seed } from "../scripts/seed.ts";
import { bootstrap, loadAssets } from "../src/opensearch/bootstrap.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { startService, waitForStatus } from "../test/support/process.ts";

export interface BenchEnv {
  opensearchUrl: string;
  apiUrl: string;
  /** The service process (for its memory figures). */
  apiPid: number;
  secret: string;
  /** Starts another service process on the same cluster (other settings, say); stopped by `close`. */
  anotherApi(serviceEnv: Record<string, string>): Promise<{ apiUrl: string; stop(): Promise<void> }>;
  close(): Promise<void>;
}

const BENCH_SECRET = "bench-secret-bench-secret-bench-secret";

/** The service as its own process on a free port, ready. */
async function startApi(opensearchUrl: string, serviceEnv: Record<string, string>) {
  const port = await freePort();
  const svc = startService({
    OPENSEARCH_URL: opensearchUrl,
    AUDIT_JWT_SECRET: BENCH_SECRET,
    PORT: String(port),
    LOG_LEVEL: "warn",
    ...serviceEnv,
  });
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitForStatus(`${apiUrl}/readyz`, 200, 120_000, svc.output);
  return {
    apiUrl,
    pid: svc.child.pid as number,
    stop: async () => {
      if (svc.child.exitCode !== null) return;
      svc.child.kill("SIGTERM");
      await new Promise((r) => svc.child.once("exit", r));
    },
  };
}

/**
 * Budgets so large they never refuse: the throughput benches measure the path, not the policy
 * (bench/load measures the policy, with the defaults).
 */
export const LIFTED_BUDGETS: Record<string, string> = {
  RATE_LIMIT_TENANT_PER_SECOND: "1000000",
  RATE_LIMIT_TENANT_BURST: "1000000",
  RATE_LIMIT_SUBJECT_PER_SECOND: "1000000",
  RATE_LIMIT_SUBJECT_BURST: "1000000",
  CONCURRENCY_PER_TENANT: "1000000",
  CONCURRENCY_TOTAL: "1000000",
};

/**
 * `serviceEnv` adds to the service's environment (export settings, say); budgets are lifted unless
 * `budgets` is "default".
 */
export async function benchEnv(
  serviceEnv: Record<string, string> = {},
  budgets: "lifted" | "default" = "lifted",
  opts: { dataDir?: string } = {},
): Promise<BenchEnv> {
  let stopCluster = async () => {};
  let opensearchUrl = process.env.OPENSEARCH_URL;
  if (!opensearchUrl) {
    // A data folder given is kept for the next run (seeding 10M events takes a while); else a throwaway.
    const keep = opts.dataDir !== undefined;
    if (keep) await mkdir(opts.dataDir as string, { recursive: true });
    const dataDir = opts.dataDir ?? (await mkdtemp(path.join(tmpdir(), "bench-os-")));
    const cluster = await startLocalCluster({
      version: process.env.OPENSEARCH_VERSION || DEFAULT_OPENSEARCH_VERSION,
      cacheDir: process.env.OPENSEARCH_CACHE_DIR || defaultCacheDir(process.env),
      dataDir,
      httpPort: 0,
      nodes: 1,
      heap: process.env.OPENSEARCH_HEAP || "2g",
      javaHome: process.env.OPENSEARCH_JAVA_HOME,
      runAs: "opensearch",
      clusterName: "scaivault-bench",
    });
    opensearchUrl = cluster.url;
    stopCluster = async () => {
      await cluster.stop();
      if (!keep) await rm(dataDir, { recursive: true, force: true });
    };
  }
  const api = await startApi(opensearchUrl, {
    ...(budgets === "lifted" ? LIFTED_BUDGETS : {}),
    ...serviceEnv,
  });
  const others: { stop(): Promise<void> }[] = [];
  return {
    opensearchUrl,
    apiUrl: api.apiUrl,
    apiPid: api.pid,
    secret: BENCH_SECRET,
    anotherApi: async (env) => {
      const other = await startApi(opensearchUrl as string, env);
      others.push(other);
      return other;
    },
    close: async () => {
      await Promise.all([api, ...others].map((a) => a.stop()));
      await stopCluster();
    },
  };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Runs `jobs` with `concurrency` workers; returns the wall time in seconds. */
export async function runConcurrently(jobs: (() => Promise<void>)[], concurrency: number): Promise<number> {
  const queue = [...jobs];
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
  return (performance.now() - began) / 1000;
}

export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

/** Seeds `events` synthetic events (`tenants` tenants, 90 days before `end`) unless the stream already has them. */
export async function ensureSeeded(client: Client, events: number, end: Date, tenants = 5): Promise<number> {
  await bootstrap(client, await loadAssets());
  await client.indices.refresh({ index: AUDIT_STREAM });
  if ((await client.count({ index: AUDIT_STREAM })).body.count < events) {
    console.log(`seeding ${events} events (${tenants} tenants, 90 days)…`);
    const began = performance.now();
    await seed(client, { events, tenants, days: 90, seed: 42, end });
    await client.indices.refresh({ index: AUDIT_STREAM });
    // Merge down so both sides query the same, settled segments.
    await client.indices.forcemerge({ index: AUDIT_STREAM, max_num_segments: 5 });
    console.log(`seeded in ${((performance.now() - began) / 1000).toFixed(0)}s`);
  }
  return (await client.count({ index: AUDIT_STREAM })).body.count;
}

export interface Latencies {
  p50: number;
  p95: number;
}

/**
 * Times each side `iterations` times after a warm-up, rotating which goes first so none always
 * meets a warmer cache. `before` runs untimed ahead of every timed call.
 */
export async function timeSides<K extends string>(
  sides: Record<K, () => Promise<void>>,
  opts: { iterations: number; warmup: number; before?: () => Promise<unknown> },
): Promise<Record<K, Latencies>> {
  const names = Object.keys(sides) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < opts.warmup; i++) for (const n of names) await sides[n]();
  for (let i = 0; i < opts.iterations; i++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(i + j) % names.length] as K;
      await opts.before?.();
      const t = performance.now();
      await sides[n]();
      times[n].push(performance.now() - t);
    }
  }
  const stats = (xs: number[]) => ({
    p50: +percentile(xs, 50).toFixed(2),
    p95: +percentile(xs, 95).toFixed(2),
  });
  return Object.fromEntries(names.map((n) => [n, stats(times[n])])) as Record<K, Latencies>;
}

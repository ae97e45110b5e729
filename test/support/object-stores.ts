/**
 * Real object-store protocol servers on loopback for integration tests: moto (S3), fake-gcs-server
 * (GCS JSON API) and Azurite (Azure Blob). Each start picks a free port, spawns the server in its own
 * process group, waits for its "listening on" line and polls until it answers, and returns its origin
 * and a `stop()`.
 *
 * moto_server and fake-gcs-server are found as test/support/tools says. Azurite is the npm
 * devDependency, run with this Node (22+).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, stopPids } from "../../dev/local-cluster.ts";
import { FAKE_GCS, locateTool, MissingToolError, MOTO } from "./tools.ts";

export interface ObjectStoreServer {
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  pid: number;
  /** SIGTERM to the server's process group, SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface AzuriteServer extends ObjectStoreServer {
  accountName: string;
  accountKey: string;
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  blobEndpoint: string;
  connectionString: string;
}

/** Azurite's well-known development account (https://github.com/Azure/Azurite#default-storage-account). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

function azuriteBlobMain(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("azurite/package.json");
  } catch {
    throw new MissingToolError(
      "azurite is not in node_modules: it is a devDependency, run `npm ci` (.ci/run does)",
    );
  }
  const main = path.join(path.dirname(pkg), "dist", "src", "blob", "main.js");
  if (!existsSync(main)) throw new MissingToolError(`${main} is missing: reinstall with \`npm ci\``);
  return main;
}

// Servers still running when this process exits (a test that forgot stop(), a crash) are killed.
const running = new Set<number>();
process.once("exit", () => {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});

interface SpawnSpec {
  label: string;
  command: string;
  args: (port: number) => string[];
  /**
   * What the server prints once it listens on `port`. Required besides the probe, so that another
   * server which took the port between freePort() and the bind is not mistaken for ours.
   */
  listening: (port: number) => string;
  /** Path polled until the server answers with an HTTP status that `ready` accepts. */
  probe: string;
  ready: (status: number) => boolean;
  env?: Record<string, string>;
  timeoutMs: number;
}

class EarlyExit extends Error {}

async function startOnce(spec: SpawnSpec, port: number): Promise<ObjectStoreServer> {
  const began = performance.now();
  let out = "";
  let listening = false;
  const marker = spec.listening(port);
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
    listening ||= out.includes(marker);
  };
  const child: ChildProcess = spawn(spec.command, spec.args(port), {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir(), ...spec.env },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: stop() signals the group, so nothing the server starts outlives it.
    detached: true,
  });
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("close", () => resolve());
  });
  // A forgotten stop() must not keep the test runner alive; the exit hook above kills the server.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${spec.command}: ${await spawnError}`);
  running.add(pid);

  let stopping: Promise<void> | undefined;
  // Idempotent: a second call waits for the first rather than signalling a pid that may be reused.
  const stop = () => {
    stopping ??= (async () => {
      await stopPids([pid], 5_000);
      await Promise.race([exited, sleep(5_000)]);
      running.delete(pid);
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + spec.timeoutMs;
  let last = "";
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new EarlyExit(
          `${spec.label} exited (${child.exitCode ?? child.signalCode}) before answering on ${endpoint}; output:\n${out}`,
        );
      }
      if (!listening) {
        last = `no "${marker}" in its output yet`;
        await sleep(50);
        continue;
      }
      try {
        const res = await fetch(endpoint + spec.probe, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (spec.ready(res.status)) {
          const secs = ((performance.now() - began) / 1000).toFixed(2);
          if (process.env.OBJECT_STORES_VERBOSE)
            console.log(`${spec.label} on ${endpoint} (pid ${pid}) in ${secs}s`);
          return { endpoint, pid, stop };
        }
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(
      `${spec.label} did not answer on ${endpoint} within ${spec.timeoutMs} ms (${last}); output:\n${out}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts on a free port; if the server dies before answering (say, the port was taken meanwhile), tries another. */
async function start(spec: SpawnSpec): Promise<ObjectStoreServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(spec, await freePort());
    } catch (err) {
      if (!(err instanceof EarlyExit) || attempt >= 3) throw err;
    }
  }
}

/** moto's server (all AWS services; the tests use S3). Clients need `forcePathStyle: true`. */
export function startS3(opts: { timeoutMs?: number } = {}): Promise<ObjectStoreServer> {
  const bin = locateTool(MOTO);
  return start({
    label: "moto_server",
    command: bin,
    args: (port) => ["-H", "127.0.0.1", "-p", String(port)],
    listening: (port) => `Running on http://127.0.0.1:${port}`,
    probe: "/moto-api/data.json",
    ready: (s) => s === 200,
    env: { PYTHONUNBUFFERED: "1" },
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}

/** fake-gcs-server over plain HTTP with an in-memory backend. */
export function startGcs(opts: { timeoutMs?: number } = {}): Promise<ObjectStoreServer> {
  const bin = locateTool(FAKE_GCS);
  return start({
    label: "fake-gcs-server",
    command: bin,
    // -external-url: the Location of resumable uploads; it defaults to the bind address without the port.
    args: (port) => [
      "-scheme",
      "http",
      "-backend",
      "memory",
      "-host",
      "127.0.0.1",
      "-port",
      String(port),
      "-external-url",
      `http://127.0.0.1:${port}`,
    ],
    listening: (port) => `server started at http://127.0.0.1:${port}`,
    probe: "/storage/v1/b",
    ready: (s) => s === 200,
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}

/** Azurite's Blob service only, in memory, with the well-known dev account. */
export async function startAzurite(opts: { timeoutMs?: number } = {}): Promise<AzuriteServer> {
  const main = azuriteBlobMain();
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22)
    throw new MissingToolError(`Azurite needs Node 22+, this is ${process.version} (${process.execPath})`);
  const server = await start({
    label: "azurite-blob",
    command: process.execPath,
    args: (port) => [
      main,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--inMemoryPersistence",
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
    ],
    listening: (port) => `successfully listens on http://127.0.0.1:${port}`,
    // Unauthenticated: 403 (or 400) means the server is up and parsing requests.
    probe: `/${AZURITE_ACCOUNT}?comp=list`,
    ready: (s) => s > 0,
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
  const blobEndpoint = `${server.endpoint}/${AZURITE_ACCOUNT}`;
  return {
    ...server,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
  };
}

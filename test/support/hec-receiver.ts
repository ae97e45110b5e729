/**
 * A real Splunk HTTP Event Collector on loopback for the splunk_hec destination's tests: the
 * OpenTelemetry Collector's splunk_hec receiver (test/support/hec-receiver, a minimal collector that
 * .ci/run builds into the tool cache) behind a front that checks the token as Splunk does. It takes
 * `POST /services/collector/event` (concatenated JSON events, gzip or not), indexer acknowledgement
 * (`X-Splunk-Request-Channel`, then `POST /services/collector/ack`) and `/services/collector/health`;
 * its file exporter writes each request's events, unbuffered, before answering, so once a POST has
 * had its 200 the events are in received().
 *
 * What the OTel receiver does unlike Splunk, which tests must allow for:
 * - within one request, events are grouped by (host, source, sourcetype, index) in order of first
 *   appearance; order is kept within a group and across requests, not across groups of a request;
 * - an event's time goes through a float64 (seconds × 1e9), so timeUnixNano is off by up to a few
 *   hundred nanoseconds: the microseconds survive (rounded), finer digits do not; an event without
 *   time has none (Splunk would use the time it arrived);
 * - numbers in the event come back as JSON numbers (all are float64 there: beyond 2^53 they round);
 * - ack IDs count from 1 per channel (Splunk's from 0), and an ID is acknowledged as soon as it is
 *   answered, since the events are written by then (never a pending false); a query that reports an
 *   ID true forgets it, as Splunk does. Ack queries need the token too.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopPids } from "../../dev/local-cluster.ts";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { HEC_RECEIVER, locateTool, MissingToolError } from "./tools.ts";

const SOURCE = path.join(PROJECT_ROOT, "test", "support", "hec-receiver");

/** One event as the receiver stored it. */
export interface HecEvent {
  /** The event's `event`, back as plain JSON (object, string, number, …). */
  event: unknown;
  /** Epoch seconds, rounded to the microsecond (see timeUnixNano); undefined when the event had no time. */
  time: number | undefined;
  /** What the receiver stored, in nanoseconds, as a decimal string. */
  timeUnixNano: string | undefined;
  host: string | undefined;
  source: string | undefined;
  sourcetype: string | undefined;
  index: string | undefined;
  /** The event's `fields` (indexed fields), {} when it had none. */
  fields: Record<string, unknown>;
}

export interface HecReceiver {
  /** Base URL, e.g. `http://127.0.0.1:41234`; events go to `${url}/services/collector/event`. */
  url: string;
  token: string;
  pid: number;
  /** Every event received so far, in order (see the module comment); after stop(), all it received. */
  received(): Promise<HecEvent[]>;
  /** received() once it holds at least `count`. */
  waitForEvents(count: number, timeoutMs?: number): Promise<HecEvent[]>;
  /** The receiver's stdout and stderr so far (the last 16 KB). */
  output(): string;
  /** SIGTERM to the receiver's process group, SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

/** The digest .ci/run builds into the binary: SHA-256 of main.go, go.mod, go.sum, first 12 hex digits. */
function sourceDigest(): string {
  const digest = createHash("sha256");
  for (const f of ["main.go", "go.mod", "go.sum"]) digest.update(readFileSync(path.join(SOURCE, f)));
  return digest.digest("hex").slice(0, 12);
}

function locateReceiver(): string {
  const bin = locateTool(HEC_RECEIVER);
  const want = sourceDigest();
  let got: string;
  try {
    got = execFileSync(bin, ["-source"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch (err) {
    throw new MissingToolError(
      `${bin} -source failed (${err}): rebuild it with the step ${HEC_RECEIVER.step} of .ci/run`,
    );
  }
  // A binary from other source would test the wrong receiver without saying so.
  if (got !== want)
    throw new MissingToolError(
      `${bin} was built from source ${got}, the checkout's is ${want}: the step ${HEC_RECEIVER.step} ` +
        `of .ci/run rebuilds it; to do the same by hand:\n  ${HEC_RECEIVER.install(path.dirname(path.dirname(bin)))}`,
    );
  return bin;
}

/** OTLP JSON's AnyValue back to plain JSON. */
type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };

function plain(v: AnyValue | undefined): unknown {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  // NaN and the infinities are strings in OTLP JSON.
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plain);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  // An empty AnyValue is how a JSON null arrives.
  return null;
}

function attributes(kvs: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plain(kv.value)]));
}

interface ExportedLogs {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: { logRecords?: { timeUnixNano?: string; body?: AnyValue; attributes?: KeyValue[] }[] }[];
  }[];
}

/** One line of the file exporter's output (one request) as events. */
function eventsOf(line: string): HecEvent[] {
  const out: HecEvent[] = [];
  for (const rl of (JSON.parse(line) as ExportedLogs).resourceLogs ?? []) {
    // The receiver's default hec_metadata_to_otel_attrs names.
    const res = attributes(rl.resource?.attributes);
    const str = (k: string) => (typeof res[k] === "string" ? (res[k] as string) : undefined);
    for (const sl of rl.scopeLogs ?? []) {
      for (const r of sl.logRecords ?? []) {
        const ns = r.timeUnixNano && r.timeUnixNano !== "0" ? r.timeUnixNano : undefined;
        out.push({
          event: plain(r.body),
          time: ns === undefined ? undefined : seconds(ns),
          timeUnixNano: ns,
          host: str("host.name"),
          source: str("com.splunk.source"),
          sourcetype: str("com.splunk.sourcetype"),
          index: str("com.splunk.index"),
          fields: attributes(r.attributes),
        });
      }
    }
  }
  return out;
}

/**
 * Nanoseconds to epoch seconds rounded to the microsecond. Whole microseconds are exact in a double
 * (< 2^53) and a division by 1e6 rounds correctly, so this is the very number a sender's JSON
 * `1764950000.123456` parses to.
 */
function seconds(ns: string): number {
  return Number((BigInt(ns) + 500n) / 1000n) / 1e6;
}

// Receivers still running when this process exits (a test that forgot stop(), a crash) are killed.
const running = new Map<number, string>();
process.once("exit", () => {
  for (const [pid, dir] of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A receiver on a free loopback port (the program binds port 0 and says which it got, so no other
 * server can take it meanwhile) that accepts `Authorization: Splunk <token>`. stop() removes its folder.
 */
export async function startHecReceiver(
  opts: { token?: string; timeoutMs?: number } = {},
): Promise<HecReceiver> {
  const bin = locateReceiver();
  const token = opts.token ?? randomUUID();
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const began = performance.now();
  const dir = await mkdtemp(path.join(tmpdir(), "scaivault-hec-"));
  const file = path.join(dir, "received.jsonl");

  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
  };
  const child: ChildProcess = spawn(bin, ["-listen", "127.0.0.1:0", "-token", token, "-dir", dir], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: stop() signals the group.
    detached: true,
  });
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("close", () => resolve());
  });
  // A forgotten stop() must not keep the test runner alive; the exit hook above kills the receiver.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const pid = child.pid;
  if (pid === undefined) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start ${bin}: ${await spawnError}`);
  }
  running.set(pid, dir);

  let final: HecEvent[] | undefined;
  const read = async (): Promise<HecEvent[]> => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const lines = text.split("\n");
    // Only whole lines: the last one is empty, or still being written.
    lines.pop();
    return lines.flatMap(eventsOf);
  };
  const received = async () => final ?? (await read());

  let stopping: Promise<void> | undefined;
  // Idempotent: a second call waits for the first rather than signalling a pid that may be reused.
  const stop = () => {
    stopping ??= (async () => {
      await stopPids([pid], 5_000);
      await Promise.race([exited, sleep(5_000)]);
      running.delete(pid);
      final = await read();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const waitForEvents = async (count: number, waitMs = 10_000) => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const got = await received();
      if (got.length >= count) return got;
      if (Date.now() > deadline)
        throw new Error(
          `the HEC receiver stored ${got.length} of ${count} events within ${waitMs} ms; its output:\n${out}`,
        );
      await sleep(50);
    }
  };

  const deadline = Date.now() + timeoutMs;
  let last = "";
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `hec-receiver exited (${child.exitCode ?? child.signalCode}) before answering; output:\n${out}`,
        );
      const url = /hec-receiver listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      if (!url) {
        last = "no listening line in its output yet";
        await sleep(50);
        continue;
      }
      try {
        // The front answers 503 until the collector's receiver listens behind it.
        const res = await fetch(`${url}/services/collector/health`, { signal: AbortSignal.timeout(2_000) });
        const body = await res.text();
        if (res.status === 200) {
          const secs = ((performance.now() - began) / 1000).toFixed(2);
          if (process.env.HEC_RECEIVER_VERBOSE)
            console.log(`hec-receiver on ${url} (pid ${pid}) in ${secs}s`);
          return { url, token, pid, received, waitForEvents, output: () => out, stop };
        }
        last = `HTTP ${res.status} ${body}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(`hec-receiver did not answer within ${timeoutMs} ms (${last}); output:\n${out}`);
  } catch (err) {
    await stop();
    throw err;
  }
}

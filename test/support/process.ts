import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";

/**
 * Starts the service as a real process — `node src/main.ts` (what the image runs), or
 * `dev/start.ts` (what `npm start` runs: a local node when there is no OPENSEARCH_URL); output is
 * collected for assertions.
 */
export function startService(
  env: Record<string, string>,
  entry: "src/main.ts" | "dev/start.ts" = "src/main.ts",
): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(process.execPath, [entry], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      LOG_LEVEL: "info",
      // The delivery tests own the destinations of the shared cluster: a service started by another
      // test would take their leases (without their secrets). A test of delivery sets it to true.
      DELIVERY_WORKER: "false",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  return { child, output: () => out };
}

/** Polls `url` until it answers `status`, or fails with the service's output. */
export async function waitForStatus(
  url: string,
  status: number,
  timeoutMs: number,
  output: () => string,
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (res.status === status) return res;
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms; service output:\n${output()}`);
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

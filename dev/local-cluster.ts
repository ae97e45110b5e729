/**
 * @module opensearch/local-cluster
 * Runs a real OpenSearch on loopback from a provisioned home: one node (the service's embedded
 * default and the tests' throwaway node) or two nodes tagged `temp: hot` and `temp: cold` (for the
 * cold tier). OpenSearch refuses to run as root, so as root each node runs as an unprivileged user.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { chmod, chown, cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ProvisionedHome, provisionOpenSearch } from "./distribution.ts";
import { findJdk } from "./jdk.ts";

export interface LocalClusterOptions {
  version: string;
  cacheDir: string;
  /** Each node keeps config, data and logs under `<dataDir>/<node name>`. */
  dataDir: string;
  /** HTTP port of the first node; 0 picks a free one. */
  httpPort: number;
  nodes: 1 | 2;
  heap: string;
  javaHome?: string | undefined;
  runAs: string;
  clusterName?: string;
  startTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface NodeInfo {
  name: string;
  pid: number;
  httpPort: number;
  transportPort: number;
  temp: "hot" | "cold" | undefined;
  dir: string;
}

export interface LocalCluster {
  url: string;
  home: ProvisionedHome;
  nodes: NodeInfo[];
  /** Sends SIGTERM to every node and waits for them to exit (SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export class ClusterStartError extends Error {
  override name = "ClusterStartError";
}

/** A free TCP port on loopback (the OS picks it; a race with another process is possible but rare). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** The uid/gid to run OpenSearch as: ourselves, or (as root) an unprivileged system user, created if needed. */
function runAsIds(user: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    try {
      const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user]);
  const created = lookup();
  if (!created) throw new ClusterStartError(`could not create the user ${user} to run OpenSearch as`);
  return created;
}

/** opensearch.yml for one node: loopback only, its own paths, no disk watermarks (dev/test machines fill up). */
export function nodeSettings(opts: {
  clusterName: string;
  node: Omit<NodeInfo, "pid">;
  peers: Omit<NodeInfo, "pid">[];
  /** Whether the index-management plugin is installed (its settings are unknown otherwise). */
  ism: boolean;
}): string {
  const { node, peers } = opts;
  const lines = [
    `cluster.name: ${opts.clusterName}`,
    `node.name: ${node.name}`,
    "network.host: 127.0.0.1",
    `http.port: ${node.httpPort}`,
    `transport.port: ${node.transportPort}`,
    `path.data: ${path.join(node.dir, "data")}`,
    `path.logs: ${path.join(node.dir, "logs")}`,
    "cluster.routing.allocation.disk.threshold_enabled: false",
    "action.auto_create_index: false",
  ];
  if (opts.ism) {
    // ISM checks policies every minute at most; jitter off so lifecycle tests are predictable.
    lines.push("plugins.index_state_management.job_interval: 1", "plugins.index_state_management.jitter: 0");
  }
  if (peers.length === 1) {
    lines.push("discovery.type: single-node");
  } else {
    lines.push(`discovery.seed_hosts: [${peers.map((p) => `"127.0.0.1:${p.transportPort}"`).join(", ")}]`);
    lines.push(`cluster.initial_cluster_manager_nodes: [${peers.map((p) => `"${p.name}"`).join(", ")}]`);
  }
  if (node.temp) lines.push(`node.attr.temp: ${node.temp}`);
  return `${lines.join("\n")}\n`;
}

/** jvm.options with absolute log paths (the stock file's are relative to the working directory) and our heap. */
export function jvmOptions(stock: string, nodeDir: string, heap: string): string {
  return stock
    .replace(/^-Xms\S+$/m, `-Xms${heap}`)
    .replace(/^-Xmx\S+$/m, `-Xmx${heap}`)
    .replaceAll("file=logs/gc.log", `file=${path.join(nodeDir, "logs", "gc.log")}`)
    .replace("-XX:HeapDumpPath=data", `-XX:HeapDumpPath=${path.join(nodeDir, "data")}`)
    .replace("-XX:ErrorFile=logs/", `-XX:ErrorFile=${path.join(nodeDir, "logs")}/`);
}

async function chownTree(dir: string, ids: { uid: number; gid: number }): Promise<void> {
  await chown(dir, ids.uid, ids.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, ids);
    else await chown(p, ids.uid, ids.gid);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops nodes by pid: SIGTERM to each node's process group, then SIGKILL after `graceMs`. */
export async function stopPids(pids: number[], graceMs = 30_000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(200);
  for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}

async function waitForCluster(
  url: string,
  nodes: NodeInfo[],
  expectNodes: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    for (const n of nodes) {
      if (!alive(n.pid)) {
        throw new ClusterStartError(
          `OpenSearch node ${n.name} exited during start-up; last lines of ${n.dir}/logs/console.log:\n${tail(path.join(n.dir, "logs", "console.log"))}`,
        );
      }
    }
    try {
      const res = await fetch(
        `${url}/_cluster/health?wait_for_nodes=${expectNodes}&wait_for_status=yellow&timeout=2s`,
        {
          signal: AbortSignal.timeout(5_000),
        },
      );
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(500);
  }
  throw new ClusterStartError(
    `OpenSearch did not answer at ${url} within ${timeoutMs / 1000}s (last: ${last})`,
  );
}

/** Provisions (first time only) and starts a local cluster; resolves once it is healthy. */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const log = opts.log ?? (() => {});
  const jdk = findJdk({ explicit: opts.javaHome, javaHome: process.env.JAVA_HOME });
  const home = await provisionOpenSearch({
    version: opts.version,
    cacheDir: opts.cacheDir,
    javaHome: jdk.home,
    log,
  });
  const ids = runAsIds(opts.runAs);
  const clusterName = opts.clusterName ?? "scaivault-audit";

  const specs: Omit<NodeInfo, "pid">[] = [];
  const temps: NodeInfo["temp"][] = opts.nodes === 2 ? ["hot", "cold"] : [undefined];
  for (const [i, temp] of temps.entries()) {
    const name = opts.nodes === 2 ? `node-${temp}` : "node-1";
    const httpPort = i === 0 && opts.httpPort !== 0 ? opts.httpPort : await freePort();
    specs.push({ name, httpPort, transportPort: await freePort(), temp, dir: path.join(opts.dataDir, name) });
  }

  await mkdir(opts.dataDir, { recursive: true });
  // The unprivileged user must be able to reach its node folders (mkdtemp makes 0700 folders).
  if (ids) await chmod(opts.dataDir, 0o755);
  const stockJvm = await readFile(path.join(home.home, "config", "jvm.options"), "utf8");
  const nodes: NodeInfo[] = [];
  try {
    for (const spec of specs) {
      const config = path.join(spec.dir, "config");
      await mkdir(path.join(spec.dir, "data"), { recursive: true });
      await mkdir(path.join(spec.dir, "logs"), { recursive: true });
      await mkdir(path.join(spec.dir, "tmp"), { recursive: true });
      // Config is rewritten at every start so a changed port or heap takes effect; data is kept.
      await cp(path.join(home.home, "config"), config, { recursive: true, force: true });
      await writeFile(
        path.join(config, "opensearch.yml"),
        nodeSettings({
          clusterName,
          node: spec,
          peers: specs,
          ism: home.plugins.includes("opensearch-index-management"),
        }),
      );
      await writeFile(path.join(config, "jvm.options"), jvmOptions(stockJvm, spec.dir, opts.heap));
      if (ids) await chownTree(spec.dir, ids);

      const out = openSync(path.join(spec.dir, "logs", "console.log"), "a");
      const child = spawn(path.join(home.home, "bin", "opensearch"), [], {
        cwd: home.home,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          LANG: "C.UTF-8",
          OPENSEARCH_JAVA_HOME: jdk.home,
          OPENSEARCH_PATH_CONF: config,
          OPENSEARCH_TMPDIR: path.join(spec.dir, "tmp"),
        },
        stdio: ["ignore", out, out],
        // Own process group, so stopping the node also stops the JVM the launcher script starts.
        detached: true,
        ...(ids ?? {}),
      });
      closeSync(out);
      child.unref();
      if (child.pid === undefined) throw new ClusterStartError(`could not start ${home.home}/bin/opensearch`);
      nodes.push({ ...spec, pid: child.pid });
      log(
        `started OpenSearch ${opts.version} node ${spec.name} (pid ${child.pid}, java ${jdk.major}) on 127.0.0.1:${spec.httpPort}`,
      );
    }
    const url = `http://127.0.0.1:${nodes[0]?.httpPort}`;
    await waitForCluster(url, nodes, nodes.length, opts.startTimeoutMs ?? 180_000);
    return {
      url,
      home,
      nodes,
      stop: () => stopPids(nodes.map((n) => n.pid)),
    };
  } catch (err) {
    await stopPids(
      nodes.map((n) => n.pid),
      5_000,
    );
    throw err;
  }
}

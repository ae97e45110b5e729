/**
 * `npm run opensearch -- start|stop|status [--nodes 1|2] [--port N] [--data-dir DIR]`
 * Runs the embedded OpenSearch on its own, in the background: one node, or with `--nodes 2` a hot
 * node and a cold node (`node.attr.temp`). State (pids, URL) is kept in `<data-dir>/cluster.json`.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadDevConfigOrExit } from "./config.ts";
import { startLocalCluster, stopPids } from "./local-cluster.ts";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    nodes: { type: "string", default: "1" },
    port: { type: "string" },
    "data-dir": { type: "string" },
  },
});
const command = positionals[0] ?? "status";

const config = loadDevConfigOrExit();
const nodes = values.nodes === "2" ? 2 : 1;
const dataDir = path.resolve(
  values["data-dir"] ?? (nodes === 2 ? `${config.localNode.dataDir}-cold-tier` : config.localNode.dataDir),
);
const stateFile = path.join(dataDir, "cluster.json");

interface State {
  url: string;
  version: string;
  nodes: { name: string; pid: number; httpPort: number; temp?: string }[];
}

const readState = (): State | undefined =>
  existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as State) : undefined;

async function health(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { status: string; number_of_nodes: number };
    return `${body.status}, ${body.number_of_nodes} node(s)`;
  } catch {
    return undefined;
  }
}

switch (command) {
  case "start": {
    const running = readState();
    if (running && (await health(running.url))) {
      console.log(`already running at ${running.url}`);
      break;
    }
    await mkdir(dataDir, { recursive: true });
    const began = Date.now();
    const cluster = await startLocalCluster({
      ...config.localNode,
      dataDir,
      httpPort: values.port ? Number(values.port) : config.localNode.httpPort,
      nodes,
      log: (m) => console.log(m),
    });
    const state: State = {
      url: cluster.url,
      version: cluster.home.version,
      nodes: cluster.nodes.map((n) => ({
        name: n.name,
        pid: n.pid,
        httpPort: n.httpPort,
        ...(n.temp ? { temp: n.temp } : {}),
      })),
    };
    await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    console.log(
      `OpenSearch ${state.version} ready at ${cluster.url} in ${((Date.now() - began) / 1000).toFixed(1)}s`,
    );
    if (cluster.home.missing.length > 0) {
      console.log(
        `note: not installed (not served by the registry): ${cluster.home.missing.map((m) => m.artifact).join(", ")}`,
      );
    }
    break;
  }
  case "stop": {
    const state = readState();
    if (!state) {
      console.log("not running");
      break;
    }
    await stopPids(state.nodes.map((n) => n.pid));
    await rm(stateFile, { force: true });
    console.log(`stopped ${state.nodes.length} node(s)`);
    break;
  }
  case "status": {
    const state = readState();
    const h = state && (await health(state.url));
    if (!state || !h) {
      console.log("not running");
      process.exitCode = 3;
      break;
    }
    console.log(`running at ${state.url} (OpenSearch ${state.version}): ${h}`);
    for (const n of state.nodes)
      console.log(`  ${n.name} pid ${n.pid} port ${n.httpPort}${n.temp ? ` temp=${n.temp}` : ""}`);
    break;
  }
  default:
    console.error(`unknown command ${command}; use start, stop or status`);
    process.exitCode = 2;
}

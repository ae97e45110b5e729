/**
 * The integrity tests' independent oracle: test/support/tlog-oracle (Go, on the Go checksum
 * database's `sumdb/tlog` and `sumdb/note`), built on first use into the tool cache under a name
 * that changes with its source, and run as one process answering a JSON line per request.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { MissingToolError, toolCacheDir } from "./tools.ts";

const SOURCE = path.join(PROJECT_ROOT, "test", "support", "tlog-oracle");

export interface OracleAnswer {
  ok: boolean;
  error?: string;
  root?: string;
  stored?: string[];
  proof?: string[];
  text?: string;
  signed?: string[];
}

export interface Oracle {
  /** One request (byte fields as base64, as Go's encoding/json reads []byte). */
  ask(request: Record<string, unknown>): Promise<OracleAnswer>;
  close(): void;
}

function goBinary(): string {
  const candidates = [process.env.GO, "go", "/usr/local/go/bin/go"].filter(Boolean) as string[];
  for (const go of candidates) {
    try {
      execFileSync(go, ["version"], { stdio: "ignore" });
      return go;
    } catch {}
  }
  throw new MissingToolError(
    "no Go toolchain (go on PATH or /usr/local/go/bin/go) to build test/support/tlog-oracle",
  );
}

/** The oracle's binary, built when its source changed (`.ci/run` builds it ahead). */
export function buildOracle(): string {
  const digest = createHash("sha256");
  for (const f of ["main.go", "go.mod", "go.sum"]) digest.update(readFileSync(path.join(SOURCE, f)));
  const bin = path.join(toolCacheDir(), "bin", `tlog-oracle-${digest.digest("hex").slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(path.dirname(bin), { recursive: true });
    // Test files build it in parallel: each to its own name, then renamed into place (atomic).
    const own = `${bin}.${process.pid}`;
    execFileSync(goBinary(), ["build", "-o", own, "."], {
      cwd: SOURCE,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    renameSync(own, bin);
  }
  return bin;
}

export function startOracle(): Oracle {
  const child = spawn(buildOracle(), [], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting: ((a: OracleAnswer) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => waiting.shift()?.(JSON.parse(line)));
  return {
    ask: (request) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${JSON.stringify(request)}\n`);
      }),
    close: () => child.stdin.end(),
  };
}

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

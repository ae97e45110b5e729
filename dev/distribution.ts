/**
 * @module opensearch/distribution
 * Provisions an OpenSearch home from Maven Central, once, into a cache outside the work tree:
 * the integ-test-zip distribution plus, when the registry has them for this version, the
 * job-scheduler and index-management (ISM) plugins. Maven fetches with strict checksums and we
 * check the SHA-1 it stored again before unpacking, so a truncated or tampered file never runs.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import extractZip from "extract-zip";

const run = promisify(execFile);

export interface Artifact {
  group: string;
  artifact: string;
  version: string;
  type: "zip" | "jar";
}

export interface ProvisionedHome {
  home: string;
  version: string;
  /** Modules shipped in the distribution's modules/ folder. */
  modules: string[];
  /** Plugins installed from Maven, by name. */
  plugins: string[];
  /** Plugins we wanted but the registry does not serve for this version, with the reason. */
  missing: { artifact: string; reason: string }[];
}

export class ProvisionError extends Error {
  override name = "ProvisionError";
}

/** Modules the service cannot work without: delete-by-query (retention purges) lives in reindex. */
export const REQUIRED_MODULES = ["reindex"];

/** ISM: job-scheduler first (index-management extends it). Version = OpenSearch version + ".0". */
export function ismPlugins(version: string): Artifact[] {
  return [
    {
      group: "org.opensearch.plugin",
      artifact: "opensearch-job-scheduler",
      version: `${version}.0`,
      type: "zip",
    },
    {
      group: "org.opensearch.plugin",
      artifact: "opensearch-index-management",
      version: `${version}.0`,
      type: "zip",
    },
  ];
}

export function distributionArtifact(version: string): Artifact {
  return {
    group: "org.opensearch.distribution.integ-test-zip",
    artifact: "opensearch",
    version,
    type: "zip",
  };
}

const coords = (a: Artifact) => `${a.group}:${a.artifact}:${a.version}:${a.type}`;

/** Where Maven puts an artifact inside a local repository. */
export function repoPath(repo: string, a: Artifact): string {
  return path.join(
    repo,
    ...a.group.split("."),
    a.artifact,
    a.version,
    `${a.artifact}-${a.version}.${a.type}`,
  );
}

async function sha1(file: string): Promise<string> {
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

class NotServed extends Error {}

/** Fetches one artifact with Maven into `repo`, verifies it, and returns its path. */
async function fetchArtifact(repo: string, a: Artifact): Promise<string> {
  const file = repoPath(repo, a);
  if (!existsSync(file)) {
    try {
      await run(
        "mvn",
        [
          "-B",
          "-q",
          "--strict-checksums",
          "dependency:get",
          `-Dartifact=${coords(a)}`,
          "-Dtransitive=false",
          `-Dmaven.repo.local=${repo}`,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
      if (e.code === "ENOENT") {
        throw new ProvisionError(
          "mvn (Apache Maven) is not on the PATH; install it (apt-get install maven) to provision OpenSearch",
        );
      }
      const out = `${e.stdout ?? ""}${e.stderr ?? ""}`;
      if (/Could not find artifact|was not found in/.test(out))
        throw new NotServed(`${coords(a)} is not served by the Maven registry`);
      throw new ProvisionError(
        `mvn could not fetch ${coords(a)}:\n${out
          .split("\n")
          .filter((l) => l.includes("ERROR"))
          .slice(0, 5)
          .join("\n")}`,
      );
    }
  }
  const expected = (await readFile(`${file}.sha1`, "utf8").catch(() => "")).trim().split(/\s+/)[0];
  if (!expected)
    throw new ProvisionError(`no checksum stored beside ${file}; delete ${path.dirname(file)} and retry`);
  const actual = await sha1(file);
  if (actual !== expected) {
    await rm(path.dirname(file), { recursive: true, force: true });
    throw new ProvisionError(
      `checksum mismatch for ${coords(a)} (expected ${expected}, got ${actual}); the download was removed, retry`,
    );
  }
  return file;
}

const MARKER = "provisioned.json";

/**
 * Returns a ready OpenSearch home for `version`, provisioning it on first use. Safe to call from
 * several processes at once: each unpacks into its own temporary folder and renames it into place.
 */
export async function provisionOpenSearch(opts: {
  version: string;
  cacheDir: string;
  javaHome: string;
  log?: (msg: string) => void;
}): Promise<ProvisionedHome> {
  const log = opts.log ?? (() => {});
  const home = path.join(opts.cacheDir, `opensearch-${opts.version}`);
  const marker = path.join(home, MARKER);
  if (existsSync(marker)) return JSON.parse(await readFile(marker, "utf8")) as ProvisionedHome;

  const repo = path.join(opts.cacheDir, "maven");
  await mkdir(repo, { recursive: true });
  log(`provisioning OpenSearch ${opts.version} into ${home} (first start only)`);
  const zip = await fetchArtifact(repo, distributionArtifact(opts.version)).catch((err) => {
    if (err instanceof NotServed) {
      throw new ProvisionError(`${err.message}; set OPENSEARCH_VERSION to a version the registry has`);
    }
    throw err;
  });

  const staging = path.join(opts.cacheDir, `.staging-${process.pid}-${Date.now()}`);
  await extractZip(zip, { dir: staging });
  const [top] = await readdir(staging);
  if (!top) throw new ProvisionError(`${zip} is empty`);
  const staged = path.join(staging, top);

  const modules = (await readdir(path.join(staged, "modules"))).sort();
  const absent = REQUIRED_MODULES.filter((m) => !modules.includes(m));
  if (absent.length > 0) {
    throw new ProvisionError(
      `the ${opts.version} distribution lacks the module(s) ${absent.join(", ")}; choose another OPENSEARCH_VERSION`,
    );
  }

  const plugins: string[] = [];
  const missing: ProvisionedHome["missing"] = [];
  for (const plugin of ismPlugins(opts.version)) {
    try {
      const file = await fetchArtifact(repo, plugin);
      await run(path.join(staged, "bin", "opensearch-plugin"), ["install", "--batch", `file://${file}`], {
        env: { ...process.env, OPENSEARCH_JAVA_HOME: opts.javaHome },
      });
      plugins.push(plugin.artifact);
    } catch (err) {
      if (!(err instanceof NotServed)) throw err;
      missing.push({ artifact: coords(plugin), reason: err.message });
      log(`${err.message}: Index State Management will not be available on the embedded node`);
      break; // index-management is useless without job-scheduler
    }
  }

  const result: ProvisionedHome = { home, version: opts.version, modules, plugins, missing };
  await writeFile(path.join(staged, MARKER), `${JSON.stringify(result, null, 2)}\n`);
  try {
    await rename(staged, home);
  } catch (err) {
    // Another process won the race: its home is as good as ours.
    if (!existsSync(marker)) throw err;
  }
  await rm(staging, { recursive: true, force: true });
  return result;
}

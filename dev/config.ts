/**
 * @module dev/config
 * Settings of the development tools — the embedded OpenSearch node `npm start` runs when no
 * OPENSEARCH_URL is set, its Maven cache, and the dev JWT secret — parsed once from the
 * environment like the service's own (src/config). None of this is in the runtime or its image.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../src/config.ts";
import { generateSignerKey } from "../src/features/integrity/note.ts";

/** Newest OpenSearch 3.x whose distribution zip the Maven registry serves here (see README). */
export const DEFAULT_OPENSEARCH_VERSION = "3.8.0";

const port = z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === "" ? undefined : v));

const schema = z.object({
  OPENSEARCH_URL: optionalString,
  AUDIT_JWT_SECRET: optionalString,
  AUDIT_JWKS_URL: optionalString,
  INTEGRITY_SIGNING_KEY_FILE: optionalString,
  OPENSEARCH_VERSION: z
    .string()
    .regex(/^3\.\d+\.\d+$/, "must be an OpenSearch 3.x version such as 3.8.0")
    .default(DEFAULT_OPENSEARCH_VERSION),
  OPENSEARCH_CACHE_DIR: optionalString,
  OPENSEARCH_DATA_DIR: z.string().default(".data/opensearch"),
  OPENSEARCH_JAVA_HOME: optionalString,
  OPENSEARCH_LOCAL_PORT: port.default(9200),
  OPENSEARCH_HEAP: z
    .string()
    .regex(/^\d+[mg]$/, "must be a heap size such as 512m or 1g")
    .default("1g"),
  OPENSEARCH_RUN_AS: z.string().min(1).default("opensearch"),
});

export interface LocalNodeSettings {
  readonly version: string;
  readonly cacheDir: string;
  readonly dataDir: string;
  readonly javaHome: string | undefined;
  readonly httpPort: number;
  readonly heap: string;
  readonly runAs: string;
}

export interface DevConfig {
  /** `local`: no OPENSEARCH_URL, so `npm start` provisions and runs a node; `remote`: it uses that URL. */
  readonly mode: "local" | "remote";
  readonly localNode: LocalNodeSettings;
  /** Local mode without a configured secret: the file holding the generated dev secret. */
  readonly devSecretFile: string | undefined;
  /** Local mode without a checkpoint signing key: the file holding the generated one. */
  readonly devSigningKeyFile: string | undefined;
}

/**
 * Where downloaded OpenSearch artifacts live: outside the work tree, shared by every checkout.
 * As root the folder must be readable by the unprivileged user that runs OpenSearch, and root's
 * home usually is not, so root uses /var/cache.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv, isRoot = process.getuid?.() === 0): string {
  if (isRoot) return "/var/cache/scaivault-audit";
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && xdg !== "" ? xdg : path.join(homedir(), ".cache"), "scaivault-audit");
}

/**
 * Local mode without AUDIT_JWT_SECRET: a random secret, kept in a git-ignored file so that
 * `npm run token` (another process) signs tokens the running service accepts.
 */
export function devSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const secret = randomBytes(32).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Local mode without a checkpoint signing key: an Ed25519 signer key, generated once into `file`. */
export function devSigningKey(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${generateSignerKey("scaivault.local/audit")}\n`, { mode: 0o600 });
  }
  return file;
}

/** Parses the development settings. Throws ConfigError naming every bad variable. */
export function loadDevConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DevConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "environment"), message: i.message })),
    );
  }
  const e = parsed.data;
  const local = e.OPENSEARCH_URL === undefined;
  return Object.freeze({
    mode: local ? "local" : "remote",
    localNode: Object.freeze({
      version: e.OPENSEARCH_VERSION,
      cacheDir: path.resolve(cwd, e.OPENSEARCH_CACHE_DIR ?? defaultCacheDir(env)),
      dataDir: path.resolve(cwd, e.OPENSEARCH_DATA_DIR),
      javaHome: e.OPENSEARCH_JAVA_HOME,
      httpPort: e.OPENSEARCH_LOCAL_PORT,
      heap: e.OPENSEARCH_HEAP,
      runAs: e.OPENSEARCH_RUN_AS,
    }),
    devSecretFile:
      local && !e.AUDIT_JWT_SECRET && !e.AUDIT_JWKS_URL
        ? path.resolve(cwd, ".data", "dev-jwt-secret")
        : undefined,
    devSigningKeyFile:
      local && !e.INTEGRITY_SIGNING_KEY_FILE
        ? path.resolve(cwd, ".data", "integrity-signing-key")
        : undefined,
  } satisfies DevConfig);
}

/** For dev entry points: the config, or each bad variable on stderr and exit code 2. */
export function loadDevConfigOrExit(): DevConfig {
  try {
    return loadDevConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

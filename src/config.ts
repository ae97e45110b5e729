/**
 * @module config
 * The service's configuration: parsed from the environment once, at start-up, validated with zod,
 * frozen, and passed to whatever needs it. Nothing reads `process.env` inside a request.
 */
import { createHash, randomBytes } from "node:crypto";

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { parseAllowlist } from "./destinations/allowlist.ts";
import type { StreamSettings } from "./features/stream/stream.hub.ts";
import type { LifecycleThresholds } from "./opensearch/bootstrap.ts";

/** Newest OpenSearch 3.x whose distribution zip the Maven registry serves here (see README). */
export const DEFAULT_OPENSEARCH_VERSION = "3.8.0";

const bool = z
  .enum(["true", "false", "1", "0"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1");

const port = z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === "" ? undefined : v));

const schema = z
  .object({
    PORT: port.default(8080),
    HOST: z.string().min(1).default("127.0.0.1"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 * 1024),

    OPENSEARCH_URL: optionalString.pipe(
      z.url({ message: "must be a URL such as https://host:9200" }).optional(),
    ),
    OPENSEARCH_USERNAME: optionalString,
    OPENSEARCH_PASSWORD: optionalString,
    OPENSEARCH_CA_FILE: optionalString,
    OPENSEARCH_TLS_VERIFY: bool.default(true),
    OPENSEARCH_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),

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

    AUDIT_JWT_SECRET: optionalString.pipe(
      z.string().min(32, "must be at least 32 characters (HS256 needs 256 bits)").optional(),
    ),
    AUDIT_JWKS_URL: optionalString.pipe(z.url().optional()),
    AUDIT_CURSOR_SECRET: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
    AUDIT_TOKEN_MAX_LIFETIME_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(400 * 86_400)
      .default(86_400),

    LIFECYCLE_ROLLOVER_AGE: z
      .string()
      .regex(/^\d+[smhd]$/, "must be an age such as 1d or 12h")
      .default("1d"),
    LIFECYCLE_ROLLOVER_SIZE: z
      .string()
      .regex(/^\d+(b|kb|mb|gb|tb)$/, "must be a size such as 30gb")
      // ISM refuses a rollover size of 0 (its RolloverAction requires more than 0 bytes).
      .refine((s) => Number.parseInt(s, 10) > 0, "must be more than 0, such as 30gb")
      .default("30gb"),
    LIFECYCLE_WARM_AFTER: z
      .string()
      .regex(/^\d+[smhd]$/, "must be an age such as 7d")
      .default("7d"),
    // Replicas follow the cluster through auto_expand_replicas ("0-1") on every tier; ISM's
    // replica_count would be reset by core at once, so this setting no longer exists.
    LIFECYCLE_WARM_REPLICAS: z
      .undefined({
        message:
          "is no longer used: replicas follow the cluster (auto_expand_replicas 0-1) on every tier; unset it",
      })
      .optional(),
    LIFECYCLE_COLD_AFTER_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    RETENTION_PURGE: bool.default(true),
    RETENTION_PURGE_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000),
    RETENTION_PURGE_RPS: z.coerce
      .number()
      .int()
      .refine(
        (n) => n === -1 || n > 0,
        "must be a positive number of documents per second, or -1 (unthrottled)",
      )
      .default(2000),

    STREAM_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(10_000).default(250),
    STREAM_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
    STREAM_MAX_PER_TENANT: z.coerce.number().int().min(1).default(50),
    STREAM_MAX_TOTAL: z.coerce.number().int().min(1).default(1000),
    STREAM_CLIENT_BUFFER_BYTES: z.coerce
      .number()
      .int()
      .min(16 * 1024)
      .default(1024 * 1024),
    STREAM_PAGE_SIZE: z.coerce.number().int().min(10).max(10_000).default(1000),
    STREAM_CLOSE_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
    EXPORT_WORKER: bool.default(true),
    EXPORT_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
    EXPORT_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
    EXPORT_LEASE_MS: z.coerce.number().int().min(1000).default(60_000),
    EXPORT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
    EXPORT_PAGE_SIZE: z.coerce.number().int().min(10).max(10_000).default(5000),
    EXPORT_PIT_KEEP_ALIVE: z
      .string()
      .regex(/^\d+[smh]$/, "must be a duration such as 30m")
      .default("30m"),
    EXPORT_ENDPOINT_ALLOWLIST: z.string().default(""),
    SECRETS_FILE: optionalString,
    SCAIVAULT_ADDR: optionalString.pipe(z.url().optional()),
    SCAIVAULT_TOKEN: optionalString,
    SCAIVAULT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  })

  .superRefine((env, ctx) => {
    const local = env.OPENSEARCH_URL === undefined;
    if (!local && !env.AUDIT_JWT_SECRET && !env.AUDIT_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["AUDIT_JWT_SECRET"],
        message:
          "set AUDIT_JWT_SECRET or AUDIT_JWKS_URL (only local mode, without OPENSEARCH_URL, may leave both unset)",
      });
    }
    if (!local && !env.AUDIT_JWT_SECRET && env.AUDIT_JWKS_URL && !env.AUDIT_CURSOR_SECRET) {
      ctx.addIssue({
        code: "custom",
        path: ["AUDIT_CURSOR_SECRET"],
        message: "required with AUDIT_JWKS_URL and no AUDIT_JWT_SECRET: page cursors are signed with it",
      });
    }
    const allowlist = parseAllowlist(env.EXPORT_ENDPOINT_ALLOWLIST);
    if (!allowlist.ok)
      ctx.addIssue({ code: "custom", path: ["EXPORT_ENDPOINT_ALLOWLIST"], message: allowlist.message });
    if (env.SCAIVAULT_ADDR && !env.SCAIVAULT_TOKEN)
      ctx.addIssue({ code: "custom", path: ["SCAIVAULT_TOKEN"], message: "required with SCAIVAULT_ADDR" });
    if (env.SCAIVAULT_ADDR && env.SECRETS_FILE)
      ctx.addIssue({
        code: "custom",
        path: ["SECRETS_FILE"],
        message: "set SECRETS_FILE or SCAIVAULT_ADDR, not both: secrets come from one place",
      });
    if (env.OPENSEARCH_PASSWORD && !env.OPENSEARCH_USERNAME) {
      ctx.addIssue({
        code: "custom",
        path: ["OPENSEARCH_USERNAME"],
        message: "required with OPENSEARCH_PASSWORD",
      });
    }
  });

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  /** `local`: the service provisions and runs its own OpenSearch node; `remote`: it uses OPENSEARCH_URL. */
  readonly mode: "local" | "remote";
  readonly opensearch: {
    readonly url: string | undefined;
    readonly username: string | undefined;
    readonly password: string | undefined;
    readonly caFile: string | undefined;
    readonly tlsVerify: boolean;
    readonly requestTimeoutMs: number;
  };
  readonly localNode: {
    readonly version: string;
    readonly cacheDir: string;
    readonly dataDir: string;
    readonly javaHome: string | undefined;
    readonly httpPort: number;
    readonly heap: string;
    readonly runAs: string;
  };
  readonly auth: {
    readonly jwtSecret: string | undefined;
    readonly jwksUrl: string | undefined;
    /** Set in local mode without a configured secret: the file holding the generated dev secret. */
    readonly devSecretFile: string | undefined;
    /** Longest token lifetime accepted (`exp` − `iat`), in seconds. */
    readonly maxLifetimeSec: number;
  };
  /** HMAC key for page cursors: shared by every replica, so a cursor works on any of them. */
  readonly cursorKey: Buffer;
  readonly exports: ExportSettings;
  /** The live tail (GET /v1/audit/stream). */
  readonly stream: StreamSettings;
  /** Thresholds of the ISM lifecycle policy (ilm-policies/). */
  readonly lifecycle: LifecycleThresholds;
  readonly retention: {
    /** Whether this replica takes part in purging expired events (one replica purges per period). */
    readonly purge: boolean;
    readonly purgeIntervalMs: number;
    readonly purgeRequestsPerSecond: number;
  };
}

export interface ExportSettings {
  /** Whether this replica runs export jobs (any number of replicas may; a lease keeps each job on one). */
  readonly worker: boolean;
  readonly concurrency: number;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly maxAttempts: number;
  readonly pageSize: number;
  readonly pitKeepAlive: string;
  readonly endpointAllowlist: readonly string[];
  readonly secrets:
    | { readonly kind: "file"; readonly file: string }
    | {
        readonly kind: "scaivault";
        readonly addr: string;
        readonly token: string;
        readonly timeoutMs: number;
      }
    | { readonly kind: "none" };
}

export class ConfigError extends Error {
  readonly issues: { variable: string; message: string }[];
  constructor(issues: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
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

/** Parses and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "environment"), message: i.message })),
    );
  }
  const e = parsed.data;
  const local = e.OPENSEARCH_URL === undefined;
  const devSecretFile =
    local && !e.AUDIT_JWT_SECRET && !e.AUDIT_JWKS_URL
      ? path.resolve(cwd, ".data", "dev-jwt-secret")
      : undefined;
  const jwtSecret = devSecretFile ? devSecret(devSecretFile) : e.AUDIT_JWT_SECRET;
  // Derived from the JWT secret when no cursor secret is set: replicas share it already.
  const cursorKey = e.AUDIT_CURSOR_SECRET
    ? Buffer.from(e.AUDIT_CURSOR_SECRET)
    : createHash("sha256")
        .update(`scaivault-audit cursor key\n${jwtSecret ?? randomBytes(32).toString("hex")}`)
        .digest();
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    mode: local ? "local" : "remote",
    opensearch: Object.freeze({
      url: e.OPENSEARCH_URL,
      username: e.OPENSEARCH_USERNAME,
      password: e.OPENSEARCH_PASSWORD,
      caFile: e.OPENSEARCH_CA_FILE,
      tlsVerify: e.OPENSEARCH_TLS_VERIFY,
      requestTimeoutMs: e.OPENSEARCH_REQUEST_TIMEOUT_MS,
    }),
    localNode: Object.freeze({
      version: e.OPENSEARCH_VERSION,
      cacheDir: path.resolve(cwd, e.OPENSEARCH_CACHE_DIR ?? defaultCacheDir(env)),
      dataDir: path.resolve(cwd, e.OPENSEARCH_DATA_DIR),
      javaHome: e.OPENSEARCH_JAVA_HOME,
      httpPort: e.OPENSEARCH_LOCAL_PORT,
      heap: e.OPENSEARCH_HEAP,
      runAs: e.OPENSEARCH_RUN_AS,
    }),
    auth: Object.freeze({
      jwtSecret,
      jwksUrl: e.AUDIT_JWKS_URL,
      devSecretFile,
      maxLifetimeSec: e.AUDIT_TOKEN_MAX_LIFETIME_SECONDS,
    }),
    cursorKey,
    lifecycle: Object.freeze({
      rolloverAge: e.LIFECYCLE_ROLLOVER_AGE,
      rolloverSize: e.LIFECYCLE_ROLLOVER_SIZE,
      warmAfter: e.LIFECYCLE_WARM_AFTER,
      coldAfterDays: e.LIFECYCLE_COLD_AFTER_DAYS,
    }),
    retention: Object.freeze({
      purge: e.RETENTION_PURGE,
      purgeIntervalMs: e.RETENTION_PURGE_INTERVAL_MS,
      purgeRequestsPerSecond: e.RETENTION_PURGE_RPS,
    }),
    stream: Object.freeze({
      pollIntervalMs: e.STREAM_POLL_INTERVAL_MS,
      heartbeatMs: e.STREAM_HEARTBEAT_MS,
      maxPerTenant: e.STREAM_MAX_PER_TENANT,
      maxTotal: e.STREAM_MAX_TOTAL,
      clientBufferBytes: e.STREAM_CLIENT_BUFFER_BYTES,
      pageSize: e.STREAM_PAGE_SIZE,
      closeGraceMs: e.STREAM_CLOSE_GRACE_MS,
    }),
    exports: Object.freeze({
      worker: e.EXPORT_WORKER,
      concurrency: e.EXPORT_CONCURRENCY,
      pollIntervalMs: e.EXPORT_POLL_INTERVAL_MS,
      leaseMs: e.EXPORT_LEASE_MS,
      maxAttempts: e.EXPORT_MAX_ATTEMPTS,
      pageSize: e.EXPORT_PAGE_SIZE,
      pitKeepAlive: e.EXPORT_PIT_KEEP_ALIVE,
      endpointAllowlist: Object.freeze(
        (parseAllowlist(e.EXPORT_ENDPOINT_ALLOWLIST) as { origins: string[] }).origins,
      ),
      secrets: e.SECRETS_FILE
        ? { kind: "file" as const, file: path.resolve(cwd, e.SECRETS_FILE) }
        : e.SCAIVAULT_ADDR && e.SCAIVAULT_TOKEN
          ? {
              kind: "scaivault" as const,
              addr: e.SCAIVAULT_ADDR,
              token: e.SCAIVAULT_TOKEN,
              timeoutMs: e.SCAIVAULT_TIMEOUT_MS,
            }
          : { kind: "none" as const },
    }),
  } satisfies Config);
}

/** For entry points (server, scripts): the config, or each bad variable on stderr and exit code 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

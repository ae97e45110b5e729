/**
 * @module config
 * The service's configuration: parsed from the environment once, at start-up, validated with zod,
 * frozen, and passed to whatever needs it. Nothing reads `process.env` inside a request, and this
 * module imports nothing of the features: the settings types they take are defined here. It reads
 * and writes no file either; development defaults (a local node, a dev secret) are dev/'s.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { parseAllowlist } from "./destinations/allowlist.ts";
import { DEFAULT_DEADLINES, type DeadlineSettings } from "./http/admission.ts";
import { type BudgetSettings, DEFAULT_BUDGETS } from "./http/budgets.ts";
import { type ConnectionSettings, DEFAULT_CONNECTIONS } from "./http/server.ts";
import { DEFAULT_HEALTH, type HealthSettings } from "./opensearch/health.ts";

/** What names the tenants' logs in checkpoints when AUDIT_LOG_ORIGIN is not set. */
export const DEFAULT_ORIGIN = "scaivault.local/audit";

const bool = z
  .enum(["true", "false", "1", "0"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1");

const port = z.coerce.number({ message: "must be a port number" }).int().min(0).max(65535);

const positive = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

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

    OPENSEARCH_URL: z
      .string({
        message: "is required: the OpenSearch cluster to use (for development, `npm start` runs a local one)",
      })
      .pipe(z.url({ message: "must be a URL such as https://host:9200" })),
    OPENSEARCH_USERNAME: optionalString,
    OPENSEARCH_PASSWORD: optionalString,
    OPENSEARCH_CA_FILE: optionalString,
    OPENSEARCH_TLS_VERIFY: bool.default(true),
    OPENSEARCH_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    OPENSEARCH_PROBE_INTERVAL_MS: positive(DEFAULT_HEALTH.probeIntervalMs, 100),
    OPENSEARCH_PROBE_TIMEOUT_MS: positive(DEFAULT_HEALTH.probeTimeoutMs, 100),

    RATE_LIMIT_TENANT_PER_SECOND: positive(DEFAULT_BUDGETS.tenantPerSecond),
    RATE_LIMIT_TENANT_BURST: positive(DEFAULT_BUDGETS.tenantBurst),
    RATE_LIMIT_SUBJECT_PER_SECOND: positive(DEFAULT_BUDGETS.subjectPerSecond),
    RATE_LIMIT_SUBJECT_BURST: positive(DEFAULT_BUDGETS.subjectBurst),
    CONCURRENCY_PER_TENANT: positive(DEFAULT_BUDGETS.tenantConcurrency),
    CONCURRENCY_TOTAL: positive(DEFAULT_BUDGETS.totalConcurrency),
    RATE_LIMIT_REFUSAL_DELAY_MS: positive(DEFAULT_BUDGETS.refusalDelayMs, 0),
    DEADLINE_PAGE_MS: positive(DEFAULT_DEADLINES.pageMs, 100),
    DEADLINE_AGGREGATION_MS: positive(DEFAULT_DEADLINES.aggregationMs, 100),
    DEADLINE_INGEST_MS: positive(DEFAULT_DEADLINES.ingestMs, 100),

    HTTP_HEADERS_TIMEOUT_MS: positive(DEFAULT_CONNECTIONS.headersTimeoutMs, 1000),
    HTTP_REQUEST_TIMEOUT_MS: positive(DEFAULT_CONNECTIONS.requestTimeoutMs, 1000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positive(DEFAULT_CONNECTIONS.keepAliveTimeoutMs, 100),
    HTTP_MAX_CONNECTIONS: positive(DEFAULT_CONNECTIONS.maxConnections),
    HTTP_MAX_CONNECTIONS_PER_ADDRESS: positive(DEFAULT_CONNECTIONS.maxPerAddress),

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
    INTEGRITY_SIGNING_KEY_FILE: optionalString,
    INTEGRITY_SIGNING_KEY_SECRET: optionalString.pipe(
      z
        .string()
        .regex(/^[^:\s]+:\S+$/, "must be <tenant>:<secret path> (the ScaiVault secret holding `signer_key`)")
        .optional(),
    ),
    INTEGRITY_VERIFIER_KEYS: z.string().default(""),
    AUDIT_LOG_ORIGIN: z
      .string()
      .regex(
        /^[\x21-\x7e]+$/,
        "must be printable ASCII without spaces (it names the log in every checkpoint)",
      )
      .default(DEFAULT_ORIGIN),
    INTEGRITY_SEALER: bool.default(true),
    INTEGRITY_SEAL_INTERVAL_MS: z.coerce.number().int().min(100).default(1000),
    INTEGRITY_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1000).default(10_000),
    SUMMARY_ROLLUP: bool.default(true),
    SUMMARY_ROLLUP_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
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
    DELIVERY_WORKER: bool.default(true),
    DELIVERY_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
    DELIVERY_LEASE_MS: z.coerce.number().int().min(1000).default(30_000),
    DELIVERY_SEND_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
    DELIVERY_MAX_BACKOFF_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    DELIVERY_FAILING_AFTER_MS: z.coerce.number().int().min(0).default(120_000),
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
    if (!env.AUDIT_JWT_SECRET && !env.AUDIT_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["AUDIT_JWT_SECRET"],
        message: "set AUDIT_JWT_SECRET or AUDIT_JWKS_URL (`npm start` generates a dev secret for local use)",
      });
    }
    if (!env.AUDIT_JWT_SECRET && env.AUDIT_JWKS_URL && !env.AUDIT_CURSOR_SECRET) {
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
    if (env.INTEGRITY_SIGNING_KEY_SECRET && env.INTEGRITY_SIGNING_KEY_FILE)
      ctx.addIssue({
        code: "custom",
        path: ["INTEGRITY_SIGNING_KEY_SECRET"],
        message: "set INTEGRITY_SIGNING_KEY_FILE or INTEGRITY_SIGNING_KEY_SECRET, not both",
      });
    if (env.INTEGRITY_SIGNING_KEY_SECRET && !env.SECRETS_FILE && !env.SCAIVAULT_ADDR)
      ctx.addIssue({
        code: "custom",
        path: ["INTEGRITY_SIGNING_KEY_SECRET"],
        message: "needs SCAIVAULT_ADDR (or SECRETS_FILE) to be read from",
      });
    if (env.RATE_LIMIT_SUBJECT_BURST > env.RATE_LIMIT_TENANT_BURST)
      ctx.addIssue({
        code: "custom",
        path: ["RATE_LIMIT_SUBJECT_BURST"],
        message: "must not exceed RATE_LIMIT_TENANT_BURST: a caller's budget is part of its tenant's",
      });
    if (env.CONCURRENCY_PER_TENANT > env.CONCURRENCY_TOTAL)
      ctx.addIssue({
        code: "custom",
        path: ["CONCURRENCY_PER_TENANT"],
        message: "must not exceed CONCURRENCY_TOTAL",
      });
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS)
      ctx.addIssue({
        code: "custom",
        path: ["HTTP_HEADERS_TIMEOUT_MS"],
        message: "must not exceed HTTP_REQUEST_TIMEOUT_MS (the whole request includes its headers)",
      });
    if (env.OPENSEARCH_PASSWORD && !env.OPENSEARCH_USERNAME) {
      ctx.addIssue({
        code: "custom",
        path: ["OPENSEARCH_USERNAME"],
        message: "required with OPENSEARCH_PASSWORD",
      });
    }
  });

/** The live tail's settings (features/stream). */
export interface StreamSettings {
  pollIntervalMs: number;
  heartbeatMs: number;
  maxPerTenant: number;
  maxTotal: number;
  clientBufferBytes: number;
  pageSize: number;
  /** How long a client gets to read the final message before the connection is cut. */
  closeGraceMs: number;
}

/** Delivery to destinations (features/delivery). */
export interface DeliverySettings {
  /** Whether this replica delivers (each destination is leased to one replica at a time). */
  worker: boolean;
  /** How often a caught-up destination looks for new events, and the work list is read. */
  pollIntervalMs: number;
  leaseMs: number;
  /** Per request to a receiver. */
  sendTimeoutMs: number;
  /** The longest wait between two tries of a failing receiver (back-off doubles up to it, with jitter). */
  maxBackoffMs: number;
  /** How long a receiver may fail before its destination reads `failing`. */
  failingAfterMs: number;
}

/** The lifecycle's thresholds (put into the ISM policy at load; tests make them tiny). */
export interface LifecycleThresholds {
  rolloverAge: string;
  rolloverSize: string;
  warmAfter: string;
  coldAfterDays: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly opensearch: {
    readonly url: string;
    readonly username: string | undefined;
    readonly password: string | undefined;
    readonly caFile: string | undefined;
    readonly tlsVerify: boolean;
    readonly requestTimeoutMs: number;
  };
  /** The readiness probe that feeds the breaker (opensearch/health). */
  readonly health: HealthSettings;
  /** Per-tenant budgets (http/budgets) and request deadlines (http/admission). */
  readonly budgets: BudgetSettings;
  readonly deadlines: DeadlineSettings;
  /** Slow and idle clients, connection caps (http/server). */
  readonly connections: ConnectionSettings;
  readonly auth: {
    readonly jwtSecret: string | undefined;
    readonly jwksUrl: string | undefined;
    /** Longest token lifetime accepted (`exp` − `iat`), in seconds. */
    readonly maxLifetimeSec: number;
  };
  /** HMAC key for page cursors: shared by every replica, so a cursor works on any of them. */
  readonly cursorKey: Buffer;
  readonly exports: ExportSettings;
  /** The live tail (GET /v1/audit/stream). */
  readonly stream: StreamSettings;
  readonly delivery: DeliverySettings;
  /** Thresholds of the ISM lifecycle policy (ilm-policies/). */
  readonly lifecycle: LifecycleThresholds;
  readonly retention: {
    /** Whether this replica takes part in purging expired events (one replica purges per period). */
    readonly purge: boolean;
    readonly purgeIntervalMs: number;
    readonly purgeRequestsPerSecond: number;
  };
  /** The tamper-evident log (features/integrity). */
  readonly integrity: {
    /** The file holding the Ed25519 signer key (`PRIVATE+KEY+…`); none (and no secret): nothing is sealed. */
    readonly signingKeyFile: string | undefined;
    /** Or the ScaiVault secret holding it (field `signer_key`), read at start like exports' credentials. */
    readonly signingKeySecret: { readonly tenant: string; readonly path: string } | undefined;
    /** Verifier keys of retired signer keys, still published for older checkpoints. */
    readonly retiredKeys: string[];
    readonly origin: string;
    /** Whether this replica takes part in sealing (one replica at a time). */
    readonly sealer: boolean;
    readonly sealIntervalMs: number;
    readonly checkpointIntervalMs: number;
  };
  /** The summaries' hourly rollup (features/summary/rollup.job). */
  readonly rollup: {
    /** Whether this replica takes part in keeping it (one replica at a time). */
    readonly enabled: boolean;
    readonly intervalMs: number;
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

/** Parses and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "environment"), message: i.message })),
    );
  }
  const e = parsed.data;
  const jwtSecret = e.AUDIT_JWT_SECRET;
  // Derived from the JWT secret when no cursor secret is set: replicas share it already.
  const cursorKey = e.AUDIT_CURSOR_SECRET
    ? Buffer.from(e.AUDIT_CURSOR_SECRET)
    : createHash("sha256").update(`scaivault-audit cursor key\n${jwtSecret}`).digest();
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    opensearch: Object.freeze({
      url: e.OPENSEARCH_URL,
      username: e.OPENSEARCH_USERNAME,
      password: e.OPENSEARCH_PASSWORD,
      caFile: e.OPENSEARCH_CA_FILE,
      tlsVerify: e.OPENSEARCH_TLS_VERIFY,
      requestTimeoutMs: e.OPENSEARCH_REQUEST_TIMEOUT_MS,
    }),
    health: Object.freeze({
      probeIntervalMs: e.OPENSEARCH_PROBE_INTERVAL_MS,
      probeTimeoutMs: e.OPENSEARCH_PROBE_TIMEOUT_MS,
    }),
    budgets: Object.freeze({
      tenantPerSecond: e.RATE_LIMIT_TENANT_PER_SECOND,
      tenantBurst: e.RATE_LIMIT_TENANT_BURST,
      subjectPerSecond: e.RATE_LIMIT_SUBJECT_PER_SECOND,
      subjectBurst: e.RATE_LIMIT_SUBJECT_BURST,
      tenantConcurrency: e.CONCURRENCY_PER_TENANT,
      totalConcurrency: e.CONCURRENCY_TOTAL,
      refusalDelayMs: e.RATE_LIMIT_REFUSAL_DELAY_MS,
    }),
    deadlines: Object.freeze({
      pageMs: e.DEADLINE_PAGE_MS,
      aggregationMs: e.DEADLINE_AGGREGATION_MS,
      ingestMs: e.DEADLINE_INGEST_MS,
    }),
    connections: Object.freeze({
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      maxPerAddress: e.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
    }),
    auth: Object.freeze({
      jwtSecret,
      jwksUrl: e.AUDIT_JWKS_URL,
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
    rollup: Object.freeze({ enabled: e.SUMMARY_ROLLUP, intervalMs: e.SUMMARY_ROLLUP_INTERVAL_MS }),
    integrity: Object.freeze({
      signingKeyFile: e.INTEGRITY_SIGNING_KEY_FILE,
      signingKeySecret: e.INTEGRITY_SIGNING_KEY_SECRET
        ? Object.freeze({
            tenant: e.INTEGRITY_SIGNING_KEY_SECRET.slice(0, e.INTEGRITY_SIGNING_KEY_SECRET.indexOf(":")),
            path: e.INTEGRITY_SIGNING_KEY_SECRET.slice(e.INTEGRITY_SIGNING_KEY_SECRET.indexOf(":") + 1),
          })
        : undefined,
      retiredKeys: e.INTEGRITY_VERIFIER_KEYS.split(/[\s,]+/).filter(Boolean),
      origin: e.AUDIT_LOG_ORIGIN,
      sealer: e.INTEGRITY_SEALER,
      sealIntervalMs: e.INTEGRITY_SEAL_INTERVAL_MS,
      checkpointIntervalMs: e.INTEGRITY_CHECKPOINT_INTERVAL_MS,
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
    delivery: Object.freeze({
      worker: e.DELIVERY_WORKER,
      pollIntervalMs: e.DELIVERY_POLL_INTERVAL_MS,
      leaseMs: e.DELIVERY_LEASE_MS,
      sendTimeoutMs: e.DELIVERY_SEND_TIMEOUT_MS,
      maxBackoffMs: e.DELIVERY_MAX_BACKOFF_MS,
      failingAfterMs: e.DELIVERY_FAILING_AFTER_MS,
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
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

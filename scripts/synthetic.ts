/**
 * A reproducible stream of realistic audit events (API form) for demos, seeding and benchmarks:
 * skewed identity activity, a vault-like action mix, nested paths, IPv4 and IPv6, a few percent of
 * failures with error codes, and bursts of failed reads (the kind that follow a policy change).
 * The same seed always gives the same events.
 */
import { ulid } from "ulid";
import { isoMicros } from "../src/events/time.ts";

/** mulberry32: small, fast, good enough for synthetic data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;

function weighted<T extends string>(rnd: () => number, table: readonly (readonly [T, number])[]): T {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let x = rnd() * total;
  for (const [v, w] of table) {
    x -= w;
    if (x < 0) return v;
  }
  return (table[table.length - 1] as readonly [T, number])[0];
}

const ACTION_MIX = [
  ["read", 62],
  ["list", 9],
  ["write", 6],
  ["rotate", 2],
  ["delete", 1],
  ["policy_create", 0.4],
  ["policy_update", 0.8],
  ["policy_delete", 0.2],
  ["policy_bind", 0.5],
  ["policy_unbind", 0.3],
  ["pki_issue", 7],
  ["pki_revoke", 0.8],
  ["dynamic_generate", 8],
  ["dynamic_revoke", 2],
] as const;

const ENVS = ["prod", "staging", "dev"] as const;
const APPS = [
  "payments",
  "billing",
  "auth",
  "search",
  "ledger",
  "notifications",
  "reporting",
  "gateway",
] as const;
const SECRETS = [
  "db-password",
  "api-key",
  "tls/cert",
  "oauth/client-secret",
  "smtp/password",
  "signing-key",
  "config/feature-flags",
];
const ERRORS = [
  ["permission_denied", 70],
  ["not_found", 18],
  ["rate_limited", 7],
  ["invalid_request", 5],
] as const;

interface Identity {
  id: string;
  type: "user" | "service_account" | "group";
  ip: string;
  agent: string;
  weight: number;
}

function identities(rnd: () => number, tenant: string): Identity[] {
  const out: Identity[] = [];
  const v6 = (n: number) => `2001:db8:${(n % 65535).toString(16)}::${Math.floor(rnd() * 65535).toString(16)}`;
  for (let i = 0; i < 40; i++) {
    out.push({
      id: `user:person${i}@${tenant}.example`,
      type: "user",
      ip: rnd() < 0.25 ? v6(i) : `203.0.113.${1 + Math.floor(rnd() * 250)}`,
      agent: pick(rnd, [
        "scaivault-cli/2.3.1",
        "scaivault-web/5.12.0 (Mozilla/5.0)",
        "terraform-provider-scaivault/1.8.4",
      ]),
      weight: 1 / (i + 1), // a few people do most of the work
    });
  }
  for (let i = 0; i < 15; i++) {
    out.push({
      id: `service_account:${pick(rnd, APPS)}-${i}`,
      type: "service_account",
      ip:
        rnd() < 0.2
          ? v6(100 + i)
          : `10.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${1 + Math.floor(rnd() * 250)}`,
      agent: pick(rnd, ["scaivault-agent/3.1.0", "scaivault-k8s-injector/1.4.2", "scaivault-go/2.0.7"]),
      weight: 4 / (i + 1), // machines read far more than people
    });
  }
  for (let i = 0; i < 5; i++) {
    out.push({
      id: `group:team-${i}`,
      type: "group",
      ip: `198.51.100.${10 + i}`,
      agent: "scaivault-sync/1.0.0",
      weight: 0.05,
    });
  }
  return out;
}

function pathFor(rnd: () => number, action: string): string {
  if (action.startsWith("policy_"))
    return `policies/${pick(rnd, APPS)}-${pick(rnd, ["read", "write", "admin"])}`;
  if (action.startsWith("pki_")) return `pki/roles/${pick(rnd, APPS)}-${pick(rnd, ENVS)}`;
  if (action.startsWith("dynamic_")) return `database/creds/${pick(rnd, APPS)}-${pick(rnd, ["ro", "rw"])}`;
  return `${weighted(rnd, [
    ["prod", 6],
    ["staging", 3],
    ["dev", 1],
  ] as const)}/${pick(rnd, APPS)}/${pick(rnd, SECRETS)}`;
}

function contextFor(rnd: () => number, action: string): Record<string, unknown> {
  switch (action) {
    case "rotate":
      return {
        rotation_reason: pick(rnd, ["scheduled", "manual", "compromise_suspected"]),
        version: 1 + Math.floor(rnd() * 40),
      };
    case "write":
      return { version: 1 + Math.floor(rnd() * 40), cas: rnd() < 0.5 };
    case "pki_issue":
      return {
        common_name: `${pick(rnd, APPS)}.internal`,
        ttl: "720h",
        serial: Math.floor(rnd() * 1e12).toString(16),
      };
    case "dynamic_generate":
    case "dynamic_revoke":
      return { lease_id: `lease_${Math.floor(rnd() * 1e12).toString(36)}`, ttl: "1h" };
    case "policy_update":
    case "policy_bind":
      return { policy_violation_condition: rnd() < 0.1 ? "ip_not_in_allowlist" : null };
    default:
      return {};
  }
}

const METHOD: Record<string, string> = { read: "GET", list: "LIST", delete: "DELETE", write: "PUT" };

export interface SyntheticOptions {
  seed: number;
  tenant: string;
  /** Events are spread over [end - days, end). */
  days: number;
  end: Date;
}

/** Yields events for one tenant forever; take as many as needed. */
export function* syntheticEvents(opts: SyntheticOptions): Generator<Record<string, unknown>> {
  const rnd = prng(opts.seed);
  const people = identities(rnd, opts.tenant);
  const weights = people.map((p) => [p.id, p.weight] as const);
  const byId = new Map(people.map((p) => [p.id, p]));
  const span = opts.days * 86_400_000;
  const start = opts.end.getTime() - span;
  // Incidents: five-minute windows where one service account fails to read over and over.
  const bursts = Array.from({ length: Math.max(1, Math.floor(opts.days / 10)) }, () => ({
    at: start + Math.floor(rnd() * (span - 300_000)),
    who: pick(
      rnd,
      people.filter((p) => p.type === "service_account"),
    ),
  }));
  for (let n = 0; ; n++) {
    const burst = rnd() < 0.01 ? pick(rnd, bursts) : undefined;
    let epoch: number;
    if (burst) {
      epoch = burst.at + Math.floor(rnd() * 300_000);
    } else {
      // Busier during working hours (UTC): accept off-hours instants at a lower rate.
      do epoch = start + Math.floor(rnd() * span);
      while ((new Date(epoch).getUTCHours() + 22) % 24 > 12 && rnd() < 0.6);
    }
    const who = burst ? burst.who : (byId.get(weighted(rnd, weights)) as Identity);
    const action = burst ? "read" : weighted(rnd, ACTION_MIX);
    const success = burst ? rnd() < 0.05 : rnd() > 0.03;
    const error = success ? null : weighted(rnd, ERRORS);
    const micros = String(Math.floor(rnd() * 1000)).padStart(3, "0");
    const ts = isoMicros(new Date(epoch)).replace(/000Z$/, `${micros}Z`);
    yield {
      id: ulid(epoch, rnd),
      timestamp: ts,
      action,
      path: pathFor(rnd, action),
      identity: {
        id: who.id,
        type: who.type,
        session_id: who.type === "user" ? `ses_${Math.floor(rnd() * 1e6).toString(36)}` : null,
      },
      source_ip: who.ip,
      user_agent: who.agent,
      request: {
        id: `req_${n.toString(36)}${Math.floor(rnd() * 1e6).toString(36)}`,
        method: METHOD[action] ?? "POST",
        status: success
          ? action === "delete"
            ? 204
            : 200
          : { permission_denied: 403, not_found: 404, rate_limited: 429, invalid_request: 400 }[
              error as string
            ],
        duration_ms: Math.round(Math.exp(rnd() * 4) * 1000) / 1000,
      },
      success,
      error_code: error,
      context: contextFor(rnd, action),
    };
  }
}

/** The first `count` events of a tenant's stream. */
export function take(count: number, opts: SyntheticOptions): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const e of syntheticEvents(opts)) {
    if (out.length >= count) break;
    out.push(e);
  }
  return out;
}

/**
 * The CLI end to end: the real service as a process (with its export worker and sealer) over the
 * test OpenSearch and Azurite, events ingested through the API, and `node cli/main.ts …` run as
 * a child process — its stdout, stderr and exit code are what is checked, against what the API
 * answers for the same question.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import { CSV_COLUMNS } from "../../src/features/exports/exports.format.ts";
import { generateSignerKey } from "../../src/features/integrity/note.ts";
import { SEALER_LEASE_ID } from "../../src/features/integrity/sealer.job.ts";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { TEST_SECRET, tokenFor } from "../support/app.ts";
import { startGate } from "../support/destinations.ts";
import { event, newTenant } from "../support/events.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteServer, startAzurite } from "../support/object-stores.ts";
import { testClient } from "../support/opensearch.ts";
import { exitOf, startService, waitForStatus } from "../support/process.ts";

const ORIGIN = "scaivault.cli-test/audit";
const CONTAINER = "cli-archive";
const tenant = newTenant("cli");
const quiet = newTenant("cli-quiet");

let dir = "";
let home = "";
let keyFile = "";
let secretsFile = "";
let azurite: AzuriteServer;
let gate: Awaited<ReturnType<typeof startGate>>;
let container: ContainerClient;
let svc: ReturnType<typeof startService>;
let base = "";
let serviceEnv: Record<string, string> = {};
const tokens: Record<string, string> = {};

/** 60 events: four actions, three identities, paths under prod/ and dev/, one day in October. */
const fixture = Array.from({ length: 60 }, (_, i) =>
  event({
    id: `cli-${String(i).padStart(3, "0")}`,
    action: ["read", "write", "delete", "rotate"][i % 4],
    path: i % 3 === 0 ? `dev/app-${i % 5}/key-id` : `prod/db/app-${i % 5}`,
    identity: { id: `user:person${i % 3}@acme.example`, type: "user", session_id: `ses_${i}` },
    timestamp: new Date(Date.UTC(2026, 9, 20, 8) + i * 60_000).toISOString().replace("Z", "123Z"),
    success: i % 7 !== 0,
    error_code: i % 7 === 0 ? "permission_denied" : null,
  }),
);
/** A burst by an identity never seen before, on Oct 21: an anomaly (`new`) against the week before. */
const burst = Array.from({ length: 12 }, (_, i) =>
  event({
    id: `cli-burst-${i}`,
    identity: { id: "user:burst@acme.example", type: "user", session_id: "ses_burst" },
    path: "prod/db/app-1",
    timestamp: new Date(Date.UTC(2026, 9, 21, 9) + i * 1000).toISOString(),
  }),
);
const TOTAL = fixture.length + burst.length;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's environment: nothing from the outer one but PATH, and a HOME with no profile file. */
const cliEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "",
  HOME: home,
  ...extra,
});

function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Run> {
  const child = spawn(process.execPath, ["cli/main.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return exitOf(child).then((code) => {
    clearTimeout(timer);
    return { code, stdout, stderr };
  });
}

/** The CLI against the test service with a token of `scope`. */
const as = (scope: string, args: string[], t = tenant) =>
  cli(["--url", base, "--token", tokens[`${t} ${scope}`] as string, ...args]);

async function api(method: string, p: string, scope: string, body?: unknown, t = tenant): Promise<any> {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: {
      Authorization: `Bearer ${tokens[`${t} ${scope}`]}`,
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function ingest(events: unknown[], t = tenant): Promise<void> {
  const r = await api("POST", "/v1/audit/events", "audit:write", { events }, t);
  expect(r.rejected).toEqual([]);
}

/** Every page of a list endpoint through the API. */
async function all(p: string, key = "entries"): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const sep = p.includes("?") ? "&" : "?";
    const page: any = await api(
      "GET",
      `${p}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      "audit:read",
    );
    out.push(...page[key]);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");
const jsonl = (s: string) => lines(s).map((l) => JSON.parse(l));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "scaivault-cli-"));
  home = path.join(dir, "home");
  keyFile = path.join(dir, "signing-key");
  secretsFile = path.join(dir, "secrets.json");
  await writeFile(keyFile, generateSignerKey(ORIGIN), { mode: 0o600 });
  azurite = await startAzurite();
  gate = await startGate(azurite.endpoint);
  container = new ContainerClient(
    `${azurite.blobEndpoint}/${CONTAINER}`,
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  await container.create();
  await writeFile(
    secretsFile,
    JSON.stringify({ [tenant]: { "secret/azure": { connection_string: azurite.connectionString } } }),
  );
  // Another test's sealer may have left its lease behind: this service's sealer takes over at once.
  const os = testClient();
  await os.delete({ index: TENANTS_INDEX, id: SEALER_LEASE_ID }).catch(() => {});
  await os.close();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serviceEnv = {
    OPENSEARCH_URL: inject("opensearchUrl"),
    AUDIT_JWT_SECRET: TEST_SECRET,
    INTEGRITY_SIGNING_KEY_FILE: keyFile,
    AUDIT_LOG_ORIGIN: ORIGIN,
    INTEGRITY_SEAL_INTERVAL_MS: "200",
    INTEGRITY_CHECKPOINT_INTERVAL_MS: "1000",
    EXPORT_POLL_INTERVAL_MS: "200",
    EXPORT_PAGE_SIZE: "20",
    SECRETS_FILE: secretsFile,
    // Azurite, the gate in front of it, and a webhook receiver nobody delivers to (DELIVERY_WORKER is off).
    EXPORT_ENDPOINT_ALLOWLIST: [azurite.endpoint, gate.endpoint, "http://127.0.0.1:1"].join(","),
    RETENTION_PURGE: "false",
    SUMMARY_ROLLUP: "false",
  };
  svc = startService({ ...serviceEnv, PORT: String(port) });
  await waitForStatus(`${base}/readyz`, 200, 90_000, svc.output);
  for (const t of [tenant, quiet])
    for (const scope of ["audit:read", "audit:write", "audit:export", "audit:admin"])
      tokens[`${t} ${scope}`] = await tokenFor(t, scope);
  await ingest(fixture);
  await ingest(burst);
  await ingest([event({ id: "quiet-1" })], quiet);
  await until(
    () => api("GET", "/v1/audit/logs?limit=1000", "audit:read"),
    (p) => p.entries.length === TOTAL,
  );
}, 240_000);

afterAll(async () => {
  svc?.child.kill("SIGTERM");
  if (svc) await exitOf(svc.child);
  await gate?.close();
  await azurite?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("scaivault-audit logs", () => {
  it("prints JSON lines exactly as /v1/audit/logs answers the same filters", async () => {
    const r = await as("audit:read", [
      "logs",
      "--action",
      "read,write",
      "--path-prefix",
      "prod",
      "--limit",
      "1000",
      "-o",
      "jsonl",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const want = await api(
      "GET",
      "/v1/audit/logs?action=read,write&path_prefix=prod&limit=1000",
      "audit:read",
    );
    expect(want.entries.length).toBeGreaterThan(10);
    expect(jsonl(r.stdout)).toEqual(want.entries);
    // Repeated --action is the same filter.
    const repeated = await as("audit:read", [
      "logs",
      "--action",
      "read",
      "--action",
      "write",
      "--path-prefix",
      "prod",
      "--limit",
      "1000",
      "-o",
      "jsonl",
    ]);
    expect(jsonl(repeated.stdout)).toEqual(want.entries);
  });

  it("every other filter reaches the service: identity, type, success, source IP, request id, q, window", async () => {
    const requestId = (fixture[4] as { request: { id: string } }).request.id;
    const cases: [string[], string][] = [
      [
        ["--identity-id", "user:person1@acme.example", "--identity-type", "user"],
        "identity_id=user%3Aperson1%40acme.example&identity_type=user",
      ],
      [["--success", "false"], "success=false"],
      [["--source-ip", "203.0.113.0/24"], "source_ip=203.0.113.0%2F24"],
      [["--request-id", requestId], `request_id=${requestId}`],
      [["-q", "permission_denied"], "q=permission_denied"],
      [
        ["--from", "2026-10-20T08:10:00Z", "--to", "2026-10-20T08:20:00Z"],
        "from=2026-10-20T08:10:00Z&to=2026-10-20T08:20:00Z",
      ],
    ];
    for (const [flags, query] of cases) {
      const r = await as("audit:read", ["logs", ...flags, "--limit", "1000", "-o", "jsonl"]);
      expect(r.code, r.stderr).toBe(0);
      const want = await api("GET", `/v1/audit/logs?${query}&limit=1000`, "audit:read");
      expect(want.entries.length, query).toBeGreaterThan(0);
      expect(want.entries.length, query).toBeLessThan(TOTAL);
      expect(
        jsonl(r.stdout).map((e) => e.id),
        query,
      ).toEqual(want.entries.map((e: AuditEvent) => e.id));
    }
  });

  it("prints CSV with the export's columns, row for row the API's events", async () => {
    const r = await as("audit:read", ["logs", "--action", "delete", "--limit", "1000", "-o", "csv"]);
    expect(r.code, r.stderr).toBe(0);
    const rows: string[][] = parse(r.stdout);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const want: AuditEvent[] = (await api("GET", "/v1/audit/logs?action=delete&limit=1000", "audit:read"))
      .entries;
    expect(rows.slice(1).map((row) => [row[0], row[1], row[2], row[3], row[4], row[13]])).toEqual(
      want.map((e) => [e.id, e.timestamp, e.action, e.path, e.identity.id, String(e.success)]),
    );
  });

  it("prints a table with a header and one row per event", async () => {
    const r = await as("audit:read", ["logs", "--path-prefix", "dev", "--limit", "5", "-o", "table"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/timestamp.*action.*path.*identity/);
    const want: AuditEvent[] = (await api("GET", "/v1/audit/logs?path_prefix=dev&limit=5", "audit:read"))
      .entries;
    for (const e of want) expect(r.stdout).toContain(e.id);
    expect(lines(r.stdout).filter((l) => /cli-\d{3}/.test(l))).toHaveLength(5);
    // More pages were left: the next cursor is on stderr.
    expect(r.stderr).toMatch(/more: --cursor \S+/);
  });

  it("pages with --all and --pages: every event once, in the API's order", async () => {
    const everything = await all("/v1/audit/logs");
    const r = await as("audit:read", ["logs", "--limit", "7", "--all", "-o", "jsonl"]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonl(r.stdout).map((e) => e.id)).toEqual(everything.map((e) => e.id));
    expect(r.stderr).not.toContain("more:");
    const two = await as("audit:read", ["logs", "--limit", "7", "--pages", "2", "-o", "csv"]);
    const rows: string[][] = parse(two.stdout);
    // One header, then 14 events.
    expect(rows.map((row) => row[0])).toEqual(["id", ...everything.slice(0, 14).map((e) => e.id)]);
  });

  it("a bad filter is the service's 400 with the offending fields, exit code 1", async () => {
    const r = await as("audit:read", ["logs", "--limit", "5000", "--identity-type", "robot"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: Bad Request \(400\)/);
    expect(r.stderr).toMatch(/^ {2}limit: .+/m);
    expect(r.stderr).toMatch(/^ {2}identity_type: .+/m);
    expect(r.stderr).toMatch(/request_id: \S+/);
    const reversed = await as("audit:read", ["logs", "--from", "now", "--to", "now-1d"]);
    expect(reversed.code).toBe(1);
    expect(reversed.stderr).toMatch(/^ {2}from: /m);
  });

  it("no token is a 401 and the wrong tenant sees nothing (exit 0, empty)", async () => {
    const r = await cli(["--url", base, "logs"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(401)");
    const other = await as("audit:read", ["logs", "--path-prefix", "prod/db", "-o", "jsonl"], quiet);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toBe("");
  });

  it("an unreachable service is exit code 3", async () => {
    const port = await freePort();
    const r = await cli(["--url", `http://127.0.0.1:${port}`, "--token", "x", "logs"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+/);
  });

  it("bad usage is exit code 2: unknown option, bad choice, missing argument, no subcommand, bad URL", async () => {
    for (const args of [
      ["logs", "--bogus"],
      ["logs", "-o", "xml"],
      ["logs", "--pages", "zero"],
      ["trail", "secret"],
      ["trail"],
      ["export", "wait"],
      ["frobnicate"],
      ["--url", "ftp://example", "logs"],
      ["logs", "--follow", "--all"],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      // commander's message, or the group's usage for a command without its subcommand; nothing on stdout.
      expect(r.stderr, args.join(" ")).toMatch(/^error|^Usage: scaivault-audit/m);
      expect(r.stdout, args.join(" ")).toBe("");
    }
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*3 {2}the service cannot be reached/);
  });
});

describe("trails, paths, summary and anomalies", () => {
  it("trail secret <path> is GET /secrets/{path}, slashes and all", async () => {
    const r = await as("audit:read", ["trail", "secret", "prod/db/app-1", "--limit", "1000", "-o", "jsonl"]);
    expect(r.code, r.stderr).toBe(0);
    const want = await api("GET", "/v1/audit/secrets/prod/db/app-1?limit=1000", "audit:read");
    expect(want.entries.length).toBeGreaterThan(burst.length);
    expect(jsonl(r.stdout)).toEqual(want.entries);
    // A filter a trail refuses is not even a flag there.
    expect((await as("audit:read", ["trail", "secret", "prod/db/app-1", "--path-prefix", "prod"])).code).toBe(
      2,
    );
  });

  it("trail identity <id> is GET /identities/{id}", async () => {
    const r = await as("audit:read", [
      "trail",
      "identity",
      "user:person2@acme.example",
      "--action",
      "read",
      "--all",
      "-o",
      "jsonl",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const want = await all(
      `/v1/audit/identities/${encodeURIComponent("user:person2@acme.example")}?action=read`,
    );
    expect(want.length).toBeGreaterThan(0);
    expect(jsonl(r.stdout)).toEqual(want);
  });

  it("paths <id> lists what an identity touched (the offboarding list) as JSON lines, CSV and a table", async () => {
    const id = "user:person0@acme.example";
    const want = await all(`/v1/audit/identities/${encodeURIComponent(id)}/paths`, "paths");
    expect(want.length).toBeGreaterThan(2);
    const j = await as("audit:read", ["paths", id, "--all", "-o", "jsonl"]);
    expect(j.code, j.stderr).toBe(0);
    expect(jsonl(j.stdout)).toEqual(want);
    const c = await as("audit:read", ["paths", id, "--all", "-o", "csv"]);
    const rows: string[][] = parse(c.stdout);
    expect(rows[0]).toEqual(["path", "actions", "first_at", "last_at"]);
    expect(rows.slice(1).map((row) => row[0])).toEqual(want.map((p) => p.path));
    const first = want[0];
    expect(rows[1]?.[1]).toBe(
      Object.entries(first.actions)
        .map(([a, n]) => `${a}=${n}`)
        .join(" "),
    );
    const t = await as("audit:read", ["paths", id, "--all", "-o", "table"]);
    for (const p of want) expect(t.stdout).toContain(p.path);
  });

  it("summary prints the counts and a histogram whose bars follow the buckets", async () => {
    const q = ["--from", "2026-10-20T08:00:00Z", "--to", "2026-10-20T09:00:00Z", "--interval", "5m"];
    const j = await as("audit:read", ["summary", ...q, "-o", "json"]);
    expect(j.code, j.stderr).toBe(0);
    const s = JSON.parse(j.stdout);
    expect(s.total).toBe(fixture.length);
    expect(s.histogram.buckets).toHaveLength(12);
    const r = await as("audit:read", ["summary", ...q, "-o", "table"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`failure`);
    expect(r.stdout).toMatch(new RegExp(`│ ${fixture.length} +│`));
    expect(r.stdout).toContain("histogram (5m buckets");
    expect(r.stdout).toMatch(/errors: +permission_denied=9/);
    const bars = lines(r.stdout).filter((l) => /^2026-10-20T08:\d\d:00\.000000Z +\d+ \|/.test(l));
    expect(bars).toHaveLength(12);
    // Five events per 5-minute bucket: every bar equally long, drawn with # (and ! for failures).
    for (const b of bars) {
      expect(b).toMatch(/ 5 \|[#!]{40}$/);
    }
    // --bars merges buckets: 12 into 4 rows of 15.
    const merged = await as("audit:read", ["summary", ...q, "--bars", "4", "-o", "table"]);
    expect(lines(merged.stdout).filter((l) => / 15 \|[#!]+$/.test(l))).toHaveLength(4);
  });

  it("anomalies lists an identity new against its baseline; without a window it is the service's 400", async () => {
    const r = await as("audit:read", [
      "anomalies",
      "--from",
      "2026-10-21T00:00:00Z",
      "--to",
      "2026-10-22T00:00:00Z",
      "--group-by",
      "identity_id",
      "--baseline",
      "P7D",
      "-o",
      "jsonl",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const found = jsonl(r.stdout);
    expect(found).toContainEqual(
      expect.objectContaining({ key: "user:burst@acme.example", reason: "new", observed: burst.length }),
    );
    const t = await as("audit:read", [
      "anomalies",
      "--from",
      "2026-10-21T00:00:00Z",
      "--to",
      "2026-10-22T00:00:00Z",
      "--group-by",
      "identity_id",
      "-o",
      "table",
    ]);
    expect(t.stdout).toMatch(/user:burst@acme\.example.*new.*12/);
    expect(t.stdout).toMatch(/\d+ anomalies among \d+ entities evaluated/);
    const bad = await as("audit:read", ["anomalies", "--group-by", "identity_id"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ {2}from: /m);
  });
});

describe("retention and destinations", () => {
  it("retention set then get round-trips; a bad value names the field; a read-only token is a 403", async () => {
    const set = await as("audit:admin", ["retention", "set", "400", "-o", "json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ retention_days: 400 });
    const get = await as("audit:read", ["retention", "get", "-o", "json"]);
    expect(JSON.parse(get.stdout)).toMatchObject({ retention_days: 400 });
    expect((await api("GET", "/v1/audit/retention", "audit:read")).retention_days).toBe(400);
    const table = await as("audit:read", ["retention", "get", "-o", "table"]);
    expect(table.stdout).toMatch(/retention_days\s+│\s+400/);
    const bad = await as("audit:admin", ["retention", "set", "0"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ {2}retention_days: /m);
    const denied = await as("audit:read", ["retention", "set", "500"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: Forbidden \(403\)/);
    // Back to the default, so the events stay visible to the other tests.
    expect((await as("audit:admin", ["retention", "set", "2557"])).code).toBe(0);
  });

  it("destinations list and status show what the API shows", async () => {
    const created = await api("POST", "/v1/audit/destinations", "audit:admin", {
      name: "cli webhook",
      type: "webhook",
      config: { url: "http://127.0.0.1:1/hook" },
      credentials_secret: "siem/webhook",
    });
    try {
      const list = await as("audit:admin", ["destinations", "list", "-o", "jsonl"]);
      expect(list.code, list.stderr).toBe(0);
      const listed = jsonl(list.stdout);
      expect(listed.map((d) => d.destination_id)).toContain(created.destination_id);
      const table = await as("audit:admin", ["destinations", "list", "-o", "table"]);
      expect(table.stdout).toMatch(new RegExp(`${created.destination_id}.*cli webhook.*webhook`));
      const status = await as("audit:admin", [
        "destinations",
        "status",
        created.destination_id,
        "-o",
        "json",
      ]);
      expect(status.code, status.stderr).toBe(0);
      const want = await api("GET", `/v1/audit/destinations/${created.destination_id}`, "audit:admin");
      expect(JSON.parse(status.stdout)).toMatchObject({
        destination_id: created.destination_id,
        state: want.status.state,
        delivered: want.status.delivered,
        paused: false,
      });
      const missing = await as("audit:admin", ["destinations", "status", "dst_nope"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("(404)");
      const denied = await as("audit:read", ["destinations", "list"]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain("(403)");
    } finally {
      await api("DELETE", `/v1/audit/destinations/${created.destination_id}`, "audit:admin");
    }
  });
});

describe("exports and verify", () => {
  const destination = (prefix: string, endpoint = azurite.blobEndpoint) =>
    JSON.stringify({
      type: "azure_blob",
      container: CONTAINER,
      endpoint,
      prefix,
      credentials_secret: "secret/azure",
    });

  /** What an export wrote, downloaded into a folder as an auditor would. */
  async function download(prefix: string): Promise<string> {
    const folder = await mkdtemp(path.join(dir, "export-"));
    for await (const b of container.listBlobsFlat({ prefix }))
      await writeFile(
        path.join(folder, b.name.slice(prefix.length)),
        await container.getBlockBlobClient(b.name).downloadToBuffer(),
      );
    return folder;
  }

  it("export create --wait prints the manifest; status, list and verify agree; a tampered file fails verify", async () => {
    // Every event sealed and covered by a checkpoint first, so the manifest proves every record.
    await until(
      () =>
        fetch(`${base}/v1/audit/integrity/checkpoint`, {
          headers: { Authorization: `Bearer ${tokens[`${tenant} audit:read`]}` },
        }).then((r) => r.json()),
      (c: any) => c.size === TOTAL,
    );
    const r = await as("audit:export", [
      "export",
      "create",
      "--destination",
      destination("cli-all/"),
      "--format",
      "jsonl",
      "--max-file-records",
      "25",
      "--wait",
      "--interval",
      "200",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout);
    expect(manifest.total_records).toBe(TOTAL);
    expect(manifest.files).toHaveLength(3);
    expect(manifest.integrity).toMatchObject({ unproven: 0 });
    // Not a terminal: no bar drawn, one line at the end.
    expect(r.stderr).toContain(`${manifest.export_id}: completed, ${TOTAL} of ${TOTAL} records`);

    const status = await as("audit:export", ["export", "status", manifest.export_id, "-o", "json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({
      status: "completed",
      manifest,
      progress: { records: TOTAL, estimated_total: TOTAL },
    });
    const waited = await as("audit:export", ["export", "wait", manifest.export_id]);
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toEqual(manifest);
    const list = await as("audit:export", ["export", "list", "--status", "completed", "-o", "jsonl"]);
    expect(jsonl(list.stdout).map((e) => e.export_id)).toContain(manifest.export_id);
    const ended = await as("audit:export", ["export", "cancel", manifest.export_id]);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain("(409)");

    const keys = await api("GET", "/v1/audit/integrity/keys", "audit:read");
    const key = keys.keys[0].verifier_key as string;
    const folder = await download("cli-all/");
    const ok = await cli(["verify", folder, "--key", key]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain(`${TOTAL} records proven`);
    expect(ok.stdout).toContain("the export verifies");
    expect((await cli(["verify", path.join(folder, "manifest.json"), "--key", key])).code).toBe(0);

    const part = path.join(folder, "part-00001.jsonl");
    const text = await readFile(part, "utf8");
    // One record's action changed.
    const changed = text.replace(
      /"action":"(\w+)"/,
      (_, a: string) => `"action":"${a === "read" ? "write" : "read"}"`,
    );
    expect(changed).not.toBe(text);
    await writeFile(part, changed);
    const tampered = await cli(["verify", folder, "--key", key]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^FAIL part-00001\.jsonl/m);
    expect(tampered.stdout).toContain("check(s) failed");

    expect((await cli(["verify", folder])).code).toBe(2);
    expect((await cli(["verify", path.join(folder, "nope"), "--key", key])).code).toBe(2);
    expect((await cli(["verify", folder, "--key", "not a key"])).code).toBe(2);
  });

  it("export cancel stops a running export; wait then says so with exit code 1", async () => {
    gate.hold();
    try {
      const r = await as("audit:export", [
        "export",
        "create",
        "--destination",
        destination("cli-cancel/", `${gate.endpoint}/${AZURITE_ACCOUNT}`),
        "--action",
        "read",
      ]);
      expect(r.code, r.stderr).toBe(0);
      const { export_id } = JSON.parse(r.stdout);
      // The worker took it and its upload waits at the gate: running.
      await gate.reached();
      const cancelled = await as("audit:export", ["export", "cancel", export_id, "-o", "json"]);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(JSON.parse(cancelled.stdout)).toMatchObject({ export_id, status: "cancelled" });
      const waited = await as("audit:export", ["export", "wait", export_id]);
      expect(waited.code).toBe(1);
      expect(waited.stderr).toContain(`error: export ${export_id} cancelled`);
      expect(waited.stdout).toBe("");
    } finally {
      gate.release();
    }
  });

  it("a bad export request is the service's 400 naming the field; a read token is a 403", async () => {
    const bad = await as("audit:export", [
      "export",
      "create",
      "--destination",
      JSON.stringify({
        type: "azure_blob",
        container: CONTAINER,
        prefix: "x/",
        credentials_secret: "secret/azure",
        connection_string: "inline",
      }),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ {2}destination(\.connection_string)?: /m);
    const denied = await as("audit:read", ["export", "list"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("(403)");
    expect((await as("audit:export", ["export", "create", "--destination", "{not json"])).code).toBe(2);
  });
});

describe("token and settings", () => {
  it("token mints a dev token the service accepts, with the scopes asked for", async () => {
    const r = await cli(
      ["token", "--tenant", tenant, "--scope", "audit:read", "--sub", "user:cli@acme.example"],
      { AUDIT_JWT_SECRET: TEST_SECRET },
    );
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    const logs = await cli(["--url", base, "--token", token, "logs", "--limit", "3", "-o", "jsonl"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(jsonl(logs.stdout)).toHaveLength(3);
    const denied = await cli(["--url", base, "--token", token, "retention", "set", "100"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("(403)");
    expect(
      (
        await cli(["token", "--tenant", tenant, "--scope", "audit:everything"], {
          AUDIT_JWT_SECRET: TEST_SECRET,
        })
      ).code,
    ).toBe(2);
    expect((await cli(["token", "--scope", "audit:read"], { AUDIT_JWT_SECRET: TEST_SECRET })).code).toBe(2);
  });

  it("flags beat the environment, which beats the profile file; a bad profile file names the field", async () => {
    const file = path.join(dir, "config.json");
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    await writeFile(
      file,
      JSON.stringify({
        profiles: {
          default: { url: base, token: tokens[`${tenant} audit:read`] },
          quiet: { url: base, token: tokens[`${quiet} audit:read`] },
          nowhere: { url: nowhere },
        },
      }),
    );
    const ids = async (args: string[], env: Record<string, string>) => {
      const r = await cli([...args, "logs", "--limit", "1000", "-o", "jsonl"], {
        SCAIVAULT_AUDIT_CONFIG: file,
        ...env,
      });
      return { code: r.code, ids: jsonl(r.stdout).map((e) => e.id), stderr: r.stderr };
    };
    // The profile file alone.
    expect((await ids([], {})).ids).toHaveLength(TOTAL);
    // A named profile (flag, or environment).
    expect((await ids(["--profile", "quiet"], {})).ids).toEqual(["quiet-1"]);
    expect((await ids([], { SCAIVAULT_AUDIT_PROFILE: "quiet" })).ids).toEqual(["quiet-1"]);
    // The environment beats the profile: the URL, then the token.
    expect((await ids([], { SCAIVAULT_AUDIT_URL: nowhere })).code).toBe(3);
    expect((await ids([], { SCAIVAULT_AUDIT_TOKEN: tokens[`${quiet} audit:read`] as string })).ids).toEqual([
      "quiet-1",
    ]);
    // Flags beat the environment.
    expect((await ids(["--url", base], { SCAIVAULT_AUDIT_URL: nowhere })).ids).toHaveLength(TOTAL);
    expect(
      (await ids(["--token", tokens[`${tenant} audit:read`] as string], { SCAIVAULT_AUDIT_TOKEN: "garbage" }))
        .ids,
    ).toHaveLength(TOTAL);
    // Profile nowhere has a URL but no token; --url and --token fill in.
    expect((await ids(["--profile", "nowhere"], {})).code).toBe(3);
    // An unknown profile, a bad file: exit code 2, naming what is wrong.
    const unknown = await ids(["--profile", "staging"], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no profile "staging"');
    await writeFile(file, JSON.stringify({ profiles: { default: { url: 5, tokn: "x" } } }));
    const bad = await ids([], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("profiles.default.url");
    expect(bad.stderr).toContain("tokn");
    // No file, nothing given: the default URL (nothing listens there in the test: exit 3 or an answer, never 2).
    const none = await cli(["logs"], {
      SCAIVAULT_AUDIT_CONFIG: path.join(dir, "absent.json"),
      SCAIVAULT_AUDIT_URL: nowhere,
    });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain(nowhere);
  });
});

describe("logs --follow", () => {
  it("prints live events and, across a restart of the service, resumes with nothing lost and nothing twice", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const start = async () => {
      const s = startService({
        ...serviceEnv,
        PORT: String(port),
        EXPORT_WORKER: "false",
        INTEGRITY_SEALER: "false",
      });
      await waitForStatus(`${url}/readyz`, 200, 90_000, s.output);
      return s;
    };
    let replica = await start();
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "cli/main.ts",
        "--url",
        url,
        "--token",
        tokens[`${tenant} audit:read`] as string,
        "logs",
        "--follow",
        "--path-prefix",
        "live",
        "-o",
        "jsonl",
      ],
      { cwd: PROJECT_ROOT, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    const seen = () => jsonl(stdout).map((e) => e.id);
    const waitOutput = (what: string, ok: () => boolean) =>
      until(async () => ok(), Boolean, 60_000).catch(() => {
        throw new Error(`waiting for ${what}; stdout: ${stdout}\nstderr: ${stderr}`);
      });
    try {
      await waitOutput("following", () => stderr.includes(`following ${url}`));
      // Not matching the filter: never printed.
      await ingest([event({ id: "live-x", path: "prod/not-live" }), event({ id: "live-a", path: "live/a" })]);
      await waitOutput("live-a", () => seen().includes("live-a"));
      // The service restarts: the stream ends, the CLI keeps trying.
      replica.child.kill("SIGTERM");
      await exitOf(replica.child);
      await waitOutput("reconnecting", () => /stream ended \(shutdown\); reconnecting/.test(stderr));
      // Stored while the CLI is disconnected (through the other replica).
      await ingest([event({ id: "live-b", path: "live/b" })]);
      replica = await start();
      await waitOutput("live-b", () => seen().includes("live-b"));
      expect(stderr).toMatch(/resumed after \S+/);
      await ingest([event({ id: "live-c", path: "live/c" })]);
      await waitOutput("live-c", () => seen().includes("live-c"));
      expect(seen()).toEqual(["live-a", "live-b", "live-c"]);
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
      replica.child.kill("SIGTERM");
      await exitOf(replica.child);
    }
  }, 240_000);

  it("--follow against an unreachable service is exit code 3, with a refused request exit code 1", async () => {
    const r = await cli(["--url", `http://127.0.0.1:${await freePort()}`, "logs", "--follow"]);
    expect(r.code).toBe(3);
    const bad = await as("audit:read", ["logs", "--follow", "--identity-type", "robot"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ {2}identity_type: /m);
  });
});

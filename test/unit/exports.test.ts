import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { endpointRefusal, parseAllowlist } from "../../src/destinations/allowlist.ts";
import { fileSecrets, scaivaultSecrets } from "../../src/destinations/credentials.ts";
import { DestinationError } from "../../src/destinations/errors.ts";
import { InvalidInput } from "../../src/errors.ts";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import {
  CSV_COLUMNS,
  fileHeader,
  formatEvents,
  guardCell,
} from "../../src/features/exports/exports.format.ts";
import { snapshotPage } from "../../src/features/exports/exports.query.ts";
import { createExportSchema } from "../../src/features/exports/exports.schema.ts";
import { issuesToFields, resolve, toStored } from "../../src/filters/filters.ts";
import { DEAD_OPENSEARCH, SERVICE_ENV, testApp } from "../support/app.ts";

const T = { id: "t", since: null };

const NOW = new Date("2026-11-26T14:30:00.000Z");
const CreateExportSchema = createExportSchema(() => NOW);

/** An export's filters as the API takes them: the request schema's check, then the resolution the job stores. */
function parseExportFilters(input: object, now: Date) {
  const parsed = createExportSchema(() => now).shape.filters.safeParse(input);
  if (!parsed.success)
    throw new InvalidInput(
      "the export's filters are invalid",
      issuesToFields(parsed.error.issues, "is not a known field").map((e) => ({
        ...e,
        field: `filters.${e.field}`,
      })),
    );
  const { filters } = resolve(parsed.data, now);
  return { filters, resolved: toStored(filters) };
}

const sample = (patch: Partial<AuditEvent> = {}): AuditEvent => ({
  id: "01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
  timestamp: "2026-11-26T14:30:05.123456Z",
  action: "read",
  path: "prod/payments/db-password",
  identity: { id: "user:person@acme.example", type: "user", session_id: null },
  source_ip: "203.0.113.7",
  user_agent: "scaivault-cli/2.3.1",
  request: { id: "req_1", method: "GET", status: 200, duration_ms: 3.214 },
  success: true,
  error_code: null,
  context: { reason: "scheduled" },
  ...patch,
});

const failureOf = async (p: Promise<unknown>): Promise<DestinationError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DestinationError);
  return err as DestinationError;
};

describe("csv", () => {
  it("guards cells that a spreadsheet would run as a formula", () => {
    for (const v of ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]) expect(guardCell(v)).toBe(`'${v}`);
    for (const v of ["a=1", "1-2", "", "user:x"]) expect(guardCell(v)).toBe(v);
  });

  it("writes the contract's columns in order, quotes per RFC 4180 with CRLF, and round-trips", () => {
    const e = sample({
      user_agent: '=HYPERLINK("x")',
      error_code: "a,b",
      context: { note: 'he said "hi"\r\nthen left' },
      source_ip: null,
      request: { id: null, method: null, status: null, duration_ms: null },
      success: false,
    });
    const text = fileHeader("csv") + formatEvents("csv", [e]);
    expect(text.split("\r\n")[0]).toBe(CSV_COLUMNS.map((c) => `"${c}"`).join(","));
    const [header, row] = parse(text) as string[][];
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(row).toEqual([
      e.id,
      e.timestamp,
      "read",
      e.path,
      e.identity.id,
      "user",
      "",
      "",
      `'=HYPERLINK("x")`,
      "",
      "",
      "",
      "",
      "false",
      "a,b",
      JSON.stringify(e.context),
    ]);
    expect(text).toContain('"\'=HYPERLINK(""x"")"'); // quotes doubled inside a quoted cell
  });

  it("jsonl is one API-form event per line; no header", () => {
    const events = [sample(), sample({ id: "b", context: { multi: "line\nbreak" } })];
    expect(fileHeader("jsonl")).toBe("");
    const lines = formatEvents("jsonl", events).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2).map((l) => JSON.parse(l))).toEqual(events);
  });
});

describe("export filters", () => {
  it("are validated like /logs parameters, errors named filters.<name>", () => {
    try {
      parseExportFilters(
        { action: ["read", "peek"], from: "yesterday", source_ip: "10.0.0.0/99", path: "/x" },
        NOW,
      );
      throw new Error("expected a 400");
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInput);
      expect((err as InvalidInput).errors.map((e) => e.field).sort()).toEqual([
        "filters.action",
        "filters.from",
        "filters.path",
        "filters.source_ip",
      ]);
    }
  });

  it("an empty action list is refused, not stored as a filter that matches nothing", () => {
    for (const action of [[], "", " , "]) {
      try {
        parseExportFilters({ action }, NOW);
        throw new Error(`expected a 400 for ${JSON.stringify(action)}`);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInput);
        expect((err as InvalidInput).errors.map((e) => e.field)).toEqual(["filters.action"]);
      }
    }
  });

  it("resolve relative times once, so the job keeps the window it was created with", () => {
    const { filters, resolved } = parseExportFilters(
      { from: "now-7d", to: "now", action: "write,read", path: "prod/x", success: false },
      NOW,
    );
    expect(resolved).toEqual({
      from: "2026-11-19T14:30:00.000000Z",
      to: "2026-11-26T14:30:00.000000Z",
      action: ["read", "write"],
      path: "prod/x",
      success: false,
    });
    expect(filters).toMatchObject({ actions: ["read", "write"], path: "prod/x", success: false });
    // Parsing the stored form later gives the same filters, whatever the clock says then.
    expect(parseExportFilters(resolved, new Date("2030-01-01T00:00:00Z")).filters).toEqual(filters);
  });

  it("pages the snapshot oldest first, continuing after a document's own position", () => {
    const body = snapshotPage(
      T,
      {},
      { pitId: "p", keepAlive: "5m", size: 100, after: ["2026-11-26T14:30:05.123456Z", "id9"] },
    );
    expect(body).toMatchObject({
      pit: { id: "p", keep_alive: "5m" },
      size: 100,
      search_after: ["2026-11-26T14:30:05.123456Z", "id9"],
      sort: [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc" } }],
    });
    expect(body).not.toHaveProperty("index");
  });
});

describe("the create request", () => {
  const dest = { type: "s3", bucket: "acme-audit", region: "us-east-1", credentials_secret: "infra/aws/x" };
  it("fills the defaults", () => {
    expect(CreateExportSchema.parse({ destination: dest })).toMatchObject({
      format: "jsonl",
      compression: "none",
      filters: {},
      max_file_records: 1_000_000,
      destination: { prefix: "" },
    });
  });
  it("wants exactly one of account, container_url or endpoint for Azure", () => {
    const azure = { type: "azure_blob", container: "audit", credentials_secret: "x" };
    expect(CreateExportSchema.safeParse({ destination: azure }).success).toBe(false);
    expect(CreateExportSchema.safeParse({ destination: { ...azure, account: "acct1" } }).success).toBe(true);
    expect(
      CreateExportSchema.safeParse({
        destination: {
          ...azure,
          account: "acct1",
          container_url: "https://acct1.blob.core.windows.net/audit",
        },
      }).success,
    ).toBe(false);
  });
  it("refuses secret paths with '.' or '..' segments (URL rules would resolve them to another secret)", () => {
    for (const credentials_secret of [
      "../etc/passwd",
      "infra/../root",
      "infra/./aws",
      ".",
      "a/..",
      "infra//x",
    ])
      expect(CreateExportSchema.safeParse({ destination: { ...dest, credentials_secret } }).success).toBe(
        false,
      );
    for (const credentials_secret of ["infra/aws/x", "infra/.hidden", "a..b/c", "v1.2/x"])
      expect(CreateExportSchema.safeParse({ destination: { ...dest, credentials_secret } }).success).toBe(
        true,
      );
  });
  it("refuses prefixes that escape or start at the root", () => {
    for (const prefix of ["/abs/", "a/../b/"])
      expect(CreateExportSchema.safeParse({ destination: { ...dest, prefix } }).success).toBe(false);
  });
});

describe("endpoint allowlist", () => {
  const allow = ["http://127.0.0.1:9000", "https://minio.internal:9443"];
  it("allows listed origins and the providers' own hosts only", () => {
    expect(endpointRefusal("http://127.0.0.1:9000", allow)).toBeUndefined();
    expect(endpointRefusal("http://127.0.0.1:9000/some/path", allow)).toBeUndefined();
    expect(endpointRefusal("https://s3.eu-west-1.amazonaws.com", allow)).toBeUndefined();
    expect(endpointRefusal("https://acct.blob.core.windows.net/c", allow)).toBeUndefined();
    expect(endpointRefusal("http://127.0.0.1:9001", allow)).toMatch(/not in EXPORT_ENDPOINT_ALLOWLIST/);
    expect(endpointRefusal("https://minio.internal", allow)).toMatch(/not in/); // port differs
    expect(endpointRefusal("http://s3.amazonaws.com", allow)).toMatch(/not in/); // plain http
    expect(endpointRefusal("https://s3.amazonaws.com.evil.example", allow)).toMatch(/not in/);
    expect(endpointRefusal("http://u:p@127.0.0.1:9000", allow)).toMatch(/user-info/);
    expect(endpointRefusal("file:///etc/passwd", allow)).toMatch(/http/);
  });
  it("takes receivers that do not speak HTTP by their own scheme, host and explicit port", () => {
    const list = (parseAllowlist("tls://siem.internal:6514 kafka://10.0.0.5:9093") as { origins: string[] })
      .origins;
    expect(list).toEqual(["tls://siem.internal:6514", "kafka://10.0.0.5:9093"]);
    expect(endpointRefusal("tls://siem.internal:6514", list, ["tls:"])).toBeUndefined();
    expect(endpointRefusal("tls://SIEM.Internal:6514", list, ["tls:"])).toBeUndefined(); // host names ignore case
    expect(endpointRefusal("tls://siem.internal:6515", list, ["tls:"])).toMatch(/not in/);
    expect(endpointRefusal("kafka://10.0.0.5:9093", list, ["tls:"])).toMatch(/tls:\/\/host:port/);
    expect(endpointRefusal("tls://siem.internal", list, ["tls:"])).toMatch(/host:port/); // no port
    expect(endpointRefusal("tls://u:p@siem.internal:6514", list, ["tls:"])).toMatch(/user-info/);
    // An object store or a webhook never takes a stream scheme, listed or not.
    expect(endpointRefusal("tls://siem.internal:6514", list)).toMatch(/http/);
    expect(parseAllowlist("tls://siem.internal").ok).toBe(false);
    expect(parseAllowlist("tls://siem.internal:6514/path").ok).toBe(false);
  });
  it("parses origins and rejects anything else", () => {
    expect(parseAllowlist("http://127.0.0.1:9000, https://minio.internal:9443/")).toEqual({
      ok: true,
      origins: allow,
    });
    expect(parseAllowlist("https://x.example/path").ok).toBe(false);
    expect(parseAllowlist("not a url").ok).toBe(false);
  });
  it("is checked when the configuration loads", () => {
    expect(() => loadConfig({ ...SERVICE_ENV, EXPORT_ENDPOINT_ALLOWLIST: "ftp://x" }, tmpdir())).toThrow(
      /EXPORT_ENDPOINT_ALLOWLIST/,
    );
    expect(() => loadConfig({ ...SERVICE_ENV, SCAIVAULT_ADDR: "https://vault.example" }, tmpdir())).toThrow(
      /SCAIVAULT_TOKEN/,
    );
  });
});

describe("secrets", () => {
  let dir = "";
  let server: Server;
  let addr = "";
  const seen: { url: string; token: string | undefined; tenant: string | undefined }[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "secrets-"));
    server = createServer((req, res) => {
      seen.push({
        url: req.url ?? "",
        token: req.headers["x-scaivault-token"] as string,
        tenant: req.headers["x-scaivault-tenant"] as string,
      });
      if (req.url === "/v1/secrets/infra/aws/exporter") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ data: { access_key_id: "a", secret_access_key: "b" } }));
      } else if (req.url === "/v1/secrets/slow") setTimeout(() => res.end("{}"), 2000);
      else if (req.url === "/v1/secrets/redirect") {
        res.writeHead(302, { Location: "http://example.invalid/steal" });
        res.end();
      } else if (req.url === "/v1/secrets/denied") {
        res.writeHead(403);
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("from SECRETS_FILE: per tenant, missing → secret_not_found", async () => {
    const file = path.join(dir, "s.json");
    await writeFile(file, JSON.stringify({ acme: { "infra/aws": { access_key_id: "x" } }, other: {} }));
    const secrets = fileSecrets(file);
    expect(await secrets.resolve("acme", "infra/aws")).toEqual({ access_key_id: "x" });
    expect((await failureOf(secrets.resolve("other", "infra/aws"))).code).toBe("secret_not_found");
    expect((await failureOf(fileSecrets(path.join(dir, "none.json")).resolve("acme", "x"))).code).toBe(
      "secret_unavailable",
    );
  });

  it("from ScaiVault: token and tenant in headers; 404, 403, timeouts and redirects are clear failures", async () => {
    const vault = scaivaultSecrets({ addr, token: "svc-token", timeoutMs: 500 });
    expect(await vault.resolve("acme", "infra/aws/exporter")).toEqual({
      access_key_id: "a",
      secret_access_key: "b",
    });
    expect(seen[0]).toEqual({ url: "/v1/secrets/infra/aws/exporter", token: "svc-token", tenant: "acme" });
    expect((await failureOf(vault.resolve("acme", "missing"))).code).toBe("secret_not_found");
    expect((await failureOf(vault.resolve("acme", "denied"))).code).toBe("secret_unavailable");
    const slow = await failureOf(vault.resolve("acme", "slow"));
    expect(slow.message).toMatch(/500 ms/);
    expect((await failureOf(vault.resolve("acme", "redirect"))).code).toBe("secret_unavailable");
  });
});

describe("the document's prefix pattern agrees with the service", () => {
  it("takes what the checks take and refuses what they refuse", async () => {
    const { prefix } = await import("../../src/destinations/object-stores/common.ts");
    const { app } = testApp(DEAD_OPENSEARCH);
    const doc = (await (await app.request("/openapi.json")).json()) as any;
    const pattern = new RegExp(doc.components.schemas.S3Destination.properties.prefix.pattern);
    for (const p of [
      "",
      "audit/",
      "a//b",
      "./x",
      ".hidden/x",
      "..x/y",
      "a/b/c",
      "/x",
      "../x",
      "a/../b",
      "a/..",
      "..",
      "/",
    ])
      expect(pattern.test(p), p).toBe(prefix.safeParse(p).success);
  });
});

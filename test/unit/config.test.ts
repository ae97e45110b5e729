import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultCacheDir, loadDevConfig } from "../../dev/config.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import { KeyUnavailable, loadIntegrityKeys } from "../../src/features/integrity/integrity.keys.ts";
import { generateSignerKey, parseSignerKey } from "../../src/features/integrity/note.ts";

const tmp = () => mkdtempSync(path.join(tmpdir(), "cfg-"));
const SECRET = "s".repeat(32);
const REMOTE = { OPENSEARCH_URL: "https://search.internal:9200" };

function issuesOf(
  env: NodeJS.ProcessEnv,
  load: (env: NodeJS.ProcessEnv, cwd: string) => unknown = loadConfig,
) {
  try {
    load(env, tmp());
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig (the service)", () => {
  it("applies defaults and freezes the result", () => {
    const c = loadConfig({ ...REMOTE, AUDIT_JWT_SECRET: SECRET }, tmp());
    expect(c.port).toBe(8080);
    expect(c.host).toBe("127.0.0.1");
    expect(c.bodyLimitBytes).toBe(10 * 1024 * 1024);
    expect(c.auth.jwtSecret).toBe(SECRET);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.opensearch)).toBe(true);
  });

  it("needs OPENSEARCH_URL (npm start provides a local one), and a JWT secret or JWKS URL", () => {
    expect(issuesOf({ AUDIT_JWT_SECRET: SECRET }).map((i) => i.variable)).toEqual(["OPENSEARCH_URL"]);
    const issues = issuesOf(REMOTE);
    expect(issues).toEqual([expect.objectContaining({ variable: "AUDIT_JWT_SECRET" })]);
    const c = loadConfig(
      { ...REMOTE, AUDIT_JWKS_URL: "https://idp/jwks.json", AUDIT_CURSOR_SECRET: SECRET },
      tmp(),
    );
    expect(c.opensearch.url).toBe("https://search.internal:9200");
    expect(c.auth.jwtSecret).toBeUndefined();
  });

  it("signs cursors with AUDIT_CURSOR_SECRET, or a key derived from the JWT secret, and needs one with JWKS alone", () => {
    const issues = issuesOf({ ...REMOTE, AUDIT_JWKS_URL: "https://idp/jwks.json" });
    expect(issues.map((i) => i.variable)).toEqual(["AUDIT_CURSOR_SECRET"]);
    const a = loadConfig({ ...REMOTE, AUDIT_JWT_SECRET: SECRET }, tmp());
    const b = loadConfig({ ...REMOTE, AUDIT_JWT_SECRET: SECRET }, tmp());
    expect(a.cursorKey.equals(b.cursorKey)).toBe(true); // every replica derives the same key
    expect(a.cursorKey.toString()).not.toContain(SECRET);
    const c = loadConfig({ ...REMOTE, AUDIT_JWT_SECRET: SECRET, AUDIT_CURSOR_SECRET: "c".repeat(32) }, tmp());
    expect(c.cursorKey.toString()).toBe("c".repeat(32));
  });

  it("reads budgets, deadlines, the probe and connection limits; refuses ones that contradict each other", () => {
    const c = loadConfig(
      {
        ...REMOTE,
        AUDIT_JWT_SECRET: SECRET,
        RATE_LIMIT_TENANT_PER_SECOND: "50",
        CONCURRENCY_PER_TENANT: "8",
        DEADLINE_AGGREGATION_MS: "60000",
        OPENSEARCH_PROBE_TIMEOUT_MS: "1500",
        HTTP_MAX_CONNECTIONS_PER_ADDRESS: "32",
      },
      tmp(),
    );
    expect(c.budgets).toMatchObject({ tenantPerSecond: 50, tenantConcurrency: 8, tenantBurst: 800 });
    expect(c.deadlines).toEqual({ pageMs: 10_000, aggregationMs: 60_000, ingestMs: 15_000 });
    expect(c.health).toEqual({ probeIntervalMs: 1000, probeTimeoutMs: 1500 });
    expect(c.connections).toMatchObject({
      maxPerAddress: 32,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
    });
    const issues = issuesOf({
      ...REMOTE,
      AUDIT_JWT_SECRET: SECRET,
      RATE_LIMIT_SUBJECT_BURST: "900",
      CONCURRENCY_PER_TENANT: "200",
      HTTP_HEADERS_TIMEOUT_MS: "60000",
      DEADLINE_PAGE_MS: "0",
    });
    expect(issues.map((i) => i.variable).sort()).toEqual([
      "CONCURRENCY_PER_TENANT",
      "DEADLINE_PAGE_MS",
      "HTTP_HEADERS_TIMEOUT_MS",
      "RATE_LIMIT_SUBJECT_BURST",
    ]);
  });

  it("names every bad variable", () => {
    const issues = issuesOf({
      PORT: "eighty",
      OPENSEARCH_URL: "not a url",
      OPENSEARCH_TLS_VERIFY: "maybe",
      LOG_LEVEL: "loud",
      AUDIT_JWT_SECRET: "short",
    });
    expect(issues.map((i) => i.variable).sort()).toEqual(
      ["AUDIT_JWT_SECRET", "LOG_LEVEL", "OPENSEARCH_TLS_VERIFY", "OPENSEARCH_URL", "PORT"].sort(),
    );
    expect(issues.find((i) => i.variable === "AUDIT_JWT_SECRET")?.message).toMatch(/32 characters/);
  });

  it("puts the variable names into the error message", () => {
    expect(() => loadConfig({ PORT: "70000" }, tmp())).toThrow(/PORT: /);
  });

  it("requires a username with a password", () => {
    const issues = issuesOf({ ...REMOTE, OPENSEARCH_PASSWORD: "x", AUDIT_JWT_SECRET: SECRET });
    expect(issues.map((i) => i.variable)).toEqual(["OPENSEARCH_USERNAME"]);
  });

  it("parses booleans and numbers", () => {
    const c = loadConfig(
      {
        ...REMOTE,
        PORT: "0",
        OPENSEARCH_TLS_VERIFY: "false",
        BODY_LIMIT_BYTES: "2048",
        AUDIT_JWT_SECRET: SECRET,
      },
      tmp(),
    );
    expect(c.port).toBe(0);
    expect(c.opensearch.tlsVerify).toBe(false);
    expect(c.bodyLimitBytes).toBe(2048);
  });
});

describe("loadDevConfig (npm start, npm run opensearch, npm run token)", () => {
  it("applies defaults and resolves paths against the working directory", () => {
    const cwd = tmp();
    const c = loadDevConfig({ AUDIT_JWT_SECRET: SECRET }, cwd);
    expect(c.mode).toBe("local");
    expect(c.localNode.dataDir).toBe(path.join(cwd, ".data/opensearch"));
    expect(c.localNode.version).toMatch(/^3\.\d+\.\d+$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("is remote mode when OPENSEARCH_URL is set", () => {
    expect(loadDevConfig(REMOTE, tmp()).mode).toBe("remote");
  });

  it("names every bad variable", () => {
    const issues = issuesOf({ OPENSEARCH_HEAP: "lots", OPENSEARCH_VERSION: "2.19.0" }, loadDevConfig);
    expect(issues.map((i) => i.variable).sort()).toEqual(["OPENSEARCH_HEAP", "OPENSEARCH_VERSION"]);
  });

  it("treats empty variables as unset", () => {
    expect(loadDevConfig({ OPENSEARCH_URL: "", AUDIT_JWT_SECRET: SECRET }, tmp()).mode).toBe("local");
  });

  it("in local mode without a secret, names a private file for the generated one, which is reused", async () => {
    const { devSecret } = await import("../../dev/config.ts");
    const cwd = tmp();
    const first = loadDevConfig({}, cwd);
    const file = path.join(cwd, ".data", "dev-jwt-secret");
    expect(first.devSecretFile).toBe(file);
    const secret = devSecret(file);
    expect(secret).toMatch(/^[\w-]{43}$/);
    expect(readFileSync(file, "utf8").trim()).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(devSecret(file)).toBe(secret);
    expect(loadDevConfig({ AUDIT_JWT_SECRET: SECRET }, cwd).devSecretFile).toBeUndefined();
  });

  it("keeps the artifact cache out of root's home (the OpenSearch user must read it)", () => {
    expect(defaultCacheDir({}, true)).toBe("/var/cache/scaivault-audit");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x/cache" }, false)).toBe("/x/cache/scaivault-audit");
  });
});

describe("the integrity signing key (a file, or a ScaiVault secret)", () => {
  const base = { ...REMOTE, AUDIT_JWT_SECRET: SECRET };
  const keyText = generateSignerKey("scaivault.test/audit");

  it("takes a secret as <tenant>:<path>, from a secret store, and never both a file and a secret", () => {
    const dir = tmp();
    const c = loadConfig(
      { ...base, SECRETS_FILE: "s.json", INTEGRITY_SIGNING_KEY_SECRET: "ops:audit/signer" },
      dir,
    );
    expect(c.integrity.signingKeySecret).toEqual({ tenant: "ops", path: "audit/signer" });
    expect(c.integrity.signingKeyFile).toBeUndefined();
    for (const [env, variable] of [
      [{ SECRETS_FILE: "s.json", INTEGRITY_SIGNING_KEY_SECRET: "no-tenant" }, "INTEGRITY_SIGNING_KEY_SECRET"],
      [{ SECRETS_FILE: "s.json", INTEGRITY_SIGNING_KEY_SECRET: "ops:" }, "INTEGRITY_SIGNING_KEY_SECRET"],
      [{ INTEGRITY_SIGNING_KEY_SECRET: "ops:audit/signer" }, "INTEGRITY_SIGNING_KEY_SECRET"],
      [
        { SECRETS_FILE: "s.json", INTEGRITY_SIGNING_KEY_SECRET: "ops:a", INTEGRITY_SIGNING_KEY_FILE: "k" },
        "INTEGRITY_SIGNING_KEY_SECRET",
      ],
    ] as const)
      expect(issuesOf({ ...base, ...env }).map((i) => i.variable)).toEqual([variable]);
  });

  it("reads the key from the secret (field signer_key) or the file, and names what cannot be had", async () => {
    const dir = tmp();
    const secretsFile = path.join(dir, "secrets.json");
    writeFileSync(
      secretsFile,
      JSON.stringify({ ops: { "audit/signer": { signer_key: keyText }, "audit/other": { key: keyText } } }),
    );
    const keyFile = path.join(dir, "key");
    writeFileSync(keyFile, `${keyText}\n`);
    const secrets = fileSecrets(secretsFile);
    const load = (env: Record<string, string>) =>
      loadIntegrityKeys(loadConfig({ ...base, SECRETS_FILE: secretsFile, ...env }, dir).integrity, secrets);
    const expected = parseSignerKey(keyText).keyId;
    const sources: Record<string, string>[] = [
      { INTEGRITY_SIGNING_KEY_SECRET: "ops:audit/signer" },
      { INTEGRITY_SIGNING_KEY_FILE: keyFile },
    ];
    for (const env of sources) {
      const keys = await load(env);
      expect(keys.signer?.keyId).toBe(expected);
      expect(keys.signerText).toBe(keyText);
      expect(keys.seal?.id).toBe(expected);
    }
    expect((await load({})).signer).toBeNull();
    const failures: [Record<string, string>, RegExp][] = [
      [
        { INTEGRITY_SIGNING_KEY_SECRET: "ops:audit/missing" },
        /INTEGRITY_SIGNING_KEY_SECRET cannot be read: no secret/,
      ],
      [{ INTEGRITY_SIGNING_KEY_SECRET: "other:audit/signer" }, /INTEGRITY_SIGNING_KEY_SECRET cannot be read/],
      [{ INTEGRITY_SIGNING_KEY_SECRET: "ops:audit/other" }, /no `signer_key`/],
      [
        { INTEGRITY_SIGNING_KEY_FILE: path.join(dir, "nope") },
        /INTEGRITY_SIGNING_KEY_FILE cannot be read \(ENOENT\)/,
      ],
      [{ INTEGRITY_SIGNING_KEY_FILE: secretsFile }, /not a signer key/],
    ];
    for (const [env, message] of failures) {
      const err = await load(env).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyUnavailable);
      expect((err as Error).message).toMatch(message);
      // The key's text never appears in what is said about it (its base64 may hold '+' itself).
      const secretPart = keyText.split("+").slice(4).join("+");
      expect(secretPart.length).toBeGreaterThan(40);
      expect((err as Error).message).not.toContain(secretPart);
    }
  });
});

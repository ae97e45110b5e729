import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, defaultCacheDir, loadConfig } from "../../src/config.ts";

const tmp = () => mkdtempSync(path.join(tmpdir(), "cfg-"));
const SECRET = "s".repeat(32);

function issuesOf(env: NodeJS.ProcessEnv): { variable: string; message: string }[] {
  try {
    loadConfig(env, tmp());
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies defaults and resolves paths against the working directory", () => {
    const cwd = tmp();
    const c = loadConfig({ AUDIT_JWT_SECRET: SECRET }, cwd);
    expect(c.port).toBe(8080);
    expect(c.host).toBe("127.0.0.1");
    expect(c.mode).toBe("local");
    expect(c.bodyLimitBytes).toBe(10 * 1024 * 1024);
    expect(c.localNode.dataDir).toBe(path.join(cwd, ".data/opensearch"));
    expect(c.localNode.version).toMatch(/^3\.\d+\.\d+$/);
    expect(c.auth.jwtSecret).toBe(SECRET);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.opensearch)).toBe(true);
  });

  it("is remote mode when OPENSEARCH_URL is set, and then requires a JWT secret or JWKS URL", () => {
    const issues = issuesOf({ OPENSEARCH_URL: "https://search.internal:9200" });
    expect(issues).toEqual([expect.objectContaining({ variable: "AUDIT_JWT_SECRET" })]);
    const c = loadConfig(
      {
        OPENSEARCH_URL: "https://search.internal:9200",
        AUDIT_JWKS_URL: "https://idp/jwks.json",
        AUDIT_CURSOR_SECRET: SECRET,
      },
      tmp(),
    );

    expect(c.mode).toBe("remote");
    expect(c.opensearch.url).toBe("https://search.internal:9200");
    expect(c.auth.jwtSecret).toBeUndefined();
  });

  it("signs cursors with AUDIT_CURSOR_SECRET, or a key derived from the JWT secret, and needs one with JWKS alone", () => {
    const remote = { OPENSEARCH_URL: "https://search.internal:9200" };
    const issues = issuesOf({ ...remote, AUDIT_JWKS_URL: "https://idp/jwks.json" });
    expect(issues.map((i) => i.variable)).toEqual(["AUDIT_CURSOR_SECRET"]);
    const a = loadConfig({ ...remote, AUDIT_JWT_SECRET: SECRET }, tmp());
    const b = loadConfig({ ...remote, AUDIT_JWT_SECRET: SECRET }, tmp());
    expect(a.cursorKey.equals(b.cursorKey)).toBe(true); // every replica derives the same key
    expect(a.cursorKey.toString()).not.toContain(SECRET);
    const c = loadConfig({ ...remote, AUDIT_JWT_SECRET: SECRET, AUDIT_CURSOR_SECRET: "c".repeat(32) }, tmp());
    expect(c.cursorKey.toString()).toBe("c".repeat(32));
  });

  it("names every bad variable", () => {
    const issues = issuesOf({
      PORT: "eighty",
      OPENSEARCH_URL: "not a url",
      OPENSEARCH_TLS_VERIFY: "maybe",
      OPENSEARCH_HEAP: "lots",
      OPENSEARCH_VERSION: "2.19.0",
      LOG_LEVEL: "loud",
      AUDIT_JWT_SECRET: "short",
    });
    expect(issues.map((i) => i.variable).sort()).toEqual(
      [
        "AUDIT_JWT_SECRET",
        "LOG_LEVEL",
        "OPENSEARCH_HEAP",
        "OPENSEARCH_TLS_VERIFY",
        "OPENSEARCH_URL",
        "OPENSEARCH_VERSION",
        "PORT",
      ].sort(),
    );
    expect(issues.find((i) => i.variable === "AUDIT_JWT_SECRET")?.message).toMatch(/32 characters/);
  });

  it("puts the variable names into the error message", () => {
    expect(() => loadConfig({ PORT: "70000" }, tmp())).toThrow(/PORT: /);
  });

  it("requires a username with a password", () => {
    const issues = issuesOf({ OPENSEARCH_PASSWORD: "x", AUDIT_JWT_SECRET: SECRET });
    expect(issues.map((i) => i.variable)).toEqual(["OPENSEARCH_USERNAME"]);
  });

  it("parses booleans and numbers", () => {
    const c = loadConfig(
      { PORT: "0", OPENSEARCH_TLS_VERIFY: "false", BODY_LIMIT_BYTES: "2048", AUDIT_JWT_SECRET: SECRET },
      tmp(),
    );
    expect(c.port).toBe(0);
    expect(c.opensearch.tlsVerify).toBe(false);
    expect(c.bodyLimitBytes).toBe(2048);
  });

  it("treats empty variables as unset", () => {
    const c = loadConfig({ OPENSEARCH_URL: "", AUDIT_JWT_SECRET: SECRET }, tmp());
    expect(c.mode).toBe("local");
  });

  it("in local mode without a secret, generates one into a private file and reuses it", () => {
    const cwd = tmp();
    const first = loadConfig({}, cwd);
    const file = path.join(cwd, ".data", "dev-jwt-secret");
    expect(first.auth.devSecretFile).toBe(file);
    expect(first.auth.jwtSecret).toMatch(/^[\w-]{43}$/);
    expect(readFileSync(file, "utf8").trim()).toBe(first.auth.jwtSecret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadConfig({}, cwd).auth.jwtSecret).toBe(first.auth.jwtSecret);
  });

  it("keeps the artifact cache out of root's home (the OpenSearch user must read it)", () => {
    expect(defaultCacheDir({}, true)).toBe("/var/cache/scaivault-audit");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x/cache" }, false)).toBe("/x/cache/scaivault-audit");
  });
});

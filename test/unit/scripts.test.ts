import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { startOracle } from "../support/tlog-oracle.ts";

const run = promisify(execFile);
const SECRET = "k".repeat(40);
const env = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? "",
  HOME: mkdtempSync(path.join(tmpdir(), "h-")),
  ...extra,
});

describe("npm run token", () => {
  it("mints an HS256 token with the tenant, scopes and subject, signed with AUDIT_JWT_SECRET", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "dev/mint-token.ts",
        "--tenant",
        "acme",
        "--scope",
        "audit:read audit:write",
        "--sub",
        "user:ana@acme.example",
        "--ttl",
        "600",
      ],
      { cwd: PROJECT_ROOT, env: env({ AUDIT_JWT_SECRET: SECRET }) },
    );
    const { payload, protectedHeader } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({
      tenant: "acme",
      scope: "audit:read audit:write",
      sub: "user:ana@acme.example",
    });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
  });

  it("refuses unknown scopes and a missing tenant", async () => {
    await expect(
      run(process.execPath, ["dev/mint-token.ts", "--tenant", "acme", "--scope", "audit:everything"], {
        cwd: PROJECT_ROOT,
        env: env({ AUDIT_JWT_SECRET: SECRET }),
      }),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown scope(s) audit:everything"),
    });
    await expect(
      run(process.execPath, ["dev/mint-token.ts"], {
        cwd: PROJECT_ROOT,
        env: env({ AUDIT_JWT_SECRET: SECRET }),
      }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--tenant is required") });
  });
});

describe("npm start with a bad configuration", () => {
  it("stops at once with exit code 2 and names each bad variable", async () => {
    const err = await run(process.execPath, ["src/main.ts"], {
      cwd: PROJECT_ROOT,
      env: env({ PORT: "http", OPENSEARCH_URL: "nope" }),
    }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("PORT: must be a port number");
    expect(err.stderr).toContain("OPENSEARCH_URL: must be a URL");
    expect(err.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});

describe("npm run integrity-key", () => {
  it("prints a signer key Go's sumdb/note signs with, and its verifier key on stderr", async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ["dev/integrity-key.ts", "audit.example.com/log"],
      {
        cwd: PROJECT_ROOT,
        env: env({}),
      },
    );
    const key = stdout.trim();
    expect(key).toMatch(/^PRIVATE\+KEY\+audit\.example\.com\/log\+[0-9a-f]{8}\+/);
    const verifier = /verifier key: (\S+)/.exec(stderr)?.[1] as string;
    const oracle = startOracle();
    try {
      const signed = await oracle.ask({ op: "sign", note: "a note\n", keys: [key] });
      expect(signed.ok).toBe(true);
      const opened = await oracle.ask({ op: "note", note: signed.text, keys: [verifier] });
      expect(opened).toMatchObject({ ok: true, text: "a note\n" });
    } finally {
      oracle.close();
    }
  });
});

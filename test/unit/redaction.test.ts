import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type NormalizedEvent, normalize } from "../../src/events/event.mapping.ts";
import { IngestEventSchema } from "../../src/events/event.schema.ts";
import { isValueCarrier, REDACTED } from "../../src/events/redaction.ts";
import { findSecrets, redactSecrets } from "../../src/events/secrets.ts";

describe("redaction by key: every spelling of a credential's name", () => {
  it.each([
    // glued words
    "apikey",
    "accesstoken",
    "dbpassword",
    "DBPASSWORD",
    "clientsecret",
    "privatekey",
    "sshkey",
    "refreshtokens",
    "totp",
    // other separators and trailing punctuation
    "db:password",
    "db/password",
    "db|password",
    "db password",
    "Password:",
    "password=",
    "[password]",
    "password2",
    // invisible characters, compatibility forms, accents, look-alike letters
    "password\u200b",
    "pass\u200bword",
    "\u200bpassword",
    "pass\u00adword",
    "ｐａｓｓｗｏｒｄ",
    "pässwörd",
    "p\u0430ssword", // Cyrillic а
    "t\u043eken", // Cyrillic о
    "𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝",
    // credentials that are not "value words"
    "Authorization",
    "proxy-authorization",
    "bearer",
    "cookie",
    "Set-Cookie",
    "private_key_pem",
    "jwt",
    "otp",
    "pin",
    "passcode",
    "mnemonic",
    "sentry_dsn",
    "connection_string",
    "connectionString",
    "conn_str",
    "db_pass",
  ])("%s carries a value", (key) => {
    expect(isValueCarrier(key)).toBe(true);
  });

  it.each([
    "secret_path",
    "secretPath",
    "token_ttl",
    "tokenttl",
    "key_id",
    "keyid",
    "password_policy",
    "passwordpolicy",
    "value_type",
    "monkey",
    "turkey",
    "hockey",
    "bypass",
    "compass",
    "spin",
    "laptop",
    "tokenizer",
    "authority",
    "cookie_count",
    "rotation_reason",
  ])("%s is metadata and kept", (key) => {
    expect(isValueCarrier(key)).toBe(false);
  });
});

const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
  type: "pkcs1",
  format: "pem",
}) as string;
const jwt =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const basic = Buffer.from("admin:s3cr3t-pw").toString("base64");

/** Builds a value from parts so no credential-shaped literal sits in the source. */
const j = (...parts: string[]) => parts.join("");

describe("redaction by value: what looks like a credential, whatever its key", () => {
  it.each([
    ["a PKCS#8 private key in a note", `rotated; key was ${pem} (old)`, ["private-key"]],
    ["an RSA private key", rsa, ["private-key"]],
    ["a PEM key cut off before its END line", pem.slice(0, 60), ["private-key"]],
    ["a JWT", `session ${jwt}`, ["jwt"]],
    ["a bearer credential", "Authorization: Bearer abcdefghijklmnop123456", ["bearer"]],
    ["HTTP basic credentials", `Basic ${basic}`, ["basic-auth"]],
    ["a password in a postgres URL", "postgres://app:hunter2@db.internal:5432/payments", ["url-password"]],
    ["a password in a mongodb+srv URL", "mongodb+srv://u:p4ss@cluster0.example.net/test", ["url-password"]],
    ["a password in an https URL", "https://deploy:tok3n@git.example.com/repo.git", ["url-password"]],
    ["a password in a key=value pair", "user=app password=hunter2 host=db", ["assignment"]],
    ["an ADO connection string", "Server=tcp:x.database.windows.net;Password=abc123;", ["assignment"]],
    ["a token in a query string", "/callback?code=1&access_token=abc123def456&x=1", ["assignment"]],
    ["a Google API key", j("AIza", "SyA1234567890abcdefghijklmnopqrstuv"), ["google-api-key"]],
    ["an AWS access key id", j("AKIA", "QYLPMN5HHHFPZAM2"), ["aws"]],
    [
      "an AWS secret access key",
      j("aws_secret_access_key = ", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"),
      null,
    ],
    ["a GitHub token", j("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"), ["github"]],
    ["a Slack token", j("xoxb-", "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"), ["slack"]],
    ["an npm token", j("npm_", "1234567890abcdefghijklmnopqrstuvwxyz"), ["npm"]],
    [
      "a HashiCorp Vault token",
      j(
        "hvs.",
        "CAESIJ3mQbW1tT6y0aAFeP7nMHO0m5uqQGpW0aL4xvS9Qk8lGh4KHGh2cy5rQmJ6dFJ3a3NvZlp0Q1JyM2E4bXh5bHA",
      ),
      ["hashicorp-vault"],
    ],
  ])("%s", async (_name, text, rules) => {
    const [found] = await findSecrets([text]);
    expect(found?.length, `nothing found in ${text}`).toBeGreaterThan(0);
    if (rules) expect(found?.map((f) => f.rule)).toEqual(expect.arrayContaining(rules));
  });

  it.each([
    "01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "550e8400-e29b-41d4-a716-446655440000",
    "prod/payments/db-password",
    "Basic authentication failed",
    "bearer of bad news",
    "secret_path=prod/db token_ttl=3600 key_id=k1",
    "https://vault.example.com:8200/v1/secret/data/x",
    "user:person@acme.example",
    "2026-11-26T14:30:05.123456Z",
    "rotation scheduled by policy p-42",
  ])("keeps metadata: %s", async (text) => {
    expect(await findSecrets([text])).toEqual([[]]);
  });

  it("redacts only the secret part and keeps the rest readable", async () => {
    const url = "postgres://app:hunter2@db.internal:5432/payments";
    const { events } = await redactSecrets([event({ context: { dsn_info: url, note: "ok" } })]);
    expect(events[0]?.context).toEqual({
      dsn_info: `postgres://app:${REDACTED}@db.internal:5432/payments`,
      note: "ok",
    });
  });

  it("cannot be switched off by what a value says", async () => {
    const token = j("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx");
    const [found] = await findSecrets([`// secretlint-disable\n${token}\n// secretlint-enable`]);
    expect(found?.length).toBe(1);
  });

  it("keeps each text's findings to itself in a batch", async () => {
    const cut = pem.slice(0, 80); // no END line: must not run into the next text
    const found = await findSecrets([cut, "plain text", "also plain"]);
    expect(found[0]?.length).toBe(1);
    expect(found[1]).toEqual([]);
    expect(found[2]).toEqual([]);
  });

  it("scans every text of an event, context keys and values at any depth, and counts by rule", async () => {
    const gh = j("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx");
    const e = event({
      user_agent: `cli/1.0 (${jwt})`,
      identity: { id: `service_account:${gh}`, type: "service_account", session_id: jwt },
      request: { id: jwt },
      context: { list: [{ deep: [pem] }], [gh]: "token as a key", fine: "kept" },
    });
    const { events, counts } = await redactSecrets([e, event()]);
    const out = events[0] as NormalizedEvent;
    const all = JSON.stringify(out);
    expect(all).not.toContain(gh);
    expect(all).not.toContain(jwt);
    expect(all).not.toContain("PRIVATE KEY-----\n");
    expect(out.identity.id).toBe(`service_account:${REDACTED}`);
    expect(out.user_agent).toBe(`cli/1.0 (${REDACTED})`);
    // The key block goes; the line end after it stays.
    expect(out.context).toEqual({
      list: [{ deep: [`${REDACTED}\n`] }],
      [REDACTED]: "token as a key",
      fine: "kept",
    });
    expect(events[1]).toEqual(event());
    expect(counts.get("jwt")).toBe(3);
    expect(counts.get("github")).toBe(2);
    expect(counts.get("private-key")).toBeGreaterThanOrEqual(1);
  });

  it("finds each secret in its own event of a mixed batch, and leaves clean events as they are", async () => {
    const gh = j("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx");
    const clean = [
      event({ context: { a: [["x", { b: "y" }], []], c: { d: { e: "f" } } } }),
      event({ user_agent: null, request: null, context: { n: 1, t: true, z: null } }),
      event(),
    ];
    const batch = [
      clean[0],
      event({ context: { outer: [["plain", { [gh]: "as a key" }]], after: "kept" } }),
      clean[1],
      event({ identity: { id: "user:a", type: "user", session_id: null }, context: { k: [[[`x ${jwt}`]]] } }),
      clean[2],
    ] as NormalizedEvent[];
    const { events } = await redactSecrets(batch);
    for (const i of [0, 2, 4]) expect(events[i]).toBe(batch[i]);
    expect(events[1]?.context).toEqual({ outer: [["plain", { [REDACTED]: "as a key" }]], after: "kept" });
    expect(events[3]?.context).toEqual({ k: [[[`x ${REDACTED}`]]] });
    expect(events[3]?.path).toBe(batch[3]?.path);
  });

  it("redacts a secret every time it is sent and in every copy, however often its neighbours repeat", async () => {
    const ua = "scaivault-cli/2.0";
    for (let round = 0; round < 3; round++) {
      const { events, counts } = await redactSecrets([
        event({ user_agent: ua }),
        event({ user_agent: `${ua} ${jwt}` }),
        event({ user_agent: ua, context: { copy: `${ua} ${jwt}` } }),
      ]);
      expect(events.map((e) => e.user_agent)).toEqual([ua, `${ua} ${REDACTED}`, ua]);
      expect(events[2]?.context).toEqual({ copy: `${ua} ${REDACTED}` });
      expect(counts.get("jwt")).toBe(2);
    }
  });

  it("two keys redacted alike both stay", async () => {
    const a = j("ghp_", "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx");
    const b = j("ghp_", "xXPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUy");
    const { events } = await redactSecrets([event({ context: { [a]: 1, [b]: 2 } })]);
    expect(events[0]?.context).toEqual({ [REDACTED]: 1, [`${REDACTED}#2`]: 2 });
  });
});

function event(patch: Record<string, unknown> = {}): NormalizedEvent {
  const parsed = IngestEventSchema.parse({
    id: "e1",
    timestamp: "2026-11-26T14:30:05.123456Z",
    action: "read",
    path: "prod/db",
    identity: { id: "user:a@example.com", type: "user" },
    success: true,
    ...patch,
  });
  return normalize(parsed, () => "x").event;
}

import { createSecretKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AuditDocument,
  fromDocument,
  normalize,
  readDocument,
  toDocument,
} from "../../src/events/event.mapping.ts";
import { IngestEventSchema } from "../../src/events/event.schema.ts";
import { leafData, sealHolds, storedSeal } from "../../src/events/leaf.ts";
import { isValueCarrier, REDACTED, redactKeys as redact } from "../../src/events/redaction.ts";
import { parseTimestamp } from "../../src/events/time.ts";
import { bulkBody } from "../../src/features/ingest/ingest.bulk.ts";

const full = {
  id: "01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
  timestamp: "2026-11-26T14:30:05.123456Z",
  action: "read",
  path: "prod/payments/db-password",
  identity: { id: "user:person@acme.example", type: "user", session_id: "ses_9f2c" },
  source_ip: "203.0.113.7",
  user_agent: "scaivault-cli/2.3.1",
  request: { id: "req_7a1e", method: "GET", status: 200, duration_ms: 3.214 },
  success: true,
  error_code: null,
  context: { rotation_reason: "scheduled", nested: { list: [1, "two", { deep: true }] } },
};

const valid = (e: unknown) => {
  const r = IngestEventSchema.safeParse(e);
  if (!r.success) throw new Error(JSON.stringify(r.error.issues));
  return normalize(r.data, () => "generated-id").event;
};

describe("timestamps", () => {
  it.each([
    ["2026-11-26T14:30:05.123456Z", "2026-11-26T14:30:05.123456Z"],
    ["2026-11-26T14:30:05Z", "2026-11-26T14:30:05.000000Z"],
    ["2026-11-26T14:30:05.1Z", "2026-11-26T14:30:05.100000Z"],
    ["2026-11-26T16:30:05.123456+02:00", "2026-11-26T14:30:05.123456Z"],
    ["2026-11-26T09:00:05.000001-05:30", "2026-11-26T14:30:05.000001Z"],
    ["2026-11-27T00:15:00.999999+01:00", "2026-11-26T23:15:00.999999Z"],
    ["2024-02-29T23:59:59.5z", "2024-02-29T23:59:59.500000Z"],
    ["2026-11-26t14:30:05Z", "2026-11-26T14:30:05.000000Z"],
    ["2026-01-01T00:30:00.25+01:00", "2025-12-31T23:30:00.250000Z"],
    ["2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00.000000Z"],
    ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"],
    ["2261-12-31T23:59:59.999999Z", "2261-12-31T23:59:59.999999Z"],
  ])("%s is %s", (input, expected) => {
    expect(parseTimestamp(input)).toMatchObject({ ok: true, value: expected });
  });

  it.each([
    ["2026-11-26T14:30:05.1234567Z", /six fractional digits/],
    ["2026-11-26 14:30", /RFC 3339/],
    ["2026-11-26T14:30:05", /RFC 3339/], // no offset: ambiguous
    ["2026-02-30T00:00:00Z", /calendar/],
    ["2023-02-29T00:00:00Z", /calendar/],
    ["2026-04-31T00:00:00Z", /calendar/],
    ["2026-13-01T00:00:00Z", /calendar/],
    ["2026-00-10T00:00:00Z", /calendar/],
    ["2026-11-00T00:00:00Z", /calendar/],
    ["2026-11-26T23:60:00Z", /calendar/],
    ["0099-06-01T00:00:00+01:00", /between 1970/],
    ["0050-06-01T00:00:00Z", /between 1970/],
    ["1970-01-01T00:30:00+01:00", /between 1970/],
    ["2261-12-31T23:30:00-01:00", /between 1970/],
    ["2262-01-01T00:00:00Z", /between 1970/],
    ["2026-11-26T24:00:00Z", /calendar/],
    ["1969-12-31T23:59:59Z", /between 1970/],
    ["2026-11-26T14:30:05+25:00", /offset/],
  ])("%s is refused", (input, message) => {
    const r = parseTimestamp(input);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.message).toMatch(message);
  });
});

describe("redaction", () => {
  it.each([
    "value",
    "password",
    "db_password",
    "DB_PASSWORD",
    "dbPassword",
    "client_secret",
    "clientSecret",
    "api_key",
    "apiKey",
    "API-KEY",
    "APIKey",
    "private_key",
    "newValue",
    "old-value",
    "passwd",
    "passphrase",
    "access.token",
    "refreshToken",
    "credential",
    "credentials",
    "aws_credentials",
    "secrets",
    "tokens",
  ])("%s carries a value", (key) => {
    expect(isValueCarrier(key)).toBe(true);
  });

  it.each([
    "secret_path",
    "token_ttl",
    "key_id",
    "keyId",
    "rotation_reason",
    "value_type",
    "password_policy",
    "path",
    "monkey",
    "tokenizer",
  ])("%s is metadata and kept", (key) => {
    expect(isValueCarrier(key)).toBe(false);
  });

  it("redacts at any depth and inside arrays, keeping everything else", () => {
    const input = {
      rotation_reason: "scheduled",
      secret_path: "prod/db",
      old: { password: "hunter2", meta: { token_ttl: 3600, apiKey: { nested: "x" } } },
      items: [{ client_secret: "s1", key_id: "k1" }, "plain", [{ newValue: 42 }]],
    };
    const { value, redacted } = redact(input);
    expect(value).toEqual({
      rotation_reason: "scheduled",
      secret_path: "prod/db",
      old: { password: REDACTED, meta: { token_ttl: 3600, apiKey: REDACTED } },
      items: [{ client_secret: REDACTED, key_id: "k1" }, "plain", [{ newValue: REDACTED }]],
    });
    expect(redacted).toBe(4);
    expect(input.old.password).toBe("hunter2"); // the input is not modified
  });
});

describe("event validation", () => {
  it("accepts the contract's example", () => {
    expect(IngestEventSchema.safeParse(full).success).toBe(true);
  });

  it.each([
    [{ action: "peek" }, "action"],
    [{ path: "/prod/x" }, "path"],
    [{ identity: { id: "person@acme", type: "user" } }, "identity.id"],
    [{ identity: { id: "group:x", type: "user" } }, "identity.id"],
    [{ identity: { id: "user:x", type: "robot" } }, "identity.type"],
    [{ source_ip: "300.1.1.1" }, "source_ip"],
    [{ timestamp: "yesterday" }, "timestamp"],
    [{ request: { status: 99 } }, "request.status"],
    [{ request: { duration_ms: 1.0000001 } }, "request.duration_ms"],
    [{ success: "yes" }, "success"],
    [{ id: "has space" }, "id"],
    [{ surprise: 1 }, ""],
  ])("names the field of %j", (patch, field) => {
    const r = IngestEventSchema.safeParse({ ...full, ...patch });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });

  it("accepts IPv6 and a missing optional part", () => {
    const e = valid({
      ...full,
      source_ip: "2001:db8::7",
      request: undefined,
      context: undefined,
      user_agent: undefined,
    });
    expect(e.source_ip).toBe("2001:db8::7");
    expect(e.request).toEqual({ id: null, method: null, status: null, duration_ms: null });
    expect(e.context).toEqual({});
  });

  it("assigns an id when the event has none", () => {
    const { id: _, ...noId } = full;
    expect(valid(noId).id).toBe("generated-id");
  });
});

describe("API ⇄ document mapping", () => {
  it("round-trips exactly, microseconds and nanosecond durations included", () => {
    for (const e of [
      valid(full),
      valid({ ...full, success: false, error_code: "permission_denied", request: { duration_ms: 0.000001 } }),
      valid({
        ...full,
        source_ip: null,
        user_agent: null,
        request: null,
        context: null,
        identity: { id: "group:ops", type: "group" },
      }),
      valid({
        ...full,
        timestamp: "2026-01-01T00:59:59.999999+01:00",
        request: { duration_ms: 1234.567891 },
      }),
    ]) {
      const doc = toDocument(e, "acme", "2026-11-26T14:30:06.000Z");
      expect(fromDocument(JSON.parse(JSON.stringify(doc)) as AuditDocument)).toEqual(e);
    }
  });

  it("writes ECS-style fields a SIEM analyst recognises", () => {
    const doc = toDocument(valid(full), "acme", "2026-11-26T14:30:06.000Z");
    expect(doc).toEqual({
      "@timestamp": "2026-11-26T14:30:05.123456Z",
      event: {
        id: full.id,
        action: "read",
        outcome: "success",
        duration: 3_214_000,
        ingested: "2026-11-26T14:30:06.000Z",
      },
      user: { id: "user:person@acme.example" },
      scaivault: {
        tenant: "acme",
        path: "prod/payments/db-password",
        identity: { type: "user" },
        session: { id: "ses_9f2c" },
        context: full.context,
        text: "prod/payments/db-password\nuser:person@acme.example\nscaivault-cli/2.3.1\nscheduled\n1\ntwo\ntrue",
      },

      source: { ip: "203.0.113.7" },
      user_agent: { original: "scaivault-cli/2.3.1" },
      http: { request: { id: "req_7a1e", method: "GET" }, response: { status_code: 200 } },
    });
  });

  it("stores the timestamp in UTC whatever offset was sent", () => {
    expect(
      toDocument(valid({ ...full, timestamp: "2026-11-26T15:30:05.123456+01:00" }), "t", "x")["@timestamp"],
    ).toBe("2026-11-26T14:30:05.123456Z");
  });
});

describe("the ingest seal", () => {
  const key = { id: "0a1b2c3d", key: createSecretKey(Buffer.alloc(32, 7)) };
  const tenant = "acme";
  /** What ingest writes, read back as the sealer reads it: through the bulk body's JSON. */
  const stored = (e: unknown, k = key) => {
    const lines = bulkBody("audit-events", tenant, [valid(e)], "2026-11-26T14:30:06.000Z", k).split("\n");
    return JSON.parse(lines[1] as string) as Record<string, unknown>;
  };
  const holds = (doc: unknown, k = key) =>
    sealHolds(k, leafData(tenant, readDocument(doc).event), storedSeal(doc));

  it("holds over what the sealer reads back, for plain and awkward contexts alike", () => {
    for (const context of [
      {},
      { n: 1e21, z: -0, f: 0.1, unicode: "ü\u2028😀", nested: { list: [1, "two", { deep: true }] } },
      { "": "empty key", __proto__x: "proto-like", big: 9007199254740991 },
    ]) {
      const doc = stored({ ...full, context });
      expect(doc.scaivault).toHaveProperty("seal", expect.stringMatching(/^0a1b2c3d:[A-Za-z0-9_-]{43}$/));
      expect(holds(doc)).toBe(true);
    }
  });

  it("does not hold for a changed field, another key, another tenant, or no seal", () => {
    const doc = stored(full) as { scaivault: Record<string, unknown>; event: Record<string, unknown> };
    const changed = [
      { ...doc, event: { ...doc.event, id: "another-id" } },
      { ...doc, scaivault: { ...doc.scaivault, path: "prod/other" } },
      { ...doc, "@timestamp": "2026-11-26T14:30:05.123457Z" },
      { ...doc, scaivault: { ...doc.scaivault, context: { rotation_reason: "manual" } } },
      { ...doc, scaivault: { ...doc.scaivault, seal: undefined } },
      { ...doc, scaivault: { ...doc.scaivault, seal: 42 } },
    ];
    for (const d of changed) expect(holds(d)).toBe(false);
    expect(holds(doc, { id: key.id, key: createSecretKey(Buffer.alloc(32, 8)) })).toBe(false);
    expect(sealHolds(key, leafData("other", readDocument(doc).event), storedSeal(doc))).toBe(false);
    // Without a key, ingest stores no seal.
    const unsealed = bulkBody("audit-events", tenant, [valid(full)], "2026-11-26T14:30:06.000Z").split("\n");
    expect(JSON.parse(unsealed[1] as string).scaivault).not.toHaveProperty("seal");
  });
});

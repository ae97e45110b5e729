/**
 * The CEF formatter, read back by a strict parser written from the ArcSight CEF Implementation
 * Standard (test/support/cef-parser.ts: no CEF parser on npm or PyPI implements its escapes), which
 * refuses what the standard does not allow, so a formatter that under-escapes fails here.
 *
 * Hostile values in every field an event can carry must come back as data: one line, the same seven
 * header fields, the same extension keys, each value equal to what was sent (after the documented
 * substitutions).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readDocument } from "../../src/events/event.mapping.ts";
import { ACTIONS, type AuditEvent, IDENTITY_TYPES } from "../../src/events/event.schema.ts";
import { toCef } from "../../src/formats/cef.ts";
import { ACTION_NAMES, CEF_SEVERITY, severityOf } from "../../src/formats/classify.ts";
import { parseCef } from "../support/cef-parser.ts";

/** What a value becomes, as documented in src/formats/cef.ts, independently of its code. */
function expected(v: string, max = 4000): string {
  const s = Array.from(v)
    .map((c) =>
      ["\u000B", "\u000C", "\u0085", "\u2028", "\u2029"].includes(c)
        ? "\n"
        : c === "\t"
          ? " "
          : /[\p{Cc}]/u.test(c) && c !== "\r" && c !== "\n"
            ? "\uFFFD"
            : c,
    )
    .join("");
  const points = Array.from(s);
  return points.length <= max ? s : `${points.slice(0, max - 1).join("")}…`;
}

function event(patch: Partial<AuditEvent> = {}): AuditEvent {
  return {
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
    context: { rotation_reason: "scheduled" },
    ...patch,
  };
}

const FULL_KEYS = [
  "rt",
  "externalId",
  "act",
  "outcome",
  "cat",
  "suid",
  "suser",
  "src",
  "requestClientApplication",
  "requestMethod",
  "cs1",
  "cs1Label",
  "cs2",
  "cs2Label",
  "cs3",
  "cs3Label",
  "cs4",
  "cs4Label",
  "cs5",
  "cs5Label",
  "cs6",
  "cs6Label",
  "cn1",
  "cn1Label",
  "cfp1",
  "cfp1Label",
  "flexString1",
  "flexString1Label",
];

describe("CEF: the test's own parser", () => {
  it("refuses what the standard does not allow (so it cannot pass an under-escaped line)", () => {
    expect(() => parseCef("CEF:0|a|b|c|d|e|1|k=v=w")).toThrow();
    expect(() => parseCef("CEF:0|a|b|c|d|e|1|k=v\\x")).toThrow();
    expect(() => parseCef("CEF:0|a|b\\x|c|d|e|1|k=v")).toThrow();
    expect(() => parseCef("CEF:0|a|b|c|d|e|k=v")).toThrow();
    expect(() => parseCef("CEF:0|a|b|c|d|e|1|k=v\nCEF:0|x|y|z|d|e|1|k=v")).toThrow();
    expect(() => parseCef("CEF:0|a|b|c|d|e|1|k=a b k=c")).toThrow(/duplicate/);
    expect(parseCef("CEF:0|a\\|b|c\\\\|d|e|f|1|k=a\\=b\\\\ c|d x=\\n").ext).toEqual(
      new Map([
        ["k", "a=b\\ c|d"],
        ["x", "\n"],
      ]),
    );
  });
});

describe("CEF: every action", () => {
  for (const action of ACTIONS) {
    for (const success of [true, false]) {
      it(`${action}, ${success ? "success" : "failure"}: one line, the header and every field read back`, () => {
        const e = event({
          action,
          success,
          error_code: success ? null : "permission_denied",
          request: { id: "req_1", method: "LIST", status: success ? 200 : 403, duration_ms: 3.214 },
        });
        const line = toCef(e, "acme", { productVersion: "1.2.3" });
        const cef = parseCef(line);
        expect(cef).toMatchObject({
          version: "0",
          vendor: "ScaiVault",
          product: "Audit Log",
          deviceVersion: "1.2.3",
          signatureId: action,
          name: ACTION_NAMES[action],
          severity: String(CEF_SEVERITY[severityOf(e)]),
        });
        expect([...cef.ext.keys()]).toEqual(
          success ? FULL_KEYS.filter((k) => !k.startsWith("cs5")) : FULL_KEYS,
        );
        expect(Object.fromEntries(cef.ext)).toMatchObject({
          rt: String(Date.UTC(2026, 10, 26, 14, 30, 5, 123)),
          externalId: e.id,
          act: action,
          outcome: success ? "success" : "failure",
          suid: "user:person@acme.example",
          suser: "person@acme.example",
          src: "203.0.113.7",
          requestClientApplication: "scaivault-cli/2.3.1",
          requestMethod: "LIST",
          cs1: e.path,
          cs1Label: "Resource Path",
          cs2: "acme",
          cs2Label: "Tenant",
          cs3: "ses_9f2c",
          cs3Label: "Session ID",
          cs4: "req_1",
          cs4Label: "Request ID",
          cs6Label: "Context",
          cn1: success ? "200" : "403",
          cn1Label: "HTTP Status",
          cfp1: "3.214",
          cfp1Label: "Duration ms",
          flexString1: "2026-11-26T14:30:05.123456Z",
          flexString1Label: "Event Timestamp",
          ...(success ? {} : { cs5: "permission_denied", cs5Label: "Error Code" }),
        });
        expect(JSON.parse(cef.ext.get("cs6") as string)).toEqual(e.context);
      });
    }
  }

  it("severity: Informational 1, Low 3, Medium 5, High 7", () => {
    const sev = (action: AuditEvent["action"], success: boolean) =>
      parseCef(toCef(event({ action, success }), "t")).severity;
    expect(sev("read", true)).toBe("1");
    expect(sev("read", false)).toBe("3");
    expect(sev("policy_update", true)).toBe("5");
    expect(sev("policy_update", false)).toBe("7");
  });

  it("IPv6 goes to c6a2 with its standard label; absent fields are left out, never empty", () => {
    const cef = parseCef(
      toCef(
        event({
          source_ip: "2001:db8::7",
          identity: { id: "group:ops", type: "group", session_id: null },
          user_agent: null,
          request: { id: null, method: null, status: null, duration_ms: null },
          context: {},
        }),
        "t",
      ),
    );
    expect(Object.fromEntries(cef.ext)).toEqual({
      rt: String(Date.UTC(2026, 10, 26, 14, 30, 5, 123)),
      externalId: "01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
      act: "read",
      outcome: "success",
      cat: "secret",
      suid: "group:ops",
      suser: "ops",
      c6a2: "2001:db8::7",
      c6a2Label: "Source IPv6 Address",
      cs1: "prod/payments/db-password",
      cs1Label: "Resource Path",
      cs2: "t",
      cs2Label: "Tenant",
      flexString1: "2026-11-26T14:30:05.123456Z",
      flexString1Label: "Event Timestamp",
    });
  });
});

const HOSTILE = [
  "pipe|in|value",
  "eq=in=value",
  "back\\slash\\",
  "\\",
  "trailing backslash\\",
  "\\|\\=",
  "cr\rlf\ncrlf\r\n",
  " fake=injected act=delete",
  "|CEF:0|Evil|Evil|1|evil|Evil|10|",
  "\nCEF:0|Evil|Evil|1|evil|Evil|10|src=1.2.3.4",
  "ls\u2028ps\u2029nel\u0085vt\u000bff\u000c",
  "nul\u0000esc\u001b[31mdel\u007f tab\t",
  "bidi\u202eoverride\u200bzw",
  "emoji 🔐 and 中文 and \\n literally",
];

describe("CEF: hostile values", () => {
  for (const h of HOSTILE) {
    it(`${JSON.stringify(h)} in every field stays data`, () => {
      const e = event({
        id: h,
        action: h as AuditEvent["action"], // a stored document's action can be anything
        path: h,
        identity: { id: `user:${h}`, type: "user", session_id: h },
        user_agent: h,
        request: { id: h, method: h, status: 500, duration_ms: 1 },
        success: false,
        error_code: h,
        context: { [h]: h, nested: [h] },
      });
      const line = toCef(e, h, { productVersion: h });
      expect(line).not.toMatch(/[\r\n\u2028\u2029\u0085]/);
      const cef = parseCef(line);
      const header = (v: string) => v.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, " ");
      expect(cef).toMatchObject({
        version: "0",
        vendor: "ScaiVault",
        product: "Audit Log",
        deviceVersion: header(h),
        signatureId: header(h),
        name: "Audit event",
        severity: "7", // an unknown action is Medium, failed: High
      });
      expect([...cef.ext.keys()].filter((k) => k !== "rt" && k !== "src")).toEqual(
        FULL_KEYS.filter((k) => k !== "rt" && k !== "src"),
      );
      const x = Object.fromEntries(cef.ext);
      expect(x.externalId).toBe(expected(h));
      expect(x.act).toBe(expected(h, 63));
      expect(x.cs1).toBe(expected(h));
      expect(x.cs2).toBe(expected(h));
      expect(x.cs3).toBe(expected(h));
      expect(x.cs4).toBe(expected(h));
      expect(x.cs5).toBe(expected(h));
      expect(x.suid).toBe(expected(`user:${h}`));
      expect(x.suser).toBe(expected(h));
      expect(x.requestClientApplication).toBe(expected(h));
      expect(x.requestMethod).toBe(expected(h));
      // The context is JSON with its controls and line separators as JSON escapes: it reads back exactly.
      expect(JSON.parse(x.cs6 as string)).toEqual(e.context);
    });
  }

  it("a huge context is cut to cs6's 4,000 characters (on a code point, marked …); the line stays bounded", () => {
    const context = { big: "🔐=\\|".repeat(8000) };
    const line = toCef(event({ context, user_agent: "u".repeat(5000) }), "t");
    const x = Object.fromEntries(parseCef(line).ext);
    expect(Array.from(x.cs6 as string)).toHaveLength(4000);
    expect((x.cs6 as string).endsWith("…")).toBe(true);
    expect(x.cs6).toBe(expected(JSON.stringify(context)));
    expect((x.cs6 as string).isWellFormed()).toBe(true);
    expect(Array.from(x.requestClientApplication as string)).toHaveLength(1023);
    expect(line.length).toBeLessThan(20_000);
  });

  it("stored documents no ingest would accept still give one parseable line", () => {
    for (const d of [
      {},
      { event: { action: "a|b\nc", id: "x=y" }, scaivault: { identity: { type: "robot" }, path: ["p\r"] } },
    ]) {
      const stored = readDocument(d);
      const cef = parseCef(toCef(stored.event, stored.tenant ?? ""));
      expect(cef.vendor).toBe("ScaiVault");
      expect(cef.ext.get("outcome")).toBe("failure");
    }
  });

  it("random events (any Unicode anywhere an event can hold text) round-trip", () => {
    const text = fc.string({ unit: "binary", minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTIONS),
        fc.constantFrom(...IDENTITY_TYPES),
        fc.boolean(),
        text,
        text,
        text,
        fc.dictionary(text, text),
        (action, type, success, a, b, tenant, context) => {
          const e = event({
            action,
            success,
            path: a,
            identity: { id: `${type}:${b}`, type, session_id: a },
            user_agent: b,
            request: { id: b, method: a, status: null, duration_ms: null },
            error_code: success ? null : a,
            context,
          });
          const cef = parseCef(toCef(e, tenant));
          expect(cef.signatureId).toBe(action);
          const x = Object.fromEntries(cef.ext);
          expect(x.cs1).toBe(expected(a));
          expect(x.cs2).toBe(expected(tenant));
          expect(x.requestClientApplication).toBe(expected(b, 1023));
          expect(x.suser).toBe(expected(b, 1023));
          if (Object.keys(context).length > 0 && JSON.stringify(context).length < 3900)
            expect(JSON.parse(x.cs6 as string)).toEqual(context);
        },
      ),
      { numRuns: 500 },
    );
  });
});

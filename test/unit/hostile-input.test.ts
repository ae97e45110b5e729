/**
 * Hostile events, one class at a time: what ingest refuses (by field), what it keeps exactly, and
 * that every reader survives whatever a stored document holds.
 */
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { fromDocument, readDocument } from "../../src/events/event.mapping.ts";
import { type AuditEvent, IngestEventSchema } from "../../src/events/event.schema.ts";
import {
  CSV_COLUMNS,
  fileHeader,
  formatEvents,
  guardCell,
} from "../../src/features/exports/exports.format.ts";
import { parseBatch, rawEvents } from "../../src/features/ingest/ingest.parse.ts";
import { CSV_HOSTILE_TEXTS } from "../support/events.ts";

const base = {
  timestamp: "2026-11-26T14:30:05.123456Z",
  action: "read",
  path: "prod/db",
  identity: { id: "user:a@example.com", type: "user" },
  success: true,
};

const fieldsOf = (patch: Record<string, unknown>) => {
  const r = IngestEventSchema.safeParse({ ...base, ...patch });
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

/** Nested arrays `depth` levels deep, built without recursion. */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe("ingest refuses, naming the field", () => {
  const controls = ["\u0000", "\r", "\n", "\r\n", "\u001b[31m", "\u007f", "\u0085"];
  const invisible = ["\u200b", "\u202e", "\u2066", "\ufeff", "\u2028", "\u2029"];

  it.each([...controls, ...invisible])("identifier fields holding %j", (ch) => {
    expect(fieldsOf({ identity: { id: `user:a${ch}b`, type: "user" } })).toContain("identity.id");
    expect(fieldsOf({ identity: { id: "user:a", type: "user", session_id: `s${ch}` } })).toContain(
      "identity.session_id",
    );
    expect(fieldsOf({ request: { id: `r${ch}` } })).toContain("request.id");
    expect(fieldsOf({ error_code: `e${ch}` })).toContain("error_code");
    expect(fieldsOf({ path: `prod/line${ch}sep` })).toContain("path");
  });

  it.each(controls)("a user agent holding the control %j", (ch) => {
    expect(fieldsOf({ user_agent: `cli/1.0${ch}=2+5` })).toContain("user_agent");
  });

  it("keeps a user agent that is merely odd", () => {
    for (const ua of ["Mozilla/5.0 (X11; Linux) «ünïcödé» 🙂", "a\u200bb", "=cmd|' /C calc'!A0", "\t"])
      expect(fieldsOf({ user_agent: ua }), ua).toEqual(ua === "\t" ? ["user_agent"] : []);
  });

  it.each(["GET", "LIST", "PUT"])("takes the method %s", (m) => {
    expect(fieldsOf({ request: { method: m } })).toEqual([]);
  });
  it.each(["GE T", "GET\n", "=1+1", ""])("refuses the method %j", (m) => {
    expect(fieldsOf({ request: { method: m } })).toContain("request.method");
  });

  it.each([
    ["prod/./x", "path"],
    ["prod/../x", "path"],
    ["..", "path"],
    ["prod//x", "path"],
    ["/prod/x", "path"],
  ])("a path that no URL can address: %s", (path, field) => {
    expect(fieldsOf({ path })).toContain(field);
  });
  it.each(["secret/metadata/", "prod/a b", "prod/%2e%2e", "prod/x?y#z", "ü/ж/🙂", "a+b;c"])(
    "takes the path %s",
    (path) => {
      expect(fieldsOf({ path })).toEqual([]);
    },
  );

  it.each([
    ['{"__proto__":{"polluted":"yes"}}', "context.__proto__"],
    ['{"constructor":{"prototype":{"polluted":"yes"}}}', "context.constructor"],
    ['{"a":{"b":[{"prototype":1}]}}', "context.a.b.0.prototype"],
    ['{"constructor":"Foo"}', "context.constructor"],
    ['{"x":{"\\u005f_proto__":1}}', "context.x.__proto__"],
  ])("reserved keys at any depth: %s", (text, field) => {
    // Parsed as a request body is: JSON.parse makes __proto__ an own key.
    const r = IngestEventSchema.safeParse({ ...base, context: JSON.parse(text) });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });

  it("lone surrogates, in values and keys", () => {
    expect(fieldsOf({ context: { a: "x\ud800" } })).toContain("context.a");
    expect(fieldsOf({ context: { "k\udc00": 1 } })).toContain("context");
    expect(fieldsOf({ user_agent: "ua\ud800" })).toContain("user_agent");
    expect(fieldsOf({ path: "p\udfff" })).toContain("path");
  });

  it("a context nested thousands of levels deep, without overflowing the stack", () => {
    for (const depth of [9, 5_000, 100_000])
      expect(fieldsOf({ context: { a: nested(depth) } })).toEqual(["context"]);
    expect(fieldsOf({ context: { a: nested(6) } })).toEqual([]);
  });
});

describe("a batch: one odd event is its own rejection", () => {
  const body = (events: unknown[]) => JSON.stringify({ events });

  it("a deep event among valid ones (JSON and NDJSON)", async () => {
    // As text: a value this deep cannot even be stringified here.
    const deep = JSON.stringify({ ...base, context: { a: "DEEP" } }).replace(
      '"DEEP"',
      `${"[".repeat(20_000)}1${"]".repeat(20_000)}`,
    );
    const ok = JSON.stringify(base);
    for (const [text, format] of [
      [`{"events":[${ok},${deep},${ok}]}`, "json"],
      [[ok, deep, ok].join("\n"), "ndjson"],
    ] as const) {
      const batch = await parseBatch(rawEvents(text, format), () => `id-${Math.random()}`);
      expect(batch.items.map((i) => i.ok)).toEqual([true, false, true]);
      expect(batch.items[1]).toMatchObject({ ok: false, errors: [{ field: "context" }] });
    }
  });

  it("numbers that would change and duplicate keys, named per event", async () => {
    const text = `{"events":[${JSON.stringify(base)},${JSON.stringify(base).replace('"success":true', '"success":true,"context":{"n":1e400,"big":12345678901234567890}')},${JSON.stringify(base).replace('"action":"read"', '"action":"read","action":"write"')}]}`;
    const batch = await parseBatch(rawEvents(text, "json"), () => `id-${Math.random()}`);
    expect(batch.items[0]?.ok).toBe(true);
    expect(batch.items[1]).toMatchObject({
      ok: false,
      errors: [
        { field: "context.big", message: expect.stringContaining("exactly") },
        { field: "context.n", message: expect.stringContaining("exactly") },
      ],
    });
    expect(batch.items[2]).toMatchObject({
      ok: false,
      errors: [{ field: "action", message: expect.stringContaining("more than once") }],
    });
  });

  it("{__proto__: …} is refused by name, never silently dropped", async () => {
    const text = `{"events":[${JSON.stringify(base).replace('"success":true', '"success":true,"context":{"__proto__":{"password":"p"},"keep":"k"}')}]}`;
    const batch = await parseBatch(rawEvents(text, "json"), () => "x");
    expect(batch.items[0]).toMatchObject({ ok: false, errors: [{ field: "context.__proto__" }] });
  });

  it("keeps what it accepts exactly: odd keys, empty keys, unicode, nulls, large and small numbers", async () => {
    const context = {
      "": "empty key",
      "a.b": 1,
      a: { b: 2 },
      "🙂": ["x", null, true, 1.5e300, -0.000001, 9007199254740991],
      "\u0000": "nul key",
      nested: [[[{ x: [] }]]],
    };
    const text = body([{ ...base, context }]);
    const batch = await parseBatch(rawEvents(text, "json"), () => "x");
    const item = batch.items[0];
    expect(item?.ok).toBe(true);
    expect(item?.ok && JSON.stringify(item.event.context)).toBe(JSON.stringify(context));
  });
});

describe("every reader survives every stored document", () => {
  it.each([
    ["an empty object", {}],
    ["not an object", "nope"],
    ["null", null],
    [
      "prototype-like keys",
      JSON.parse(
        '{"scaivault":{"tenant":"t","context":{"constructor":{"prototype":{"p":1}},"__proto__":{"x":1}}}}',
      ),
    ],
    [
      "numbers where text belongs",
      { event: { id: 42, action: 7 }, user: { id: 1 }, scaivault: { path: 3, tenant: "t" } },
    ],
    ["arrays under keywords", { user: { id: ["a", "b"] }, scaivault: { path: ["x"], tenant: "t" } }],
    ["a context that is an array", { scaivault: { tenant: "t", context: [1, 2] } }],
    ["odd durations and statuses", { event: { duration: "abc" }, http: { response: { status_code: "x" } } }],
    ["a timestamp in epoch millis", { "@timestamp": 1795962605123, event: { id: "e" } }],
    ["a timestamp with nanoseconds", { "@timestamp": "2026-11-26T14:30:05.123456789Z", event: { id: "e" } }],
  ])("%s", (_name, doc) => {
    const stored = readDocument(doc);
    const e = stored.event;
    expect(typeof e.id).toBe("string");
    expect(typeof e.timestamp).toBe("string");
    expect(typeof e.path).toBe("string");
    expect(typeof e.identity.id).toBe("string");
    expect(e.context !== null && typeof e.context === "object" && !Array.isArray(e.context)).toBe(true);
    // Each reader's own use of it: JSON for pages and the live tail, CSV for exports.
    expect(() => JSON.parse(JSON.stringify(e))).not.toThrow();
    expect(() => parse(formatEvents("csv", [e]))).not.toThrow();
    expect(({} as { polluted?: unknown; x?: unknown }).x).toBeUndefined();
  });

  it("reads a prototype-like context back as own keys", () => {
    const e = fromDocument(JSON.parse('{"scaivault":{"context":{"__proto__":{"x":1},"keep":"k"}}}'));
    expect(JSON.stringify(e.context)).toBe('{"__proto__":{"x":1},"keep":"k"}');
  });

  it("reads an epoch-millis timestamp in the API form", () => {
    const millis = Date.parse("2026-11-26T14:30:05.123Z");
    expect(readDocument({ "@timestamp": millis }).event.timestamp).toBe("2026-11-26T14:30:05.123000Z");
  });
});

describe("CSV: every cell quoted, every formula guarded, whatever it holds", () => {
  const nasty = [...CSV_HOSTILE_TEXTS, ""];

  it("parses back into exactly the rows and cells written, by an independent parser", () => {
    const events: AuditEvent[] = nasty.map((v, i) => ({
      id: `${v}#${i}`,
      timestamp: `2026-11-26T14:30:05.${String(i).padStart(6, "0")}Z`,
      action: v as AuditEvent["action"],
      path: v,
      identity: { id: v, type: v as AuditEvent["identity"]["type"], session_id: v },
      source_ip: v,
      user_agent: v,
      request: { id: v, method: v, status: -1, duration_ms: -0.5 },
      success: i % 2 === 0,
      error_code: v,
      context: { v },
    }));
    const text = fileHeader("csv") + formatEvents("csv", events);
    const rows = parse(text, { relax_quotes: false }) as string[][];
    expect(rows).toHaveLength(events.length + 1);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    for (const [i, v] of nasty.entries()) {
      const cell = guardCell(v);
      expect(rows[i + 1]).toEqual([
        guardCell(`${v}#${i}`),
        `2026-11-26T14:30:05.${String(i).padStart(6, "0")}Z`,
        cell,
        cell,
        cell,
        cell,
        cell,
        cell,
        cell,
        cell,
        cell,
        "-1",
        "-0.5",
        i % 2 === 0 ? "true" : "false",
        cell,
        JSON.stringify({ v }),
      ]);
      // No cell a spreadsheet would run.
      for (const c of rows[i + 1] as string[]) expect(c).not.toMatch(/^[\s\u200b]*[=+@＝]/);
    }
  });

  it.each([
    "=1",
    "+1",
    "-1",
    "@1",
    "\t1",
    "\r1",
    "\n1",
    "  =1",
    "\u0000=1",
    "\u200b+1",
    "＝1",
    "＋1",
    "－1",
    "＠1",
  ])("guards %j", (v) => expect(guardCell(v)).toBe(`'${v}`));
  it.each(["a=1", "1-2", "", "user:x", "prod/db", "2026-11-26T14:30:05.123456Z"])("leaves %j", (v) =>
    expect(guardCell(v)).toBe(v),
  );
});

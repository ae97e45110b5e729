/**
 * The OCSF formatter against an oracle this project did not write: the JSON Schemas of OCSF 1.8.0's
 * API Activity and Entity Management classes (datetime profile), generated from the official OCSF
 * export by the PyPI package ocsf-json-schema (test/fixtures/ocsf/generate.py), checked with ajv
 * (draft 2020-12). Every action, both outcomes, every identity type, odd and hostile values, stored
 * documents no ingest would accept, the synthetic generator's mix and random events must all be
 * valid instances of their class; and the fields the schema cannot judge (type_uid = class_uid·100 +
 * activity_id, the microsecond instant, what went where) are checked here.
 */

import type { ValidateFunction } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { take } from "../../scripts/synthetic.ts";
import { normalize, readDocument } from "../../src/events/event.mapping.ts";
import {
  ACTIONS,
  type AuditEvent,
  IDENTITY_TYPES,
  IngestEventSchema,
} from "../../src/events/event.schema.ts";
import { SEVERITY_NAMES, severityOf } from "../../src/formats/classify.ts";
import { OCSF_ACTIVITIES, toOcsf } from "../../src/formats/ocsf.ts";
import { ocsfProblems, VALIDATORS } from "../support/ocsf-oracle.ts";

/** Valid for its own class (by class_uid), with the errors in the message when not. */
function expectValid(o: Record<string, unknown>): void {
  expect(ocsfProblems(o)).toEqual([]);
  expect(o.type_uid).toBe((o.class_uid as number) * 100 + (o.activity_id as number));
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

const EXPECTED_CLASS: Record<string, [classUid: number, activityId: number]> = {
  read: [6003, 2],
  list: [6003, 2],
  write: [6003, 3],
  rotate: [6003, 3],
  delete: [6003, 4],
  pki_issue: [6003, 1],
  pki_revoke: [6003, 4],
  dynamic_generate: [6003, 1],
  dynamic_revoke: [6003, 4],
  policy_create: [3004, 1],
  policy_update: [3004, 3],
  policy_delete: [3004, 4],
  policy_bind: [3004, 99],
  policy_unbind: [3004, 99],
};

describe("OCSF: the oracle", () => {
  it("is not vacuous: it refuses a missing required field, a wrong enum, an unknown attribute", () => {
    const good = toOcsf(event(), "acme");
    expectValid(good);
    const validate = VALIDATORS[6003] as ValidateFunction;
    const { api: _api, ...noApi } = good;
    expect(validate(noApi)).toBe(false);
    expect(validate({ ...good, activity_id: 7 })).toBe(false);
    expect(validate({ ...good, class_uid: 3004 })).toBe(false);
    expect(validate({ ...good, tenant: "acme" })).toBe(false);
    expect(validate({ ...good, src_endpoint: {} })).toBe(false); // at_least_one
    expect(validate({ ...good, http_request: { http_method: "LIST" } })).toBe(false);
    expect(validate({ ...good, time: "2026-11-26T14:30:05Z" })).toBe(false);
  });
});

describe("OCSF: every action", () => {
  for (const action of ACTIONS) {
    for (const success of [true, false]) {
      for (const type of IDENTITY_TYPES) {
        it(`${action}, ${success ? "success" : "failure"}, ${type}: a valid instance of its class`, () => {
          const e = event({
            action,
            success,
            error_code: success ? null : "permission_denied",
            request: { id: "req_1", method: "POST", status: success ? 200 : 403, duration_ms: 12 },
            identity: { id: `${type}:someone`, type, session_id: type === "user" ? "ses_1" : null },
          });
          const o = toOcsf(e, "acme");
          expectValid(o);
          const [classUid, activityId] = EXPECTED_CLASS[action] as [number, number];
          expect(o.class_uid).toBe(classUid);
          expect(o.category_uid).toBe(classUid === 6003 ? 6 : 3);
          expect(o.activity_id).toBe(activityId);
          expect(o.activity_name).toBe(OCSF_ACTIVITIES[action].name);
          expect(o.severity_id).toBe(severityOf(e));
          expect(o.severity).toBe(SEVERITY_NAMES[severityOf(e)]);
          expect(o.status_id).toBe(success ? 1 : 2);
          expect(o.status).toBe(success ? "Success" : "Failure");
          expect(o.status_code).toBe(success ? undefined : "permission_denied");
          expect(o.metadata).toMatchObject({
            version: "1.8.0",
            product: { name: "Audit Log", vendor_name: "ScaiVault" },
            uid: e.id,
            tenant_uid: "acme",
            event_code: action,
            original_time: e.timestamp,
            profiles: ["datetime"],
          });
          expect(o.actor).toMatchObject({
            user: {
              uid: `${type}:someone`,
              name: "someone",
              type_id: { user: 1, service_account: 4, group: 99 }[type],
            },
          });
          expect(o.http_response).toEqual({ code: success ? 200 : 403 });
          expect(o.http_request).toMatchObject({ uid: "req_1", http_method: "POST" });
          if (classUid === 6003) {
            expect(o.api).toEqual({
              operation: action,
              service: { name: "ScaiVault" },
              request: { uid: "req_1" },
              response: success ? { code: 200 } : { code: 403, error: "permission_denied" },
            });
            expect(o.resources).toEqual([expect.objectContaining({ uid: e.path, name: e.path, role_id: 1 })]);
            expect(o.src_endpoint).toEqual({ ip: "203.0.113.7" });
          } else {
            expect(o.entity).toEqual({ uid: e.path, name: e.path, type: "Policy", type_id: 5 });
            expect(o.src_endpoint).toEqual({ ip: "203.0.113.7" });
          }
          expect(o.unmapped).toEqual({ context: { rotation_reason: "scheduled" } });
        });
      }
    }
  }

  it("failure raises severity one step; policy changes and deletes start at Medium", () => {
    expect(severityOf({ action: "read", success: true })).toBe(1);
    expect(severityOf({ action: "read", success: false })).toBe(2);
    expect(severityOf({ action: "rotate", success: true })).toBe(2);
    expect(severityOf({ action: "delete", success: true })).toBe(3);
    expect(severityOf({ action: "policy_bind", success: false })).toBe(4);
  });
});

describe("OCSF: time", () => {
  it("time is whole epoch milliseconds rounded down; time_dt and original_time keep the microseconds", () => {
    const o = toOcsf(event({ timestamp: "2026-11-26T14:30:05.123999Z" }), "acme");
    expect(o.time).toBe(Date.UTC(2026, 10, 26, 14, 30, 5, 123));
    expect(o.time_dt).toBe("2026-11-26T14:30:05.123999Z");
    expect((o.metadata as Record<string, unknown>).original_time).toBe("2026-11-26T14:30:05.123999Z");
    expectValid(o);
  });

  it("logged_time (and logged_time_dt) come from the ingest stamp when one is given", () => {
    const o = toOcsf(event(), "acme", { ingested: "2026-11-26T14:30:06.000001Z", productVersion: "9.9.9" });
    expect(o.metadata).toMatchObject({
      logged_time: Date.UTC(2026, 10, 26, 14, 30, 6, 0),
      logged_time_dt: "2026-11-26T14:30:06.000001Z",
      product: { version: "9.9.9" },
    });
    expectValid(o);
    expect((toOcsf(event(), "acme").metadata as Record<string, unknown>).logged_time).toBeUndefined();
  });
});

describe("OCSF: absent and odd values", () => {
  it("an event with every optional field null is still valid (API Activity names its unknown source)", () => {
    for (const action of ["read", "policy_update"] as const) {
      const o = toOcsf(
        event({
          action,
          identity: { id: "service_account:ci", type: "service_account", session_id: null },
          source_ip: null,
          user_agent: null,
          request: { id: null, method: null, status: null, duration_ms: null },
          context: {},
        }),
        "acme",
      );
      expectValid(o);
      expect(o.http_request).toBeUndefined();
      expect(o.http_response).toBeUndefined();
      expect(o.unmapped).toBeUndefined();
      expect((o.actor as Record<string, unknown>).session).toBeUndefined();
      if (action === "read") {
        expect(o.src_endpoint).toEqual({ name: "unknown" });
        expect(o.api).toEqual({ operation: "read", service: { name: "ScaiVault" } });
      } else expect(o.src_endpoint).toBeUndefined();
    }
  });

  it("what OCSF has no place for goes to unmapped: LIST, a fractional duration; IPv6 stays in src_endpoint", () => {
    const o = toOcsf(
      event({
        action: "list",
        source_ip: "2001:db8::7",
        request: { id: "r", method: "LIST", status: 200, duration_ms: 2.5 },
      }),
      "acme",
    );
    expectValid(o);
    expect(o.src_endpoint).toEqual({ ip: "2001:db8::7" });
    expect(o.http_request).toEqual({ uid: "r", user_agent: "scaivault-cli/2.3.1" });
    expect(o.duration).toBe(3);
    expect(o.unmapped).toEqual({
      http_method: "LIST",
      duration_ms: 2.5,
      context: { rotation_reason: "scheduled" },
    });
  });

  it("hostile text (separators, controls, U+2028, bidi, huge context) stays data and valid", () => {
    const hostile = 'a|b=c\\d\r\ne\u2028f\u2029g\u0085\u202e"}{\u0000';
    const o = toOcsf(
      event({
        user_agent: hostile,
        path: hostile,
        error_code: hostile,
        success: false,
        context: { note: hostile, big: "x".repeat(30_000), nested: { deep: [hostile] } },
      }),
      hostile,
    );
    expectValid(o);
    const back = JSON.parse(JSON.stringify(o));
    expect(back.http_request.user_agent).toBe(hostile);
    expect(back.resources[0].uid).toBe(hostile);
    expect(back.metadata.tenant_uid).toBe(hostile);
    expect(back.unmapped.context.nested.deep[0]).toBe(hostile);
  });

  it("stored documents no ingest would accept still map to valid instances", () => {
    const docs: unknown[] = [
      {},
      { "@timestamp": 1764167405123, event: { action: "exfiltrate", outcome: "maybe", id: 7 } },
      {
        "@timestamp": "not a time",
        event: { action: ["read"], duration: "n/a" },
        user: { id: { nested: true } },
        scaivault: { identity: { type: "robot" }, context: [1, 2], path: 42 },
        source: { ip: "999.1.1.1" },
        http: { request: { method: "get" }, response: { status_code: "200" } },
      },
    ];
    for (const d of docs) {
      const stored = readDocument(d);
      const o = toOcsf(stored.event, stored.tenant ?? "", { ingested: stored.ingested });
      expectValid(o);
    }
    const odd = toOcsf(readDocument(docs[2]).event, "t");
    expect(odd.activity_id).toBe(99);
    expect(odd.unmapped).toMatchObject({
      timestamp: "not a time",
      identity_type: "robot",
      source_ip: "999.1.1.1",
    });
  });
});

describe("OCSF: at volume", () => {
  it("the synthetic generator's 2,000 events (every action, both outcomes) are valid", () => {
    const seen = new Set<string>();
    for (const raw of take(2000, {
      seed: 7,
      tenant: "acme",
      days: 30,
      end: new Date("2026-11-26T00:00:00Z"),
    })) {
      const parsed = IngestEventSchema.parse(raw);
      const { event: e } = normalize(parsed, () => "generated-id");
      seen.add(`${e.action}/${e.success}`);
      expectValid(toOcsf(e, "acme", { ingested: "2026-11-26T00:00:01.000000Z" }));
    }
    expect(seen.size).toBeGreaterThan(ACTIONS.length);
  });

  it("random valid events (any Unicode in free text and context) are valid", () => {
    const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTIONS),
        fc.constantFrom(...IDENTITY_TYPES),
        fc.boolean(),
        text,
        fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null))),
        fc.option(fc.constantFrom("203.0.113.9", "::1", "fe80::1%eth0", "10.0.0.1")),
        fc.option(fc.integer({ min: 100, max: 599 })),
        (action, type, success, ua, context, ip, status) => {
          const o = toOcsf(
            event({
              action,
              success,
              identity: { id: `${type}:${ua}`, type, session_id: ua },
              user_agent: ua,
              source_ip: ip,
              request: { id: ua, method: "DELETE", status, duration_ms: 0.001 },
              error_code: success ? null : ua,
              context,
            }),
            ua,
          );
          expectValid(o);
        },
      ),
      { numRuns: 300 },
    );
  });
});

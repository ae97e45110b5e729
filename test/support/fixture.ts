/**
 * A small, varied set of events whose expected query answers the tests compute with plain
 * predicates over the same array, so no count is written down by hand.
 */
import { event } from "./events.ts";

export type Fixture = Record<string, any>;

export function queryFixture(): Fixture[] {
  const out: Fixture[] = [];
  const paths = [
    "prod/db",
    "prod/db/password",
    "prod/dbx",
    "prod/payments/api-key",
    "staging/db",
    "policies/admin",
    "pki/roles/web",
  ];
  const identities: [string, string][] = [
    ["user:ana@acme.example", "user"],
    ["user:bo@acme.example", "user"],
    ["service_account:billing", "service_account"],
    ["group:ops", "group"],
  ];
  const actions = ["read", "write", "list", "rotate", "policy_update", "pki_issue"];
  const ips = ["10.1.2.3", "10.200.0.9", "192.168.1.20", "2001:db8::7", "2001:db8:1::9", "203.0.113.7"];
  for (let i = 0; i < 60; i++) {
    const [id, type] = identities[i % identities.length] as [string, string];
    const success = i % 5 !== 0;
    out.push(
      event({
        id: `fx-${String(i).padStart(3, "0")}`,
        // Minutes apart, inside 14:00–15:00 on one day; microseconds vary.
        timestamp: `2026-11-26T14:${String(i).padStart(2, "0")}:00.${String((i * 7919) % 1_000_000).padStart(6, "0")}Z`,
        action: actions[i % actions.length],
        path: paths[i % paths.length],
        identity: { id, type, session_id: `ses_${i % 3}` },
        source_ip: ips[i % ips.length],
        user_agent: i % 2 ? "scaivault-cli/2.3.1" : "terraform-provider-scaivault/1.8.4",
        request: { id: `req_${i}`, method: "GET", status: success ? 200 : 403, duration_ms: 1.5 },
        success,
        error_code: success ? null : "permission_denied",
        context:
          i % 10 === 3
            ? { rotation_reason: "compromise_suspected", ticket: "INC-4242" }
            : { rotation_reason: "scheduled" },
      }),
    );
  }
  // Microsecond boundaries around an incident window, and ties on one timestamp.
  for (const [n, ts] of [
    ["b-at-from-minus-1us", "2026-11-26T15:25:00.000000Z"],
    ["b-at-from", "2026-11-26T15:25:00.000001Z"],
    ["b-before-to", "2026-11-26T15:34:59.999999Z"],
    ["b-at-to", "2026-11-26T15:35:00.000000Z"],
    ["tie-a", "2026-11-26T15:40:00.123456Z"],
    ["tie-b", "2026-11-26T15:40:00.123456Z"],
    ["tie-c", "2026-11-26T15:40:00.123456Z"],
  ] as const) {
    out.push(
      event({
        id: n,
        timestamp: ts,
        path: "prod/boundary",
        identity: { id: "user:ana@acme.example", type: "user" },
      }),
    );
  }
  return out;
}

/** The API's order: newest first, then id descending. */
export function newestFirst(events: Fixture[]): Fixture[] {
  return [...events].sort((a, b) =>
    a.timestamp === b.timestamp ? (a.id < b.id ? 1 : -1) : a.timestamp < b.timestamp ? 1 : -1,
  );
}

import { randomUUID } from "node:crypto";

/** A unique tenant id per test, so integration tests can share one OpenSearch. */
export const newTenant = (label = "t") => `${label}-${randomUUID().slice(0, 8)}`;

let n = 0;
/** A valid API event; `patch` overrides fields. */
export function event(patch: Record<string, unknown> = {}): Record<string, unknown> {
  n++;
  return {
    timestamp: `2026-11-26T14:${String(n % 60).padStart(2, "0")}:05.123456Z`,
    action: "read",
    path: `prod/app-${n % 7}/db-password`,
    identity: { id: `user:person${n % 5}@acme.example`, type: "user", session_id: `ses_${n}` },
    source_ip: n % 2 ? "203.0.113.7" : "2001:db8::7",
    user_agent: "scaivault-cli/2.3.1",
    request: { id: `req_${n}`, method: "GET", status: 200, duration_ms: 3.214 },
    success: true,
    error_code: null,
    context: { rotation_reason: "scheduled" },
    ...patch,
  };
}

/** Text that must never split a CSV row or reach a spreadsheet as a formula, whatever column it is in. */
export const CSV_HOSTILE_TEXTS = [
  "cli/1.0\n=2+5+cmd|' /C calc'!A0",
  "cr\rinside",
  "crlf\r\ninside",
  "lf\ninside",
  "nul\u0000inside",
  "=1+1",
  "+1",
  "-1",
  "@SUM(A1)",
  "\t=1",
  "\r=1",
  "\n=1",
  " =1",
  "\u200b=1",
  "\uff1d1",
  'q"uote, comma',
];

/**
 * @module events/secrets
 * Redaction by value: text that looks like a credential is replaced by "[REDACTED]" wherever it
 * stands, as secret scanners do — a private key under `note`, a JWT in a user agent, a password in
 * a connection string. Vendor token formats come from a kept rule set, secretlint's recommended
 * preset (AWS, GCP service-account keys, GitHub, GitLab, Slack, npm, OpenAI, Anthropic, HashiCorp
 * Vault, 1Password, SendGrid, Shopify, …); the hand-written rules below cover what it does not:
 * every PEM private key (it wants 100+ characters of body), JWTs, `Bearer`/`Basic` credentials,
 * the password of any `scheme://user:password@host` URL (only that part: host and user stay
 * readable), Google API keys, and `name=value` / `name: value` pairs inside text whose name is a
 * credential word by the key rule. The whole batch is scanned in one pass.
 */
import { lintSource } from "@secretlint/core";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";
import type { NormalizedEvent } from "./event.mapping.ts";
import { isValueCarrier, REDACTED } from "./redaction.ts";

/** A span of a text to redact, and the rule that found it. */
export interface Finding {
  start: number;
  end: number;
  rule: string;
}

interface HandRule {
  id: string;
  pattern: RegExp;
  /** Which capture group is the secret (0: the whole match). */
  group?: number;
  /** A further check on the secret, when the shape alone says too little. */
  accept?: (secret: string, match: RegExpMatchArray) => boolean;
}

// Every pattern has the `d` flag (group positions) and stays inside one text of a batch (see SEPARATOR).
const HAND_RULES: HandRule[] = [
  {
    id: "private-key",
    pattern:
      // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the batch separator (see SEPARATOR)
      /-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[^\u0000]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|(?=\n\u0000)|$)/dg,
  },
  { id: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/dg },
  { id: "bearer", pattern: /\bbearer[ \t]+([A-Za-z0-9._~+/-]{12,}=*)/dgi, group: 1 },
  {
    id: "basic-auth",
    pattern: /\bbasic[ \t]+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])/dgi,
    group: 1,
    // Only what decodes to user:password; "Basic authentication" is a phrase, not a credential.
    accept: (s) => /^[^:\s]*:\S+$/.test(Buffer.from(s, "base64").toString("latin1")),
  },
  { id: "url-password", pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:([^\s@/?#]+)@/dgi, group: 1 },
  { id: "google-api-key", pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/dg },
  {
    id: "assignment",
    // `password=hunter2`, `Password: hunter2`, `?token=abc&x=1`, `"api_key": "…"` inside text.
    // The lookbehind starts a name only at a word's start: no retrying every suffix of a long word.
    pattern: /(?<![\p{L}\p{N}_.-])([\p{L}\p{N}_.-]+)["']?[ \t]*[:=][ \t]*["']?([^\s"'&;,<>]+)/dgu,
    group: 2,
    accept: (secret, m) => secret !== REDACTED && isValueCarrier(m[1] as string),
  },
];

/** Rules of the preset that must not run here. */
const LEFT_OUT = new Set([
  // A value saying "secretlint-disable" must not switch the scanner off.
  "@secretlint/secretlint-rule-filter-comments",
  // These report the whole URL; url-password above redacts only the password, for any scheme.
  "@secretlint/secretlint-rule-basicauth",
  "@secretlint/secretlint-rule-database-connection-string",
]);
/** Options of the preset's rules, where the defaults do not fit. */
const OPTIONS: Record<string, object> = {
  // An AWS access key id alone is worth hiding too (the preset reports it only on request).
  "@secretlint/secretlint-rule-aws": { enableIDScanRule: true },
};
/** The preset's rules, each registered on its own (a preset cannot switch its members off). */
const SECRETLINT_CONFIG = {
  rules: recommendedRules
    .filter((rule) => !LEFT_OUT.has(rule.meta.id))
    .map((rule) => ({ id: rule.meta.id, rule, options: OPTIONS[rule.meta.id] ?? {} })),
};

/** Joins texts for one scan; a NUL-delimited blank line keeps multi-line rules inside one text. */
const SEPARATOR = "\n\u0000\n";

/** Findings per text (sorted, not overlapping), from one scan of all of them. */
export async function findSecrets(texts: readonly string[]): Promise<Finding[][]> {
  const found: Finding[][] = texts.map(() => []);
  if (texts.length === 0) return found;
  const content = texts.join(SEPARATOR);
  const starts: number[] = [];
  let offset = 0;
  for (const t of texts) {
    starts.push(offset);
    offset += t.length + SEPARATOR.length;
  }
  /** A span of `content` → the parts of each text it covers. */
  const add = (from: number, to: number, rule: string) => {
    // The last text starting at or before `from` (binary search), then on while the span lasts.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= from) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; i < texts.length && (starts[i] as number) < to; i++) {
      const base = starts[i] as number;
      const start = Math.max(from, base) - base;
      const end = Math.min(to, base + (texts[i] as string).length) - base;
      if (end > start) found[i]?.push({ start, end, rule });
    }
  };

  for (const rule of HAND_RULES) {
    for (const m of content.matchAll(rule.pattern)) {
      const group = rule.group ?? 0;
      const secret = m[group];
      const span = m.indices?.[group];
      if (!secret || !span || (rule.accept && !rule.accept(secret, m))) continue;
      add(span[0], span[1], rule.id);
    }
  }
  const result = await lintSource({
    source: { filePath: "event.txt", content, contentType: "text", ext: ".txt" },
    options: { config: SECRETLINT_CONFIG, maskSecrets: false },
  });
  for (const message of result.messages) {
    add(message.range[0], message.range[1], message.ruleId.replace("@secretlint/secretlint-rule-", ""));
  }
  return found.map(merge);
}

/** Overlapping spans become one (the first rule names it). */
function merge(findings: Finding[]): Finding[] {
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const f of sorted) {
    const last = out.at(-1);
    if (last && f.start <= last.end) last.end = Math.max(last.end, f.end);
    else out.push({ ...f });
  }
  return out;
}

/** `text` with each finding replaced by "[REDACTED]". */
function applyFindings(text: string, findings: readonly Finding[]): string {
  let out = "";
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + REDACTED;
    at = f.end;
  }
  return out + text.slice(at);
}

/**
 * Texts repeat from event to event (the same identities, paths, agents and context values): those
 * found clean are remembered, up to a bound, and not scanned again. The rules are fixed, so a text
 * clean once is clean always; a text with a finding is never remembered, and only short texts are
 * (at most 20,000 × 128 characters: a few MB).
 */
const clean = new Set<string>();
const CLEAN_MAX = 20_000;
const CLEAN_MAX_LENGTH = 128;
const NONE: readonly Finding[] = Object.freeze([]);

/**
 * Scans every text of the events — path, identity and session ids, user agent, request id, error
 * code, and the context's keys and string values — and returns them with what looks like a
 * credential redacted, plus how many spans each rule redacted. Event ids are the client's
 * idempotency keys and are left alone.
 */
export async function redactSecrets(
  events: readonly NormalizedEvent[],
): Promise<{ events: NormalizedEvent[]; counts: Map<string, number> }> {
  const texts: string[] = [];
  const firstText: number[] = [];
  for (const e of events) {
    firstText.push(texts.length);
    collectTexts(e, texts);
  }
  firstText.push(texts.length);
  // Each distinct text is scanned once, and not at all when it was found clean before.
  const byText = new Map<string, readonly Finding[]>();
  for (const t of texts) if (!clean.has(t)) byText.set(t, NONE);
  const scanned = [...byText.keys()];
  for (const [i, f] of (await findSecrets(scanned)).entries()) {
    const t = scanned[i] as string;
    byText.set(t, f);
    if (f.length === 0 && t.length <= CLEAN_MAX_LENGTH) {
      if (clean.size >= CLEAN_MAX) clean.clear();
      clean.add(t);
    }
  }
  // Findings belong to a text, not to where it stands: each is looked up by its content.
  const findingsOf = (t: string) => byText.get(t) ?? NONE;
  const counts = new Map<string, number>();
  const out = events.map((e, k) => {
    // Nearly every event holds no secret: it is kept as it is, not rebuilt.
    let secret = false;
    for (let j = firstText[k] as number; j < (firstText[k + 1] as number) && !secret; j++)
      secret = findingsOf(texts[j] as string).length > 0;
    if (!secret) return e;
    return visitTexts(e, (t) => {
      const f = findingsOf(t);
      if (f.length === 0) return t;
      for (const { rule } of f) counts.set(rule, (counts.get(rule) ?? 0) + 1);
      return applyFindings(t, f);
    });
  });
  return { events: out, counts };
}

/** Appends every text of `e` to `out`, building nothing (most events hold no secret). */
function collectTexts(e: NormalizedEvent, out: string[]): void {
  out.push(e.path, e.identity.id);
  for (const t of [e.identity.session_id, e.user_agent, e.request.id, e.error_code])
    if (t !== null) out.push(t);
  const stack: unknown[] = [e.context];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, inner] = entries[i] as [string, unknown];
        stack.push(inner, k);
      }
    }
  }
}

/** Calls `map` on each text of `e` in a fixed order and returns the event rebuilt from its answers. */
function visitTexts(e: NormalizedEvent, map: (text: string) => string): NormalizedEvent {
  const opt = (t: string | null) => (t === null ? null : map(t));
  const path = map(e.path);
  const identity = { id: map(e.identity.id), type: e.identity.type, session_id: opt(e.identity.session_id) };
  const userAgent = opt(e.user_agent);
  const requestId = opt(e.request.id);
  const errorCode = opt(e.error_code);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return map(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    const out: [string, unknown][] = [];
    const keys = new Set<string>();
    for (const [k, inner] of Object.entries(v)) {
      const mapped = map(k);
      let key = mapped;
      // Two keys redacted alike must not overwrite each other.
      for (let n = 2; keys.has(key); n++) key = `${mapped}#${n}`;
      keys.add(key);
      out.push([key, walk(inner)]);
    }
    return Object.fromEntries(out);
  };
  const context = walk(e.context) as Record<string, unknown>;
  return {
    ...e,
    path,
    identity,
    user_agent: userAgent,
    request: { ...e.request, id: requestId },
    error_code: errorCode,
    context,
  };
}

/**
 * @module events/redaction
 * A secret value never lands in the audit log. Any `context` key, at any depth and in arrays,
 * whose name ends in a value-carrier word has its value replaced by "[REDACTED]". Words are split
 * on `_`, `-`, `.`, spaces and camelCase, so `db_password`, `clientSecret`, `API-KEY` and `newValue`
 * are redacted while `secret_path`, `token_ttl` and `key_id` (metadata about a secret) are kept.
 */

export const REDACTED = "[REDACTED]";

/** Value-carrier words, matched against the last word of a key, singular or plural. */
const CARRIERS = new Set([
  "value",
  "secret",
  "password",
  "passwd",
  "passphrase",
  "token",
  "key",
  "credential",
  "pwd",
]);

export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2") // camelCase → camel Case
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2") // APIKey → API Key
    .split(/[\s_.-]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

export function isValueCarrier(key: string): boolean {
  const last = keyWords(key).at(-1);
  if (!last) return false;
  return CARRIERS.has(last) || (last.endsWith("s") && CARRIERS.has(last.slice(0, -1)));
}

/** Returns a redacted copy; the input is not modified. Counts how many values were replaced. */
export function redact(value: unknown): { value: unknown; redacted: number } {
  let redacted = 0;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) {
        if (isValueCarrier(k)) {
          out[k] = REDACTED;
          redacted++;
        } else {
          out[k] = walk(inner);
        }
      }
      return out;
    }
    return v;
  };
  return { value: walk(value), redacted };
}

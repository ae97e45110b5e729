/**
 * @module events/redaction
 * A secret value never lands in the audit log. Two nets, both applied at ingest before anything is
 * stored, each counted by rule in /metrics:
 *
 * 1. **By key** (`redactKeys`): the value under any `context` key, at any depth and in arrays,
 *    whose name ends in a credential word becomes "[REDACTED]". Names are normalised first
 *    (compatibility forms, accents, invisible characters and look-alike letters removed:
 *    `ｐａｓｓｗｏｒｄ`, `pаssword` with a Cyrillic а, `password\u200b`), then split into words on
 *    any separator and on camelCase; the last word (trailing digits dropped) is checked, and so is
 *    the name with its words glued together, so `apikey`, `accesstoken` and `dbpassword` count as
 *    well as `api_key`, `db:password`, `Password:` and `private_key_pem`. Metadata stays readable:
 *    `secret_path`, `token_ttl`, `key_id`, `password_policy`.
 * 2. **By value** (`secrets.ts`): text that looks like a credential, whatever its key.
 */
import { remove as withoutLookalikes } from "confusables";

export const REDACTED = "[REDACTED]";

/** Credential words, singular (a plural `s` is accepted too). */
const CARRIERS = new Set([
  "value",
  "secret",
  "password",
  "passwd",
  "passphrase",
  "passcode",
  "pwd",
  "pass",
  "token",
  "key",
  "credential",
  "authorization",
  "bearer",
  "cookie",
  "pem",
  "jwt",
  "otp",
  "pin",
  "mnemonic",
  "dsn",
  "connectionstring",
  "connstr",
]);

/**
 * Carriers also recognised at the end of a glued name (`dbpassword`, `accesstoken`, `totp`).
 * Not the short or common endings (`pass` in bypass, `pin` in spin, `pem`), and not `key`, which
 * ends too many plain words (monkey, hockey): a glued `…key` counts only after a credential
 * qualifier, below.
 */
const GLUED = [...CARRIERS].filter((w) => !["pass", "pin", "pem", "key"].includes(w));

/** What can stand glued before `key` in a credential's name (`apikey`, `privatekey`, `sshkey`). */
const KEY_QUALIFIERS = new Set([
  "access",
  "account",
  "activation",
  "admin",
  "aes",
  "api",
  "app",
  "application",
  "auth",
  "backup",
  "client",
  "consumer",
  "crypto",
  "data",
  "db",
  "decryption",
  "deploy",
  "device",
  "enc",
  "encryption",
  "gpg",
  "hmac",
  "kms",
  "license",
  "licence",
  "master",
  "pass",
  "pgp",
  "primary",
  "priv",
  "private",
  "product",
  "recovery",
  "root",
  "rsa",
  "secondary",
  "secret",
  "server",
  "service",
  "session",
  "shared",
  "sign",
  "signing",
  "ssh",
  "storage",
  "subscription",
  "unseal",
  "user",
  "webhook",
  "wrapping",
]);

const isCarrierWord = (w: string) => CARRIERS.has(w) || (w.endsWith("s") && CARRIERS.has(w.slice(0, -1)));

/** A key's words, normalised and lower-cased: `dbPassword` → db, password; `API-KEY` → api, key. */
export function keyWords(key: string): string[] {
  // Printable ASCII has nothing to normalise (and no look-alikes of other ASCII letters).
  const plain = /^[\x20-\x7e]*$/.test(key)
    ? key
    : withoutLookalikes(
        key
          .normalize("NFKD")
          .replace(/\p{M}/gu, "") // accents
          .normalize("NFKC"),
      );
  return plain
    .replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, "$1 $2") // camelCase → camel Case
    .replace(/(\p{Lu}+)(\p{Lu}\p{Ll})/gu, "$1 $2") // APIKey → API Key
    .split(/[^\p{L}\p{N}]+/u) // any separator, invisible characters included
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Names repeat (the same few keys in every event): remember the answers, up to a bound. */
const verdicts = new Map<string, boolean>();
const MAX_REMEMBERED = 10_000;

export function isValueCarrier(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = carries(key);
    if (verdicts.size >= MAX_REMEMBERED) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

function carries(key: string): boolean {
  const words = keyWords(key);
  const last = words.at(-1)?.replace(/\d+$/, "");
  if (!last) return false;
  if (isCarrierWord(last)) return true;
  // The words glued: `api key` and `apikey` alike; `pass word` split by an invisible character.
  const glued = words.join("").replace(/\d+$/, "");
  const singular = glued.endsWith("s") ? glued.slice(0, -1) : glued;
  if (GLUED.some((w) => singular.endsWith(w))) return true;
  return singular.endsWith("key") && KEY_QUALIFIERS.has(singular.slice(0, -3));
}

/**
 * A copy of `value` in which every value under a carrier key is "[REDACTED]"; the input is not
 * modified. Objects are rebuilt with own properties only (no `obj[k] = …`), so no key can reach a
 * prototype.
 */
export function redactKeys(value: unknown): { value: unknown; redacted: number } {
  let redacted = 0;
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map(([k, inner]) => {
          if (!isValueCarrier(k)) return [k, walk(inner)];
          redacted++;
          return [k, REDACTED];
        }),
      );
    }
    return v;
  };
  return { value: walk(value), redacted };
}

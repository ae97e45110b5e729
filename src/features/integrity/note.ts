/**
 * @module features/integrity/note
 * Signed notes and checkpoints as C2SP specifies them (`signed-note`, `tlog-checkpoint`) with
 * Ed25519 keys in the Go checksum database's text forms, so `golang.org/x/mod/sumdb/note` and any
 * other implementation read our checkpoints and keys:
 *
 * - signer key `PRIVATE+KEY+<name>+<key hash, 8 hex>+<base64(0x01 ‖ 32-byte seed)>`
 * - verifier key `<name>+<key hash>+<base64(0x01 ‖ 32-byte public key)>`
 * - key hash: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)
 * - a note: text (ending in a newline), a blank line, then `— <name> <base64(key hash ‖ signature)>`
 *   lines; the signature is over the text alone.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";

const ED25519 = 0x01;
/** PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), so Node can load it. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface Signer {
  name: string;
  /** The key hash, as 8 hex digits: the key id in keys and signature lines. */
  keyId: string;
  publicKey: Buffer;
  privateKey: KeyObject;
}

export interface Verifier {
  name: string;
  keyId: string;
  publicKey: Buffer;
}

export class NoteError extends Error {}

/** A key name: printable, no spaces and no `+` (C2SP signed-note). */
function checkName(name: string): string {
  if (!/^[\x21-\x2a\x2c-\x7e]+$/.test(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  return name;
}

function keyHash(name: string, publicKey: Buffer): string {
  return createHash("sha256")
    .update(`${name}\n`)
    .update(Buffer.from([ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4)
    .toString("hex");
}

function signerOf(name: string, seed: Buffer): Signer {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = Buffer.from(spki.subarray(SPKI_PREFIX.length));
  return { name, keyId: keyHash(name, publicKey), publicKey, privateKey };
}

/** The `+`-separated fields of a key, the last one whole (base64 holds `+` too). */
function fields(text: string, count: number): (string | undefined)[] {
  const parts = text.trim().split("+");
  return [...parts.slice(0, count - 1), parts.length >= count ? parts.slice(count - 1).join("+") : undefined];
}

/** A new Ed25519 signer key, in its text form. */
export function generateSignerKey(name: string): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = Buffer.from(der.subarray(PKCS8_PREFIX.length));
  const s = signerOf(checkName(name), seed);
  return `PRIVATE+KEY+${s.name}+${s.keyId}+${Buffer.concat([Buffer.from([ED25519]), seed]).toString("base64")}`;
}

/** Reads a signer key's text form; its key hash must match its key. */
export function parseSignerKey(text: string): Signer {
  const [p, k, name, id, key] = fields(text, 5);
  const raw = Buffer.from(key ?? "", "base64");
  if (p !== "PRIVATE" || k !== "KEY" || raw.length !== 33 || raw[0] !== ED25519)
    throw new NoteError("not an Ed25519 signer key (PRIVATE+KEY+<name>+<hash>+<key>)");
  const signer = signerOf(checkName(name as string), raw.subarray(1));
  if (signer.keyId !== id) throw new NoteError("the signer key's hash does not match its key");
  return signer;
}

export const verifierKey = (v: Verifier): string =>
  `${v.name}+${v.keyId}+${Buffer.concat([Buffer.from([ED25519]), v.publicKey]).toString("base64")}`;

/** Reads a verifier key's text form; its key hash must match its key. */
export function parseVerifierKey(text: string): Verifier {
  const [name, id, key] = fields(text, 3);
  const raw = Buffer.from(key ?? "", "base64");
  if (raw.length !== 33 || raw[0] !== ED25519)
    throw new NoteError("not an Ed25519 verifier key (<name>+<hash>+<key>)");
  const publicKey = Buffer.from(raw.subarray(1));
  const v = { name: checkName(name as string), keyId: id as string, publicKey };
  if (keyHash(v.name, publicKey) !== v.keyId)
    throw new NoteError("the verifier key's hash does not match its key");
  return v;
}

/** `text` (ending in a newline) signed by each of `signers`. */
export function signNote(text: string, signers: Signer[]): string {
  if (!text.endsWith("\n") || text.includes("\r"))
    throw new NoteError("a note's text ends in a newline and has no CR");
  const lines = signers.map((s) => {
    const sig = sign(null, Buffer.from(text), s.privateKey);
    return `— ${s.name} ${Buffer.concat([Buffer.from(s.keyId, "hex"), sig]).toString("base64")}\n`;
  });
  return `${text}\n${lines.join("")}`;
}

/**
 * The text of a signed note and which of `verifiers` signed it. Signatures by unknown keys are
 * ignored; one by a known key that does not verify, or none by a known key at all, is an error.
 */
export function openNote(note: string, verifiers: Verifier[]): { text: string; signedBy: Verifier[] } {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0 || !note.endsWith("\n")) throw new NoteError("malformed note: no signature block");
  const text = note.slice(0, cut + 1);
  const signedBy: Verifier[] = [];
  for (const line of note.slice(cut + 2, -1).split("\n")) {
    const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new NoteError("malformed note: a signature line is not `— <name> <signature>`");
    const raw = Buffer.from(m[2] as string, "base64");
    const id = raw.subarray(0, 4).toString("hex");
    const v = verifiers.find((x) => x.name === m[1] && x.keyId === id);
    if (!v) continue;
    const key = createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, v.publicKey]),
      format: "der",
      type: "spki",
    });
    if (!verify(null, Buffer.from(text), key, raw.subarray(4)))
      throw new NoteError(`invalid signature by ${v.name}+${v.keyId}`);
    signedBy.push(v);
  }
  if (signedBy.length === 0) throw new NoteError("the note is signed by no known key");
  return { text, signedBy };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Lines after the root (C2SP: extension lines), without their newlines. */
  extensions: string[];
}

export const checkpointText = (c: Checkpoint): string =>
  `${[c.origin, String(c.size), c.root.toString("base64"), ...c.extensions].join("\n")}\n`;

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split("\n");
  const [origin, size, root] = lines;
  const hash = Buffer.from(root ?? "", "base64");
  if (
    lines.length < 4 ||
    lines.at(-1) !== "" ||
    !origin ||
    !/^(0|[1-9][0-9]{0,15})$/.test(size ?? "") ||
    hash.length !== 32 ||
    hash.toString("base64") !== root
  )
    throw new NoteError("malformed checkpoint: <origin>, <size>, <base64 root hash>, each on its own line");
  return { origin, size: Number(size), root: hash, extensions: lines.slice(3, -1) };
}

/**
 * Signed notes and checkpoints against the Go checksum database's `sumdb/note`
 * (test/support/tlog-oracle): keys Go generates load here, notes signed here open there and the
 * other way round — byte for byte, as Ed25519 signatures are deterministic — and a changed note or
 * a stranger's key fails both.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkpointText,
  generateSignerKey,
  NoteError,
  openNote,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKey,
} from "../../src/features/integrity/note.ts";
import { type Oracle, startOracle } from "../support/tlog-oracle.ts";

let oracle: Oracle;
beforeAll(() => {
  oracle = startOracle();
});
afterAll(() => oracle.close());

const TEXT = checkpointText({
  origin: "scaivault.local/audit/acme",
  size: 1234,
  root: Buffer.alloc(32, 7),
  extensions: [],
});

describe("signed notes", () => {
  it("loads Go's keys, signs exactly as Go does, and each side opens the other's notes", async () => {
    const gen = await oracle.ask({ op: "keygen", note: "scaivault.local/audit" });
    const signer = parseSignerKey(gen.text as string);
    expect(verifierKey(signer)).toBe(gen.signed?.[0]);
    const ours = signNote(TEXT, [signer]);
    const theirs = await oracle.ask({ op: "sign", note: TEXT, keys: [gen.text] });
    expect(ours).toBe(theirs.text);
    const opened = await oracle.ask({ op: "note", note: ours, keys: [verifierKey(signer)] });
    expect(opened).toMatchObject({ ok: true, text: TEXT, signed: [`scaivault.local/audit+${signer.keyId}`] });
    expect(openNote(theirs.text as string, [parseVerifierKey(gen.signed?.[0] as string)]).text).toBe(TEXT);
  });

  it("keys made here load in Go, and their notes open there", async () => {
    const signer = parseSignerKey(generateSignerKey("audit.example.com/log"));
    const go = await oracle.ask({ op: "sign", note: TEXT, keys: [generateSignerKey("other")] });
    expect(go.ok).toBe(true);
    const note = signNote(TEXT, [signer]);
    expect((await oracle.ask({ op: "note", note, keys: [verifierKey(signer)] })).ok).toBe(true);
  });

  it("a changed text, a changed signature or only a stranger's key fails on both sides", async () => {
    const signer = parseSignerKey(generateSignerKey("scaivault.local/audit"));
    const stranger = parseSignerKey(generateSignerKey("scaivault.local/audit"));
    const note = signNote(TEXT, [signer]);
    const sig = note.slice(note.lastIndexOf(" ") + 1, -1);
    const raw = Buffer.from(sig, "base64");
    raw[10] = (raw[10] as number) ^ 1;
    const bad = [
      ["a changed size", note.replace("\n1234\n", "\n1235\n"), [signer]],
      ["a changed signature", note.replace(sig, raw.toString("base64")), [signer]],
      ["only a stranger's key", note, [stranger]],
      ["signed by the stranger", signNote(TEXT, [stranger]), [signer]],
      ["no signature block", TEXT, [signer]],
    ] as const;
    for (const [what, n, keys] of bad) {
      expect(() => openNote(n, [...keys]), what).toThrow(NoteError);
      const go = await oracle.ask({ op: "note", note: n, keys: keys.map(verifierKey) });
      expect(go.ok, `${what}, Go`).toBe(false);
    }
    // Two signatures: a reader that knows either key accepts it.
    const both = signNote(TEXT, [signer, stranger]);
    expect(openNote(both, [stranger]).signedBy[0]?.keyId).toBe(stranger.keyId);
    expect((await oracle.ask({ op: "note", note: both, keys: [verifierKey(signer)] })).ok).toBe(true);
  });

  it("refuses malformed keys and a key whose hash does not match", () => {
    const key = generateSignerKey("scaivault.local/audit");
    const v = verifierKey(parseSignerKey(key));
    expect(() => parseSignerKey(key.replace(/\+[0-9a-f]{8}\+/, "+00000000+"))).toThrow(NoteError);
    expect(() => parseVerifierKey(v.replace(/\+[0-9a-f]{8}\+/, "+00000000+"))).toThrow(NoteError);
    expect(() => parseVerifierKey("no-key")).toThrow(NoteError);
    expect(() => generateSignerKey("has space")).toThrow(NoteError);
    expect(() => generateSignerKey("has+plus")).toThrow(NoteError);
  });
});

describe("checkpoints", () => {
  it("round-trip, extension lines kept, and refuse what is not a checkpoint", () => {
    const c = {
      origin: "o/acme",
      size: 9,
      root: Buffer.alloc(32, 1),
      extensions: ["time 2026-12-05T00:00:00Z"],
    };
    expect(parseCheckpoint(checkpointText(c))).toEqual(c);
    for (const t of [
      "o\n9\n",
      "o\n09\nAQ==\n",
      `o\n-1\n${Buffer.alloc(32).toString("base64")}\n`,
      `\n1\n${Buffer.alloc(32).toString("base64")}\n`,
    ])
      expect(() => parseCheckpoint(t), JSON.stringify(t)).toThrow(NoteError);
  });
});

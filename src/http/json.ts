/**
 * @module http/json
 * Request bodies are parsed so that nothing is silently altered. `JSON.parse` quietly keeps the
 * last of two equal keys, rounds `12345678901234567890` and turns `1e400` into Infinity (stored as
 * null): an audit record must hold what was sent, or say why not. So every body is scanned once
 * (members and number literals, outside strings) beside the native parse, which stays the fast
 * path; only a body the scan finds suspect is walked again, keeping track of where it is, to name
 * each offending field. Both passes are loops, not recursion: any depth is fine.
 */

export type JsonPath = (string | number)[];

/** Something in the text that JSON.parse would change: the field and why. */
export interface JsonProblem {
  path: JsonPath;
  message: string;
}

export const INEXACT_NUMBER =
  "is a number that cannot be kept exactly (beyond 15–17 significant digits, or out of range); send it as a string";
export const DUPLICATE_KEY = "is given more than once in its object";

/**
 * Parses `text` (throws SyntaxError when it is not JSON) and lists what a plain parse would have
 * altered. The value returned is JSON.parse's; callers reject whatever `problems` names.
 */
export function parseJson(text: string): { value: unknown; problems: JsonProblem[] } {
  const scan = scanJson(text);
  const value: unknown = JSON.parse(text);
  if (!scan.inexactNumber && countMembers(value) === scan.members) return { value, problems: [] };
  return { value, problems: locateProblems(text) };
}

/**
 * One pass over the text: the object members it holds (a ':' outside strings is exactly one
 * member) and whether a number literal would not survive the round trip through a double.
 */
function scanJson(text: string): { members: number; inexactNumber: boolean } {
  let members = 0;
  let inexactNumber = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x3a) {
      members++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      // Up to 15 digits without an exponent always survive; anything else is checked.
      if (!inexactNumber && (end - i > 15 || hasExponent(text, i, end)))
        inexactNumber = !isExactNumber(text.slice(i, end));
      i = end - 1;
    }
  }
  return { members, inexactNumber };
}

function hasExponent(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if ((text.charCodeAt(i) | 0x20) === 0x65) return true;
  return false;
}

const isNumberChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;

/** Object members in a parsed value (iterative: any depth). */
function countMembers(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    for (const k of Object.keys(v)) {
      n++;
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return n;
}

/**
 * Whether a JSON number literal denotes exactly the decimal value JavaScript keeps for it. The
 * shortest form of the double (`String(n)`) is compared with the literal as digits and exponent,
 * so `1.0`, `1e2` and `0.1` pass while `12345678901234567890`, `1e400` and `1e-400` do not.
 */
export function isExactNumber(literal: string): boolean {
  const n = Number(literal);
  if (!Number.isFinite(n)) return false;
  return decimalKey(literal) === decimalKey(String(n));
}

/** A decimal as `<sign><significant digits>e<exponent of the first digit>`; zero is "0". */
function decimalKey(s: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return `?${s}`;
  const [, sign, int = "", frac = "", exp = "0"] = m;
  const digits = int + frac;
  const lead = digits.search(/[1-9]/);
  if (lead === -1) return "0";
  const significant = digits.slice(lead).replace(/0+$/, "");
  // The position of the first significant digit relative to the decimal point.
  const exponent = int.length - lead - 1 + Number(exp);
  return `${sign}${significant}e${exponent}`;
}

type Frame =
  | { kind: "object"; keys: Set<string>; key: string | undefined }
  | { kind: "array"; index: number };

/** The path of the value being read: each open container's current key or index. */
const pathOf = (frames: Frame[]): JsonPath =>
  frames.map((f) => (f.kind === "array" ? f.index : (f.key as string)));

/**
 * The slow path: every duplicate key and inexact number, by path. `text` is known to be valid
 * JSON (JSON.parse took it), so a string in an object is a key exactly when no key is pending.
 */
function locateProblems(text: string): JsonProblem[] {
  const problems: JsonProblem[] = [];
  const frames: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = frames.at(-1);
    if (c === 0x7b) frames.push({ kind: "object", keys: new Set(), key: undefined });
    else if (c === 0x5b) frames.push({ kind: "array", index: 0 });
    else if (c === 0x7d || c === 0x5d) frames.pop();
    else if (c === 0x2c && top) {
      if (top.kind === "array") top.index++;
      else top.key = undefined;
    } else if (c === 0x22) {
      const start = i;
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
      if (top?.kind === "object" && top.key === undefined) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key))
          problems.push({ path: [...pathOf(frames.slice(0, -1)), key], message: DUPLICATE_KEY });
        top.keys.add(key);
        top.key = key;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      if (!isExactNumber(text.slice(i, end)))
        problems.push({ path: pathOf(frames), message: INEXACT_NUMBER });
      i = end - 1;
    }
  }
  return problems.sort((a, b) => a.path.join(".").localeCompare(b.path.join(".")));
}

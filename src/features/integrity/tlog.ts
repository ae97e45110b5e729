/**
 * @module features/integrity/tlog
 * PURE Merkle tree arithmetic of a transparency log, hashed as RFC 6962 / RFC 9162 say: a leaf is
 * SHA-256(0x00 ‖ data), a node SHA-256(0x01 ‖ left ‖ right). No client, no clock.
 *
 * The tree is kept as its **stored hashes**, laid out as the Go checksum database's `sumdb/tlog`
 * does (so its packages check ours, see test/support/tlog-oracle): appending leaf n stores its
 * hash, then the root of every complete subtree that leaf completes. Every complete subtree's root
 * then has a fixed index, the tree of any size is a few of them, and so is every proof.
 */
import { createHash } from "node:crypto";

export type Hash = Buffer;
export const HASH_SIZE = 32;

export const leafHash = (data: Uint8Array): Hash =>
  createHash("sha256")
    .update(Buffer.from([0]))
    .update(data)
    .digest();

export const nodeHash = (left: Hash, right: Hash): Hash =>
  createHash("sha256")
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();

/** The root of the empty tree: SHA-256 of nothing (RFC 9162 2.1.1). */
export const EMPTY_ROOT: Hash = createHash("sha256").digest();

/** Where the root of the n-th complete subtree of height `level` is stored. */
export function storedHashIndex(level: number, n: number): number {
  // Level L's n-th hash comes right after level L+1's (2n+1)-th: walk down to level 0's order.
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  // Level 0's n-th hash is stored at n + n/2 + n/4 + … (then the levels above it).
  let i = 0;
  for (; n > 0; n = Math.floor(n / 2)) i += n;
  return i + level;
}

/** How many hashes a tree of `n` leaves stores. */
export function storedHashCount(n: number): number {
  if (n === 0) return 0;
  let count = storedHashIndex(0, n - 1) + 1;
  for (let i = n - 1; i % 2 === 1; i = Math.floor(i / 2)) count++;
  return count;
}

/** Reads stored hashes by index (from memory, or from wherever the log keeps them). */
export type HashReader = (indexes: number[]) => Promise<Hash[]>;

/**
 * The hashes to store when appending leaf `n` (0-based) with hash `leaf`, in index order: the
 * leaf's own, then one per complete subtree it closes. Reads the left siblings it needs.
 */
export async function hashesToStore(n: number, leaf: Hash, read: HashReader): Promise<Hash[]> {
  let closes = 0;
  for (let m = n + 1; m % 2 === 0; m /= 2) closes++;
  const siblings = Array.from({ length: closes }, (_, i) => storedHashIndex(i, Math.floor(n / 2 ** i) - 1));
  const old = await read(siblings);
  const out = [leaf];
  let h = leaf;
  for (let i = 0; i < closes; i++) {
    h = nodeHash(old[i] as Hash, h);
    out.push(h);
  }
  return out;
}

/** k = the largest power of two smaller than n (n ≥ 2), and its log₂. */
function split(n: number): { k: number; level: number } {
  let level = 0;
  while (2 ** (level + 1) < n) level++;
  return { k: 2 ** level, level };
}

/** The stored hashes whose fold is the root of leaves [lo, hi): complete subtrees, left to right. */
function rangeIndexes(lo: number, hi: number): number[] {
  const out: number[] = [];
  while (lo < hi) {
    const { k, level } = split(hi - lo + 1);
    out.push(storedHashIndex(level, lo / k));
    lo += k;
  }
  return out;
}

/** The right edge of a tree of `n` leaves: the stored hashes of its complete subtrees, left to right. */
export const edgeIndexes = (n: number): number[] => rangeIndexes(0, n);

/** The hash of leaves [lo, hi) from its complete subtrees' roots (right to left, as RFC 6962 nests them). */
function fold(hashes: Hash[]): Hash {
  let h = hashes[hashes.length - 1] as Hash;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i] as Hash, h);
  return h;
}

async function rangeHash(lo: number, hi: number, read: HashReader): Promise<Hash> {
  return fold(await read(rangeIndexes(lo, hi)));
}

/** The root hash of the tree's first `n` leaves. */
export async function treeHash(n: number, read: HashReader): Promise<Hash> {
  return n === 0 ? EMPTY_ROOT : rangeHash(0, n, read);
}

/**
 * The root of the tree of `n` leaves computed with leaves [a, a + leaves.length) hashed up from
 * `leaves` (their leaf hashes, in order) and everything else from stored hashes. Equal to a signed
 * root, it proves those leaf hashes are the tree's (what a verification run relies on).
 */
export async function treeHashWith(n: number, a: number, leaves: Hash[], read: HashReader): Promise<Hash> {
  const b = a + leaves.length;
  if (a < 0 || b > n) throw new RangeError(`leaves [${a}, ${b}) are not in a tree of ${n}`);
  const mth = async (lo: number, hi: number): Promise<Hash> => {
    if (hi <= a || lo >= b) return rangeHash(lo, hi, read);
    if (hi - lo === 1) return leaves[lo - a] as Hash;
    const { k } = split(hi - lo);
    return nodeHash(await mth(lo, lo + k), await mth(lo + k, hi));
  };
  return n === 0 ? EMPTY_ROOT : mth(0, n);
}

/** Ranges [lo, hi) whose hashes make the inclusion proof of leaf m in leaves [lo, hi), leaf first. */
function inclusionRanges(lo: number, hi: number, m: number, out: [number, number][] = []) {
  if (hi - lo <= 1) return out;
  const { k } = split(hi - lo);
  if (m < lo + k) {
    inclusionRanges(lo, lo + k, m, out);
    out.push([lo + k, hi]);
  } else {
    inclusionRanges(lo + k, hi, m, out);
    out.push([lo, lo + k]);
  }
  return out;
}

/** Ranges whose hashes make the consistency proof from size m to leaves [lo, hi) (RFC 9162 SUBPROOF). */
function consistencyRanges(lo: number, hi: number, m: number, whole: boolean, out: [number, number][] = []) {
  if (m === hi) {
    if (!whole) out.push([lo, hi]);
    return out;
  }
  const { k } = split(hi - lo);
  if (m <= lo + k) {
    consistencyRanges(lo, lo + k, m, whole, out);
    out.push([lo + k, hi]);
  } else {
    consistencyRanges(lo + k, hi, m, false, out);
    out.push([lo, lo + k]);
  }
  return out;
}

async function hashesOf(ranges: [number, number][], read: HashReader): Promise<Hash[]> {
  const wanted = ranges.map(([lo, hi]) => rangeIndexes(lo, hi));
  const got = await read(wanted.flat());
  let at = 0;
  return wanted.map((w) => {
    at += w.length;
    return fold(got.slice(at - w.length, at));
  });
}

/** The audit path of leaf `m` in the tree of `size` leaves (RFC 9162 2.1.3.1), leaf end first. */
export async function inclusionProof(m: number, size: number, read: HashReader): Promise<Hash[]> {
  if (!(Number.isInteger(m) && m >= 0 && m < size)) throw new RangeError(`no leaf ${m} in a tree of ${size}`);
  return hashesOf(inclusionRanges(0, size, m), read);
}

/** The consistency proof from the tree of `from` leaves to the tree of `to` (RFC 9162 2.1.4.1). */
export async function consistencyProof(from: number, to: number, read: HashReader): Promise<Hash[]> {
  if (!(Number.isInteger(from) && from >= 0 && from <= to))
    throw new RangeError(`no tree ${from} within ${to}`);
  return from === 0 || from === to ? [] : hashesOf(consistencyRanges(0, to, from, true), read);
}

const isOdd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** Whether `proof` shows leaf hash `leaf` at index `m` in the tree of `size` with root `root` (RFC 9162 2.1.3.2). */
export function verifyInclusion(leaf: Hash, m: number, size: number, proof: Hash[], root: Hash): boolean {
  if (!(m >= 0 && m < size)) return false;
  let fn = m;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** Whether `proof` shows the tree (`from`, `fromRoot`) is a prefix of (`to`, `toRoot`) (RFC 9162 2.1.4.2). */
export function verifyConsistency(
  from: number,
  fromRoot: Hash,
  to: number,
  toRoot: Hash,
  proof: Hash[],
): boolean {
  if (!(from >= 0 && from <= to)) return false;
  if (from === to) return proof.length === 0 && fromRoot.equals(toRoot);
  if (from === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  // A first tree of a power-of-two size is a complete subtree: the proof starts at its root.
  const path = Number.isInteger(Math.log2(from)) ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Hash;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}

/**
 * Leaf indexes as sorted, disjoint [lo, hi) intervals: which leaves a multi-proof is for (an export's
 * records, often a few long runs).
 */
export type LeafSet = [number, number][];

/** Whether any leaf of `set` lies in [lo, hi). */
function touches(set: LeafSet, lo: number, hi: number): boolean {
  // The first interval ending after lo (binary search), then whether it starts before hi.
  let a = 0;
  let b = set.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if ((set[mid] as [number, number])[1] <= lo) a = mid + 1;
    else b = mid;
  }
  const next = set[a];
  return next !== undefined && next[0] < hi;
}

/** Subtrees [lo, hi) with no leaf of `set`, left to right: whose hashes a multi-proof holds. */
function multiRanges(set: LeafSet, lo: number, hi: number, out: [number, number][] = []): [number, number][] {
  if (!touches(set, lo, hi)) out.push([lo, hi]);
  else if (hi - lo > 1) {
    const { k } = split(hi - lo);
    multiRanges(set, lo, lo + k, out);
    multiRanges(set, lo + k, hi, out);
  }
  return out;
}

/**
 * A multi-proof for many leaves of a tree of `n` at once: the hashes of the largest subtrees that
 * hold none of them, left to right. With those and the leaves' own hashes the root is recomputed
 * (`multiRoot`); for one contiguous run of leaves it is at most about 2·log2(n) hashes.
 */
export async function multiProof(n: number, set: LeafSet, read: HashReader): Promise<Hash[]> {
  if (set.length === 0 || (set[0] as [number, number])[0] < 0 || (set.at(-1) as [number, number])[1] > n)
    throw new RangeError(`leaves outside a tree of ${n}`);
  return hashesOf(multiRanges(set, 0, n), read);
}

/** The root recomputed from the leaves of `set` (`leaf(i)` gives leaf i's hash) and a multi-proof. */
export function multiRoot(n: number, set: LeafSet, leaf: (i: number) => Hash, proof: Hash[]): Hash {
  let used = 0;
  const mth = (lo: number, hi: number): Hash => {
    if (!touches(set, lo, hi)) {
      const h = proof[used++];
      if (!h) throw new RangeError("the multi-proof is too short");
      return h;
    }
    if (hi - lo === 1) return leaf(lo);
    const { k } = split(hi - lo);
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  };
  const root = n === 0 ? EMPTY_ROOT : mth(0, n);
  if (used !== proof.length) throw new RangeError("the multi-proof is too long");
  return root;
}

/** Leaf indexes (any order, no repeats) as a LeafSet. */
export function leafSet(indexes: Iterable<number>): LeafSet {
  const sorted = [...indexes].sort((a, b) => a - b);
  const out: LeafSet = [];
  for (const i of sorted) {
    const last = out.at(-1);
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

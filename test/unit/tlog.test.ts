/**
 * The Merkle log's arithmetic against two oracles: RFC 9162's recursive definitions written out
 * here (MTH, PATH, PROOF), and the Go checksum database's `sumdb/tlog` (test/support/tlog-oracle),
 * which lays out the same stored hashes and checks the same proofs. Valid proofs must pass both
 * verifiers; every corrupted one must fail both.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  consistencyProof,
  EMPTY_ROOT,
  type Hash,
  type HashReader,
  hashesToStore,
  inclusionProof,
  type LeafSet,
  leafHash,
  leafSet,
  multiProof,
  multiRoot,
  nodeHash,
  storedHashCount,
  storedHashIndex,
  treeHash,
  treeHashWith,
  verifyConsistency,
  verifyInclusion,
} from "../../src/features/integrity/tlog.ts";
import { b64, type Oracle, startOracle } from "../support/tlog-oracle.ts";

let oracle: Oracle;
beforeAll(() => {
  oracle = startOracle();
});
afterAll(() => oracle.close());

const data = (i: number) => Buffer.from(`{"event":${i},"tenant":"t"}`);
const leaves = (n: number) => Array.from({ length: n }, (_, i) => data(i));

/** RFC 9162 2.1.1, recursively: the independent definition. */
function mth(ls: Buffer[]): Hash {
  if (ls.length === 0) return createHash("sha256").digest();
  if (ls.length === 1) return leafHash(ls[0] as Buffer);
  let k = 1;
  while (k * 2 < ls.length) k *= 2;
  return nodeHash(mth(ls.slice(0, k)), mth(ls.slice(k)));
}

/** A log in memory: the stored hashes, appended as the sealer appends. */
async function build(n: number): Promise<{ stored: Hash[]; read: HashReader }> {
  const stored: Hash[] = [];
  const read: HashReader = async (xs) =>
    xs.map((x) => {
      const h = stored[x];
      if (!h) throw new Error(`no stored hash ${x}`);
      return h;
    });
  for (let i = 0; i < n; i++) stored.push(...(await hashesToStore(i, leafHash(data(i)), read)));
  return { stored, read };
}

const flip = (h: Hash): Hash => {
  const c = Buffer.from(h);
  c[7] = (c[7] as number) ^ 1;
  return c;
};

describe("stored hashes and tree hashes", () => {
  it("lays out the same stored hashes as sumdb/tlog and gives RFC 9162's root for every size", async () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 255, 256, 257, 600]) {
      const { stored, read } = await build(n);
      expect(stored).toHaveLength(storedHashCount(n));
      const go = await oracle.ask({ op: "build", leaves: leaves(n).map(b64) });
      expect(go.ok).toBe(true);
      expect(stored.map(b64)).toEqual(go.stored);
      const root = await treeHash(n, read);
      expect(b64(root)).toBe(go.root);
      expect(root.equals(mth(leaves(n)))).toBe(true);
    }
    // Every prefix of one log hashes as that prefix alone: the log only ever appends.
    const { read } = await build(70);
    for (let m = 0; m <= 70; m++) expect((await treeHash(m, read)).equals(mth(leaves(m)))).toBe(true);
    expect((await treeHash(0, read)).equals(EMPTY_ROOT)).toBe(true);
  });
});

describe("a tree's root with a range of leaves hashed from their leaf hashes", () => {
  it("equals RFC 9162's root for every range of every tree up to 40 leaves, and reads nothing inside the range", async () => {
    for (let n = 1; n <= 40; n++) {
      const { stored, read } = await build(n);
      const root = mth(leaves(n));
      for (let a = 0; a < n; a++)
        for (let b = a + 1; b <= n; b++) {
          const inRange = leaves(n).slice(a, b).map(leafHash);
          // A reader that fails on any stored leaf hash inside the range: those come from `leaves`.
          const outside: HashReader = async (xs) => {
            for (const x of xs)
              for (let i = a; i < b; i++)
                if (x === storedHashIndex(0, i)) throw new Error(`read leaf ${i} inside the range`);
            return read(xs);
          };
          expect((await treeHashWith(n, a, inRange, outside)).equals(root)).toBe(true);
        }
      // A leaf hash changed inside the range changes the root; one outside it too (read from storage).
      const changed = leaves(n).map(leafHash);
      changed[n - 1] = flip(changed[n - 1] as Hash);
      expect((await treeHashWith(n, 0, changed, read)).equals(root)).toBe(false);
      if (n > 1) {
        // Every stored hash changed: the ones read for the leaves outside the range spoil the root.
        const tampered = stored.map(flip);
        const readTampered: HashReader = async (xs) => xs.map((x) => tampered[x] as Hash);
        const withLast = [leafHash(data(n - 1))];
        expect((await treeHashWith(n, n - 1, withLast, readTampered)).equals(root)).toBe(false);
      }
    }
    await expect(treeHashWith(3, 2, [leafHash(data(0)), leafHash(data(1))], async () => [])).rejects.toThrow(
      RangeError,
    );
  });
});

describe("multi-proofs (an export's leaves at once)", () => {
  // Thousands of proofs against the oracle: CPU-bound, seconds on a loaded 2-core CI machine.
  it("recompute Go's root from any set of leaves of trees up to 24, and one run of a big tree in few hashes", async () => {
    for (let n = 1; n <= 24; n++) {
      const { read } = await build(n);
      const go = await oracle.ask({ op: "build", leaves: leaves(n).map(b64) });
      const hashes = leaves(n).map(leafHash);
      // Every subset for small trees, a sample of them above.
      const subsets = n <= 10 ? 2 ** n : 400;
      for (let s = 1; s < subsets; s++) {
        const mask = n <= 10 ? s : Math.floor(Math.random() * 2 ** n) || 1;
        const set = leafSet(hashes.flatMap((_, i) => ((mask >> i) & 1 ? [i] : [])));
        const proof = await multiProof(n, set, read);
        const root = multiRoot(n, set, (i) => hashes[i] as Hash, proof);
        expect(b64(root)).toBe(go.root);
        // A changed leaf, or a proof one hash short or long, does not give the root.
        const first = (set[0] as [number, number])[0];
        const wrong = multiRoot(
          n,
          set,
          (i) => (i === first ? flip(hashes[i] as Hash) : (hashes[i] as Hash)),
          proof,
        );
        expect(b64(wrong)).not.toBe(go.root);
        if (proof.length > 0)
          expect(() => multiRoot(n, set, (i) => hashes[i] as Hash, proof.slice(1))).toThrow(RangeError);
        expect(() => multiRoot(n, set, (i) => hashes[i] as Hash, [...proof, EMPTY_ROOT])).toThrow(RangeError);
      }
    }
    const n = 5000;
    const { read } = await build(n);
    const set: LeafSet = [[1234, 4321]];
    const proof = await multiProof(n, set, read);
    expect(proof.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
    expect(multiRoot(n, set, (i) => leafHash(data(i)), proof).equals(await treeHash(n, read))).toBe(true);
    await expect(multiProof(n, [[4999, 5001]], read)).rejects.toThrow(RangeError);
    expect(leafSet([7, 3, 4, 5, 9, 8])).toEqual([
      [3, 6],
      [7, 10],
    ]);
  }, 30_000);
});

describe("inclusion proofs", () => {
  it("equal sumdb/tlog's, and both verifiers accept them, for every leaf of trees of 1 to 40 leaves and 257", async () => {
    const { read } = await build(257);
    for (const size of [...Array.from({ length: 40 }, (_, i) => i + 1), 257]) {
      const root = await treeHash(size, read);
      const all = leaves(size).map(b64);
      for (let m = 0; m < size; m++) {
        const proof = await inclusionProof(m, size, read);
        const go = await oracle.ask({ op: "prove-record", leaves: all, size, index: m });
        expect(proof.map(b64), `size ${size} leaf ${m}`).toEqual(go.proof ?? []);
        const leaf = leafHash(data(m));
        expect(verifyInclusion(leaf, m, size, proof, root)).toBe(true);
        const check = {
          op: "record",
          size,
          root: b64(root),
          index: m,
          leaf: b64(leaf),
          proof: proof.map(b64),
        };
        expect((await oracle.ask(check)).ok).toBe(true);
      }
    }
  });

  it("a changed leaf, index, size, root or proof fails both verifiers", async () => {
    const { read } = await build(45);
    for (const [m, size] of [
      [0, 1],
      [3, 8],
      [17, 45],
      [44, 45],
      [31, 33],
    ] as const) {
      const root = await treeHash(size, read);
      const leaf = leafHash(data(m));
      const proof = await inclusionProof(m, size, read);
      const cases: [string, Hash, number, number, Hash[], Hash][] = [
        ["another leaf", leafHash(data(m + 1)), m, size, proof, root],
        ["another root", leaf, m, size, proof, flip(root)],
        // (A size one larger may have the same shape of path: the signed checkpoint binds the size.)
        ["a tree twice as big", leaf, m, size * 2 + 3, proof, root],
        ["the index past the tree", leaf, size, size, proof, root],
        ...(m > 0 ? ([["the leaf before", leaf, m - 1, size, proof, root]] as const) : []),
        ...proof.map(
          (_, i) =>
            [`hash ${i} changed`, leaf, m, size, proof.map((p, j) => (j === i ? flip(p) : p)), root] as const,
        ),
        ...(proof.length ? ([["a hash missing", leaf, m, size, proof.slice(1), root]] as const) : []),
        ["a hash too many", leaf, m, size, [...proof, root], root],
      ] as [string, Hash, number, number, Hash[], Hash][];
      for (const [what, l, i, s, p, r] of cases) {
        expect(verifyInclusion(l, i, s, p, r), `${what} (${m} of ${size})`).toBe(false);
        const go = await oracle.ask({
          op: "record",
          size: s,
          root: b64(r),
          index: i,
          leaf: b64(l),
          proof: p.map(b64),
        });
        expect(go.ok, `${what} (${m} of ${size}), Go`).toBe(false);
      }
    }
  });
});

describe("consistency proofs", () => {
  it("equal sumdb/tlog's and verify in both, for every pair of sizes up to 40", async () => {
    const { read } = await build(40);
    const all = leaves(40).map(b64);
    for (let to = 1; to <= 40; to++) {
      const toRoot = await treeHash(to, read);
      for (let from = 1; from <= to; from++) {
        const fromRoot = await treeHash(from, read);
        const proof = await consistencyProof(from, to, read);
        const go = await oracle.ask({ op: "prove-tree", leaves: all.slice(0, to), size: to, from });
        expect(proof.map(b64), `${from} → ${to}`).toEqual(go.proof ?? []);
        expect(verifyConsistency(from, fromRoot, to, toRoot, proof), `${from} → ${to}`).toBe(true);
        const check = {
          op: "tree",
          size: to,
          root: b64(toRoot),
          from,
          from_root: b64(fromRoot),
          proof: proof.map(b64),
        };
        expect((await oracle.ask(check)).ok, `${from} → ${to}, Go`).toBe(true);
      }
    }
  });

  it("a fork, a changed root or a changed proof fails both verifiers", async () => {
    const { read } = await build(40);
    // A fork: the same first 20 leaves, then different ones.
    const fork: Hash[] = [];
    const readFork: HashReader = async (xs) => xs.map((x) => fork[x] as Hash);
    for (let i = 0; i < 40; i++)
      fork.push(
        ...(await hashesToStore(i, leafHash(i < 20 ? data(i) : Buffer.from(`forged ${i}`)), readFork)),
      );
    for (const [from, to] of [
      [1, 2],
      [3, 7],
      [8, 40],
      [21, 40],
      [25, 33],
    ] as const) {
      const fromRoot = await treeHash(from, read);
      const toRoot = await treeHash(to, read);
      const proof = await consistencyProof(from, to, read);
      const cases: [string, Hash, Hash, Hash[]][] = [
        ["another old root", flip(fromRoot), toRoot, proof],
        ["another new root", fromRoot, flip(toRoot), proof],
        ...proof.map(
          (_, i) =>
            [`hash ${i} changed`, fromRoot, toRoot, proof.map((p, j) => (j === i ? flip(p) : p))] as const,
        ),
        ["a hash missing", fromRoot, toRoot, proof.slice(0, -1)],
      ] as [string, Hash, Hash, Hash[]][];
      if (from > 20) {
        // The forked log's own proof, between its own roots, from a tree the real log never had.
        const forkProof = await consistencyProof(from, to, readFork);
        cases.push(["a forked history", fromRoot, await treeHash(to, readFork), forkProof]);
      }
      for (const [what, a, b, p] of cases) {
        expect(verifyConsistency(from, a, to, b, p), `${what} (${from} → ${to})`).toBe(false);
        const go = await oracle.ask({
          op: "tree",
          size: to,
          root: b64(b),
          from,
          from_root: b64(a),
          proof: p.map(b64),
        });
        expect(go.ok, `${what} (${from} → ${to}), Go`).toBe(false);
      }
    }
  });
});

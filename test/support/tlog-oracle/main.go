// tlog-oracle checks the audit service's Merkle log with the Go checksum database's own packages
// (golang.org/x/mod/sumdb/tlog and sumdb/note): an implementation independent of the service's.
// It reads one JSON request per line on stdin and writes one JSON answer per line on stdout.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Op       string   `json:"op"`
	Size     int64    `json:"size"`
	Root     []byte   `json:"root"`
	Index    int64    `json:"index"`
	Leaf     []byte   `json:"leaf"`
	From     int64    `json:"from"`
	FromRoot []byte   `json:"from_root"`
	Proof    [][]byte `json:"proof"`
	Leaves   [][]byte `json:"leaves"`
	Note     string   `json:"note"`
	Keys     []string `json:"keys"`
}

type answer struct {
	OK     bool     `json:"ok"`
	Error  string   `json:"error,omitempty"`
	Root   []byte   `json:"root,omitempty"`
	Stored [][]byte `json:"stored,omitempty"`
	Proof  [][]byte `json:"proof,omitempty"`
	Text   string   `json:"text,omitempty"`
	Signed []string `json:"signed,omitempty"`
}

// memory is an in-memory tlog.HashReader over stored hashes.
type memory []tlog.Hash

func (m memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func hash(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("a hash is %d bytes, not %d", tlog.HashSize, len(b))
	}
	copy(h[:], b)
	return h, nil
}

func hashes(bs [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		h, err := hash(b)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// build appends every leaf (record data) and returns the stored hashes.
func build(leaves [][]byte) (memory, error) {
	var m memory
	for i, data := range leaves {
		add, err := tlog.StoredHashes(int64(i), data, m)
		if err != nil {
			return nil, err
		}
		m = append(m, add...)
	}
	return m, nil
}

func run(r request) answer {
	fail := func(err error) answer { return answer{Error: err.Error()} }
	switch r.Op {
	case "record": // is leaf hash Leaf at Index in the tree (Size, Root)?
		th, err := hash(r.Root)
		if err != nil {
			return fail(err)
		}
		h, err := hash(r.Leaf)
		if err != nil {
			return fail(err)
		}
		p, err := hashes(r.Proof)
		if err != nil {
			return fail(err)
		}
		if err := tlog.CheckRecord(p, r.Size, th, r.Index, h); err != nil {
			return fail(err)
		}
		return answer{OK: true}
	case "tree": // is the tree (From, FromRoot) a prefix of (Size, Root)?
		th, err := hash(r.Root)
		if err != nil {
			return fail(err)
		}
		h, err := hash(r.FromRoot)
		if err != nil {
			return fail(err)
		}
		p, err := hashes(r.Proof)
		if err != nil {
			return fail(err)
		}
		if err := tlog.CheckTree(p, r.Size, th, r.From, h); err != nil {
			return fail(err)
		}
		return answer{OK: true}
	case "build": // the stored hashes and root of a tree of these leaves, and proofs when asked
		m, err := build(r.Leaves)
		if err != nil {
			return fail(err)
		}
		n := int64(len(r.Leaves))
		root, err := tlog.TreeHash(n, m)
		if err != nil {
			return fail(err)
		}
		a := answer{OK: true, Root: root[:]}
		for _, h := range m {
			a.Stored = append(a.Stored, append([]byte(nil), h[:]...))
		}
		return a
	case "prove-record":
		m, err := build(r.Leaves)
		if err != nil {
			return fail(err)
		}
		p, err := tlog.ProveRecord(r.Size, r.Index, m)
		if err != nil {
			return fail(err)
		}
		a := answer{OK: true}
		for _, h := range p {
			a.Proof = append(a.Proof, append([]byte(nil), h[:]...))
		}
		return a
	case "prove-tree":
		m, err := build(r.Leaves)
		if err != nil {
			return fail(err)
		}
		p, err := tlog.ProveTree(r.Size, r.From, m)
		if err != nil {
			return fail(err)
		}
		a := answer{OK: true}
		for _, h := range p {
			a.Proof = append(a.Proof, append([]byte(nil), h[:]...))
		}
		return a
	case "note": // open a signed note with these verifier keys
		var vs []note.Verifier
		for _, k := range r.Keys {
			v, err := note.NewVerifier(k)
			if err != nil {
				return fail(err)
			}
			vs = append(vs, v)
		}
		n, err := note.Open([]byte(r.Note), note.VerifierList(vs...))
		if err != nil {
			return fail(err)
		}
		a := answer{OK: true, Text: n.Text}
		for _, s := range n.Sigs {
			a.Signed = append(a.Signed, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return a
	case "sign": // sign Note (the text) with these signer keys
		var ss []note.Signer
		for _, k := range r.Keys {
			s, err := note.NewSigner(k)
			if err != nil {
				return fail(err)
			}
			ss = append(ss, s)
		}
		msg, err := note.Sign(&note.Note{Text: r.Note}, ss...)
		if err != nil {
			return fail(err)
		}
		return answer{OK: true, Text: string(msg)}
	case "keygen": // a signer key and its verifier key, as Go makes them
		skey, vkey, err := note.GenerateKey(nil, r.Note)
		if err != nil {
			return fail(err)
		}
		return answer{OK: true, Text: skey, Signed: []string{vkey}}
	}
	return fail(fmt.Errorf("unknown op %q", r.Op))
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "tlog-oracle:", err)
			os.Exit(2)
		}
		if err := out.Encode(run(r)); err != nil {
			os.Exit(1)
		}
	}
}

package trace

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// The concurrent traces of the editing-traces collection (its
// concurrent_traces folder: friendsforever, clownschool) record several
// users typing into one document at once. Each transaction is one user's
// edit made on the document as it was after its parent transactions:
//
//	{"kind": "concurrent", "endContent": "...", "numAgents": 2,
//	 "txns": [{"parents": [], "numChildren": 1, "agent": 0,
//	           "timestamp": "...", "patches": [[pos, ndel, "ins"], ...]}, ...]}
//
// No parents: the empty document. One parent: the document after it. Two
// or more: those states merged. The patches of a transaction apply in
// sequence, each to the result of the one before (positions in code
// points). A patch may carry a fourth element, its timestamp.

// FriendsForever and ClownSchool are the file names of the collection's
// two concurrent traces (two and three users, about 21 KB of text each;
// CC BY 4.0).
const (
	FriendsForever = "friendsforever.json.gz"
	ClownSchool    = "clownschool.json.gz"
)

// Concurrent is a loaded concurrent trace.
type Concurrent struct {
	End    string // the document after every transaction
	Agents int    // agents are numbered 0..Agents-1
	Txns   []Txn
}

// Txn is one transaction: an agent's patches on the state after Parents.
type Txn struct {
	Parents []int // indexes of earlier transactions; empty only for the first
	Agent   int
	Time    string // RFC 3339, as recorded (may be the epoch when unknown)
	Patches []Patch
}

// LoadConcurrent reads a concurrent trace, gzip'd or plain JSON, and
// checks it (Check).
func LoadConcurrent(path string) (*Concurrent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseConcurrent(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConcurrent reads a concurrent trace from r (gzip'd or not) and
// checks it.
func ParseConcurrent(r io.Reader) (*Concurrent, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		defer zr.Close()
		in = zr
	}
	var raw struct {
		Kind       string `json:"kind"`
		EndContent string `json:"endContent"`
		NumAgents  int    `json:"numAgents"`
		Txns       []struct {
			Parents   []int   `json:"parents"`
			Agent     int     `json:"agent"`
			Timestamp string  `json:"timestamp"`
			Patches   [][]any `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(in).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if raw.Kind != "concurrent" {
		return nil, fmt.Errorf("%w: kind %q, want \"concurrent\"", ErrFormat, raw.Kind)
	}
	c := &Concurrent{End: raw.EndContent, Agents: raw.NumAgents, Txns: make([]Txn, len(raw.Txns))}
	for i, rt := range raw.Txns {
		t := Txn{Parents: rt.Parents, Agent: rt.Agent, Time: rt.Timestamp, Patches: make([]Patch, 0, len(rt.Patches))}
		for j, elems := range rt.Patches {
			if len(elems) != 3 && len(elems) != 4 {
				return nil, fmt.Errorf("%w: txn %d patch %d has %d elements, want 3 or 4", ErrFormat, i, j, len(elems))
			}
			p, err := patchFrom([3]any(elems[:3]))
			if err != nil {
				return nil, fmt.Errorf("txn %d patch %d: %w", i, j, err)
			}
			t.Patches = append(t.Patches, p)
		}
		c.Txns[i] = t
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Check verifies the collection's rules that a replay relies on: the first
// transaction alone has no parents, parents point earlier, an agent's
// transactions are totally ordered (each one after the agent's previous
// one), agents are in range, and patches are valid UTF-8.
func (c *Concurrent) Check() error {
	if c.Agents < 1 {
		return fmt.Errorf("%w: %d agents", ErrFormat, c.Agents)
	}
	if len(c.Txns) == 0 {
		return fmt.Errorf("%w: no transactions", ErrFormat)
	}
	// last[a][i]: the latest transaction of agent a that txn i comes after
	// (itself included), -1 if none; checking an agent's order needs only
	// the parents' values.
	last := make([][]int, c.Agents)
	prev := make([]int, c.Agents) // each agent's latest transaction so far
	for a := range last {
		last[a] = make([]int, len(c.Txns))
		prev[a] = -1
	}
	for i, t := range c.Txns {
		if t.Agent < 0 || t.Agent >= c.Agents {
			return fmt.Errorf("%w: txn %d: agent %d of %d", ErrFormat, i, t.Agent, c.Agents)
		}
		if (i == 0) != (len(t.Parents) == 0) {
			return fmt.Errorf("%w: txn %d: %d parents (only the first has none)", ErrFormat, i, len(t.Parents))
		}
		for a := range last {
			last[a][i] = -1
		}
		for _, p := range t.Parents {
			if p < 0 || p >= i {
				return fmt.Errorf("%w: txn %d: parent %d is not earlier", ErrFormat, i, p)
			}
			for a := range last {
				last[a][i] = max(last[a][i], last[a][p])
			}
		}
		if p := prev[t.Agent]; p >= 0 && last[t.Agent][i] != p {
			return fmt.Errorf("%w: txn %d of agent %d is concurrent with its txn %d", ErrFormat, i, t.Agent, p)
		}
		last[t.Agent][i], prev[t.Agent] = i, i
		for j, p := range t.Patches {
			if !utf8.ValidString(p.Ins) {
				return fmt.Errorf("%w: txn %d patch %d: insert is not UTF-8", ErrFormat, i, j)
			}
		}
	}
	return nil
}

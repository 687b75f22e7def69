// Package trace finds and loads real text-editing traces (the editing-traces
// format of Joseph Gentle: gzip'd JSON with startContent, endContent and txns
// of [pos, ndel, ins] patches over Unicode code points) for tests and
// benchmarks. Load flattens a sequential trace into its patches;
// LoadConcurrent keeps a concurrent trace's agents, parents and
// transactions (see Concurrent).
//
// The traces live outside the module, in the shared data directory
// (../shared/data/traces relative to the module root) or wherever the
// C2C_TRACES environment variable points. Tests should t.Skip when Find
// returns ErrNotFound, since a fresh clone does not have them.
package trace

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AutomergePaper is the file name of the automerge-paper trace: the writing
// of "A Conflict-Free Replicated JSON Datatype" (Kleppmann & Beresford),
// recorded by Martin Kleppmann, redistributed by Joseph Gentle, CC BY 4.0.
const AutomergePaper = "automerge-paper.json.gz"

// EnvDir names the environment variable that may hold the traces directory.
const EnvDir = "C2C_TRACES"

var (
	// ErrNotFound: the trace file is in none of the searched places.
	ErrNotFound = errors.New("trace: file not found")
	// ErrFormat: the file is not a well-formed trace.
	ErrFormat = errors.New("trace: bad format")
)

// Patch is one edit: at code point Pos, delete Del code points, then insert
// Ins there.
type Patch struct {
	Pos, Del int
	Ins      string
}

// Trace is a loaded editing trace. Applying Patches in order to Start yields
// End.
type Trace struct {
	Start, End string
	Patches    []Patch // all patches of all transactions, in order
	Txns       int     // number of transactions the patches came in
}

// Find returns the path of the automerge-paper trace (see FindFile).
func Find() (string, error) { return FindFile(AutomergePaper) }

// FindFile looks for the named trace in $C2C_TRACES, then in
// ../shared/data/traces relative to the module root (the nearest directory
// at or above the working directory that holds a go.mod).
func FindFile(name string) (string, error) {
	var tried []string
	if dir := os.Getenv(EnvDir); dir != "" {
		p := filepath.Join(dir, name)
		if isFile(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isFile(filepath.Join(dir, "go.mod")) {
				p := filepath.Join(dir, "..", "shared", "data", "traces", name)
				if isFile(p) {
					return filepath.Clean(p), nil
				}
				tried = append(tried, filepath.Clean(p))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("%w: %s (set %s to the traces directory; tried %q)", ErrNotFound, name, EnvDir, tried)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Load reads a gzip'd JSON trace.
func Load(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
	}
	defer zr.Close()
	var raw struct {
		StartContent string `json:"startContent"`
		EndContent   string `json:"endContent"`
		Txns         []struct {
			// Decoding into [3]any is several times faster than a custom
			// UnmarshalJSON per patch.
			Patches [][3]any `json:"patches"`
		} `json:"txns"`
	}
	if err := json.NewDecoder(zr).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, path, err)
	}
	t := &Trace{Start: raw.StartContent, End: raw.EndContent, Txns: len(raw.Txns)}
	t.Patches = make([]Patch, 0, len(raw.Txns))
	for i, txn := range raw.Txns {
		for _, elems := range txn.Patches {
			p, err := patchFrom(elems)
			if err != nil {
				return nil, fmt.Errorf("%s: txn %d: %w", path, i, err)
			}
			t.Patches = append(t.Patches, p)
		}
	}
	return t, nil
}

// patchFrom converts a decoded [pos, ndel, "ins"] array.
func patchFrom(elems [3]any) (Patch, error) {
	pos, ok1 := elems[0].(float64)
	del, ok2 := elems[1].(float64)
	ins, ok3 := elems[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return Patch{}, fmt.Errorf("%w: patch %v is not [pos, ndel, \"ins\"]", ErrFormat, elems)
	}
	p := Patch{Pos: int(pos), Del: int(del), Ins: ins}
	if float64(p.Pos) != pos || float64(p.Del) != del || p.Pos < 0 || p.Del < 0 || pos > 1<<40 || del > 1<<40 {
		return Patch{}, fmt.Errorf("%w: bad patch numbers [%v, %v]", ErrFormat, pos, del)
	}
	return p, nil
}

// UnmarshalJSON reads a patch from its [pos, ndel, "ins"] array form.
func (p *Patch) UnmarshalJSON(b []byte) error {
	var elems []any
	if err := json.Unmarshal(b, &elems); err != nil {
		return fmt.Errorf("%w: patch: %w", ErrFormat, err)
	}
	if len(elems) != 3 {
		return fmt.Errorf("%w: patch has %d elements, want 3", ErrFormat, len(elems))
	}
	q, err := patchFrom([3]any(elems))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

package trace

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

func TestLoadConcurrentSmall(t *testing.T) {
	c, err := LoadConcurrent("testdata/concurrent.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Agents != 2 || len(c.Txns) != 5 || c.End != "howdy\nworld\n!?" {
		t.Fatalf("loaded %d agents, %d txns, end %q", c.Agents, len(c.Txns), c.End)
	}
	var agents []int
	for _, tx := range c.Txns {
		agents = append(agents, tx.Agent)
	}
	if !slices.Equal(agents, []int{0, 1, 0, 1, 0}) || !slices.Equal(c.Txns[4].Parents, []int{2, 3}) ||
		len(c.Txns[2].Patches) != 2 || c.Txns[3].Patches[0] != (Patch{Pos: 12, Ins: "!"}) ||
		c.Txns[0].Time != "2024-01-01T00:00:00+00:00" {
		t.Fatalf("txns %+v", c.Txns)
	}
	// Replay it with OT: txns 2 and 3 are concurrent on the state after
	// txn 1; merged, then txn 4, they give the end content.
	apply := func(base string, tx Txn) (string, ot.Op) {
		t.Helper()
		s, acc := base, ot.Op{}
		for i, p := range tx.Patches {
			op, err := ot.FromPatch(len([]rune(s)), p.Pos, p.Del, p.Ins)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = ot.ApplyString(s, op); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				acc = op
			} else if acc, err = ot.Compose(acc, op); err != nil {
				t.Fatal(err)
			}
		}
		return s, acc
	}
	s0, _ := apply("", c.Txns[0])
	s1, _ := apply(s0, c.Txns[1])
	s2, op2 := apply(s1, c.Txns[2])
	_, op3 := apply(s1, c.Txns[3])
	_, op3x, err := ot.Transform(op2, op3)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := ot.ApplyString(s2, op3x)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := apply(merged, c.Txns[4])
	if end != c.End {
		t.Fatalf("replayed %q, want %q", end, c.End)
	}

	// The same bytes gzip'd load the same.
	raw, err := os.ReadFile("testdata/concurrent.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	cz, err := ParseConcurrent(&gz)
	if err != nil || len(cz.Txns) != 5 || cz.End != c.End {
		t.Fatalf("gzip'd: %v", err)
	}
}

func TestParseConcurrentRejects(t *testing.T) {
	good := `{"kind": "concurrent", "endContent": "ab", "numAgents": 2, "txns": [
		{"parents": [], "agent": 0, "patches": [[0, 0, "a"]]},
		{"parents": [0], "agent": 1, "patches": [[1, 0, "b"]]}]}`
	if _, err := ParseConcurrent(strings.NewReader(good)); err != nil {
		t.Fatalf("good trace: %v", err)
	}
	for name, in := range map[string]string{
		"kind":             strings.Replace(good, `"concurrent"`, `"sequential"`, 1),
		"no agents":        strings.Replace(good, `"numAgents": 2`, `"numAgents": 0`, 1),
		"agent range":      strings.Replace(good, `"agent": 1`, `"agent": 2`, 1),
		"second root":      strings.Replace(good, `"parents": [0]`, `"parents": []`, 1),
		"parent not first": strings.Replace(good, `"parents": [0]`, `"parents": [1]`, 1),
		"patch shape":      strings.Replace(good, `[1, 0, "b"]`, `[1, 0]`, 1),
		"patch numbers":    strings.Replace(good, `[1, 0, "b"]`, `[1.5, 0, "b"]`, 1),
		"not json":         good[:40],
		"no txns":          `{"kind": "concurrent", "numAgents": 1, "txns": []}`,
		"agent concurrent with itself": `{"kind": "concurrent", "numAgents": 2, "txns": [
			{"parents": [], "agent": 0, "patches": [[0, 0, "a"]]},
			{"parents": [0], "agent": 0, "patches": [[1, 0, "b"]]},
			{"parents": [0], "agent": 0, "patches": [[1, 0, "c"]]}]}`,
	} {
		if _, err := ParseConcurrent(strings.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
}

// The collection's two real concurrent traces (CC BY 4.0), when present.
func TestLoadConcurrentReal(t *testing.T) {
	for _, name := range []string{FriendsForever, ClownSchool} {
		t.Run(name, func(t *testing.T) {
			path, err := FindFile(name)
			if errors.Is(err, ErrNotFound) {
				t.Skipf("trace not available (put %s in $%s or ../shared/data/traces): %v", name, EnvDir, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadConcurrent(path)
			if err != nil {
				t.Fatal(err)
			}
			merges, patches := 0, 0
			for _, tx := range c.Txns {
				if len(tx.Parents) > 1 {
					merges++
				}
				patches += len(tx.Patches)
			}
			t.Logf("%s: %d agents, %d txns (%d merges), %d patches, %d bytes of end content",
				name, c.Agents, len(c.Txns), merges, patches, len(c.End))
			if c.Agents < 2 || merges == 0 || c.End == "" {
				t.Fatalf("%d agents, %d merges", c.Agents, merges)
			}
		})
	}
}

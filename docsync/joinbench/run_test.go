package joinbench

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A short run of the bench's real path: both joins end in the same state,
// the snapshot join moves fewer bytes, and compaction shrinks the log. A
// second run loads the history from the cache the first one wrote and
// gives the same document.
func TestRunSmall(t *testing.T) {
	p := Params{Entries: 400, Tail: 20, KeepHistory: 50, Window: 64, SnapshotJoins: 3, Replay: true,
		HistoryCache: filepath.Join(t.TempDir(), "history")}
	var first *Result
	for i := range 2 {
		r, err := Run(p, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Identical || r.Entries != 400 || r.TailEntries != 20 || r.SnapshotBytes >= r.ReplayBytes ||
			r.LogBytesAfter >= r.LogBytesBefore || r.SnapshotBytes <= int64(r.SnapshotSize) || len(r.SnapshotMsRuns) != 3 {
			t.Fatalf("run %d: %+v", i, r)
		}
		if first == nil {
			first = r
		} else if r.TextRunes != first.TextRunes || r.SnapshotSeq != first.SnapshotSeq || r.LogBytesBefore != first.LogBytesBefore {
			t.Fatalf("from the cache: %+v, built: %+v", r, first)
		}
	}
	// A cache made with other parameters is refused, not used.
	p.Tail = 21
	if _, err := Run(p, io.Discard); err == nil {
		t.Fatal("a cache of another tail was used")
	}
	if _, err := os.Stat(p.HistoryCache); err != nil {
		t.Fatal(err)
	}
}

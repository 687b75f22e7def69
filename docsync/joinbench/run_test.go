package joinbench

import (
	"io"
	"testing"
)

// A short run of the bench's real path: both joins end in the same state,
// the snapshot join moves fewer bytes, and compaction shrinks the log.
func TestRunSmall(t *testing.T) {
	r, err := Run(Params{Entries: 400, Tail: 20, KeepHistory: 50, Window: 64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Identical || r.Entries != 400 || r.TailEntries != 20 || r.SnapshotBytes >= r.ReplayBytes ||
		r.LogBytesAfter >= r.LogBytesBefore || r.SnapshotBytes <= int64(r.SnapshotSize) {
		t.Fatalf("%+v", r)
	}
}

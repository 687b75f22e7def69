package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func testStateFile(t *testing.T) *stateFile {
	t.Helper()
	c := &Client{stateDir: t.TempDir()}
	return c.openStateFile("doc")
}

func TestStateLogNewestWins(t *testing.T) {
	sf := testStateFile(t)
	for i := range 5 {
		if err := sf.write(fmt.Appendf(nil, "state %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(sf.snap); err != nil {
		t.Fatalf("the first write made no snapshot: %v", err)
	}
	if sf.size == 0 {
		t.Fatal("later writes were not appended to the log")
	}
	sf.close()
	again := &stateFile{snap: sf.snap, logPath: sf.logPath}
	got, err := again.load()
	if err != nil || string(got) != "state 4" {
		t.Fatalf("load = %q, %v; want the last state written", got, err)
	}
	// Loading moved the newest state into the snapshot and emptied the log.
	if snap, _ := os.ReadFile(sf.snap); string(snap) != "state 4" {
		t.Fatalf("snapshot after load = %q", snap)
	}
	if st, err := os.Stat(sf.logPath); err != nil || st.Size() != 0 {
		t.Fatalf("log after load: %v, %v; want empty", st, err)
	}
}

// A kill while a record was being appended leaves a torn tail: the state
// before it is loaded, and what is written next is not lost behind it.
func TestStateLogTornTail(t *testing.T) {
	sf := testStateFile(t)
	for _, s := range []string{"one", "two"} {
		if err := sf.write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	sf.close()
	torn := appendRecord(nil, []byte("three, never acknowledged"))
	f, err := os.OpenFile(sf.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn[:len(torn)-3]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	again := &stateFile{snap: sf.snap, logPath: sf.logPath}
	if got, err := again.load(); err != nil || string(got) != "two" {
		t.Fatalf("load = %q, %v; want %q", got, err, "two")
	}
	if err := again.write([]byte("four")); err != nil {
		t.Fatal(err)
	}
	again.close()
	third := &stateFile{snap: sf.snap, logPath: sf.logPath}
	if got, err := third.load(); err != nil || string(got) != "four" {
		t.Fatalf("after the torn tail, load = %q, %v; want %q", got, err, "four")
	}
}

// A log that outgrows maxLog is compacted into the snapshot; after a kill
// between the snapshot and the truncation, the log's last record is the
// snapshot's state.
func TestStateLogCompacts(t *testing.T) {
	sf := testStateFile(t)
	big := bytes.Repeat([]byte("x"), minLog/3)
	for i := range 6 {
		if err := sf.write(append(big, byte('0'+i))); err != nil {
			t.Fatal(err)
		}
		if sf.size > maxLog(len(big)+1) {
			t.Fatalf("write %d: log of %d bytes, over its bound %d", i, sf.size, maxLog(len(big)+1))
		}
	}
	sf.close()
	got, err := (&stateFile{snap: sf.snap, logPath: sf.logPath}).load()
	if err != nil || !bytes.Equal(got, append(big, '5')) {
		t.Fatalf("load after compactions: %d bytes ending %q, %v", len(got), got[len(got)-1:], err)
	}
}

func TestStateLogIgnoresForeignFiles(t *testing.T) {
	dir := t.TempDir()
	sf := (&Client{stateDir: dir}).openStateFile("doc")
	if got, err := sf.load(); err != nil || got != nil {
		t.Fatalf("load of nothing = %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "doc.log"), make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := sf.load(); err != nil || got != nil {
		t.Fatalf("load of a zeroed log = %q, %v; want none", got, err)
	}
}

// lastRecord reads disk data: it never panics and returns a body of the
// log it was given, the valid prefix being whole records.
func FuzzLastRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendRecord(nil, []byte("state")))
	f.Add(appendRecord(appendRecord(nil, []byte("a")), []byte("bb")))
	f.Add(appendRecord(nil, []byte("state"))[:9])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		last, valid := lastRecord(b)
		if valid < 0 || valid > len(b) {
			t.Fatalf("valid prefix %d of %d bytes", valid, len(b))
		}
		if (last == nil) != (valid == 0) {
			t.Fatalf("last %q with valid prefix %d", last, valid)
		}
		if last != nil {
			if !bytes.HasSuffix(b[:valid], last) {
				t.Fatal("the last body does not end the valid prefix")
			}
			re, n := lastRecord(b[:valid])
			if n != valid || !bytes.Equal(re, last) {
				t.Fatal("the valid prefix does not read back the same")
			}
		}
	})
}

// An append that failed part way (a full disk) is cut off before the next
// one, so that one is found on load.
func TestStateLogCutsAFailedAppend(t *testing.T) {
	sf := testStateFile(t)
	for _, s := range []string{"one", "two"} {
		if err := sf.write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// What a failed append leaves: part of a record after the last synced one.
	part := appendRecord(nil, []byte("three, failed"))
	if _, err := sf.log.Write(part[:5]); err != nil {
		t.Fatal(err)
	}
	sf.torn = true
	if err := sf.write([]byte("four")); err != nil {
		t.Fatal(err)
	}
	sf.close()
	if got, err := (&stateFile{snap: sf.snap, logPath: sf.logPath}).load(); err != nil || string(got) != "four" {
		t.Fatalf("load = %q, %v; want %q", got, err, "four")
	}
}

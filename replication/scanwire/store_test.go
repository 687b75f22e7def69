package scanwire

import (
	"context"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
)

// Add validates before it writes: a bad file leaves the stored database
// as it was; a good one bumps the version; a stored file that no longer
// matches its manifest is refused on load.
func TestStoreAdd(t *testing.T) {
	ctx := context.Background()
	key, id := newKey(t)
	ds := memDS()
	s := NewStore(ds)
	if m, files, err := s.Load(ctx); m != nil || files != nil || err != nil {
		t.Fatalf("empty store: %v %v %v", m, files, err)
	}
	m, err := s.Add(ctx, key, []SigFile{{"dir/a.ndb", []byte("A:0:*:41424344\n")}})
	if err != nil || m.Version != 1 || m.BodySigs != 2 || m.Files[0].Name != "a.ndb" {
		t.Fatalf("first add: %+v, %v", m, err)
	}
	var pe *scan.ParseError
	if _, err := s.Add(ctx, key, []SigFile{{"b.ndb", []byte("B:0:*:41424344\nbad line\n")}}); !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := s.Add(ctx, key, []SigFile{{"c.txt", []byte("x")}}); !errors.Is(err, scan.ErrFormat) {
		t.Fatalf("unknown type: %v", err)
	}
	m, files, err := s.Load(ctx)
	if err != nil || m.Version != 1 || len(files) != 1 || m.Verify(id) != nil {
		t.Fatalf("after refused adds: %+v, %d files, %v", m, len(files), err)
	}
	// The same name replaces; another adds.
	m, err = s.Add(ctx, key, []SigFile{{"a.ndb", []byte("A2:0:*:45464748\nA3:0:*:494a4b4c\n")}, {"x.hdb", []byte("44d88612fea8a8f36de82e1278abb02f:68:Eicar.Md5\n")}})
	if err != nil || m.Version != 2 || m.BodySigs != 3 || m.HashSigs != 1 || len(m.Files) != 2 {
		t.Fatalf("second add: %+v, %v", m, err)
	}
	if err := ds.Put(ctx, sigFilePrefix.ChildString("x.hdb"), []byte("tampered")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a tampered stored file loaded: %v", err)
	}
}

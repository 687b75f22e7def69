package table_test

import (
	"fmt"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/table"
)

func TestRootExportImport(t *testing.T) {
	a := table.New('T', 16)
	for i := range 200 {
		if err := a.Put(fmt.Sprintf("k%d", i%70), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			a.Delete(fmt.Sprintf("k%d", i%50))
		}
	}
	st := replication.NewMemStore()
	m, err := a.Export(st)
	if err != nil || m.Root() != a.Root() {
		t.Fatalf("export: %v", err)
	}
	b := table.New('T', 16)
	if err := b.Import(m, st, nil); err != nil || b.Root() != a.Root() || b.Len() != a.Len() {
		t.Fatalf("import: %v", err)
	}
	if err := a.Put("", nil); err == nil {
		t.Fatal("an empty key was taken")
	}
}

func FuzzDecode(f *testing.F) {
	a := table.New('T', 4)
	_ = a.Put("x", []byte("y"))
	st := replication.NewMemStore()
	m, _ := a.Export(st)
	for _, h := range m {
		if b, err := st.Get(h); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, c []byte) {
		n := 0
		_ = table.New('T', 4).Decode(c, -1, func(string, []byte) error { n++; return nil })
	})
}

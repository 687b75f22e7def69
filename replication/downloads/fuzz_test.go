package downloads_test

import (
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/downloads"
)

func FuzzUnmarshalCached(f *testing.F) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	f.Add((&downloads.Cached{ID: [32]byte{1}, Try: 1, Ref: ref, Verdict: downloads.Verdict{Infected: true, Name: "n", By: "body", DBVersion: 1}}).Marshal())
	f.Add((&downloads.Cached{ID: [32]byte{2}, Try: 2, Reason: "HTTP 404"}).Marshal())
	f.Add([]byte{'c'})
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := downloads.UnmarshalCached(p)
		if err != nil {
			return
		}
		back, err := downloads.UnmarshalCached(c.Marshal())
		if err != nil || *back != *c {
			t.Fatalf("re-encoding: %+v %v", back, err)
		}
	})
}

// FuzzApply: any user or network input either applies or leaves the state
// as it was; after a request, the list still decodes.
func FuzzApply(f *testing.F) {
	ref, _ := boxostore.NewMem().Add([]byte("hello"))
	id := downloads.ID(replication.DeviceID{}, 1, 1)
	f.Add(downloads.Request("https://example.com/a", downloads.Manual), false)
	f.Add(downloads.Pulled(id), true)
	f.Add(downloads.Retry(id), true)
	f.Add(downloads.Forget(id), true)
	f.Add((&downloads.Cached{ID: id, Try: 1, Ref: ref}).Marshal(), false)
	f.Add((&downloads.Cached{ID: id, Try: 1, Reason: "x"}).Marshal(), false)
	f.Fuzz(func(t *testing.T, p []byte, user bool) {
		a := downloads.New(boxostore.NewMem())
		if _, err := a.Apply(&replication.Event{Source: replication.User, Epoch: 1, Seq: 1,
			Payload: downloads.Request("https://example.com/a", downloads.Now)}); err != nil {
			t.Fatal(err)
		}
		src := replication.Network
		if user {
			src = replication.User
		}
		before := a.Root()
		if _, err := a.Apply(&replication.Event{Source: src, Epoch: 1, Seq: 2, Payload: p}); err != nil && a.Root() != before {
			t.Fatal("a refused input changed the state")
		}
		for _, it := range a.List() {
			if _, ok := a.Get(it.ID); !ok {
				t.Fatal("a listed item does not decode")
			}
		}
	})
}

package outbox_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
)

func request(t testing.TB, store *boxostore.Store) *outbox.Request {
	ref, err := store.Add([]byte("the file"))
	if err != nil {
		t.Fatal(err)
	}
	return &outbox.Request{To: []outbox.Recipient{{User: []byte("bob")}, {User: []byte("carol"), Device: "tablet"}},
		Text: "see attached", Files: []inbox.Attached{{Name: "f.txt", Ref: ref}}}
}

func TestRecordAndOutput(t *testing.T) {
	store := boxostore.NewMem()
	q := request(t, store)
	p := q.Marshal()
	back, err := outbox.UnmarshalRequest(p)
	if err != nil || !bytes.Equal(back.Marshal(), p) {
		t.Fatalf("round trip: %v", err)
	}
	dev, mir := outbox.New(store), outbox.New(boxostore.NewMem())
	ev := replication.Event{Device: replication.DeviceID{7}, Epoch: 1, Seq: 9, Time: 1000, Source: replication.User, Payload: p}
	var ids [][]byte
	for _, a := range []*outbox.App{dev, mir} {
		outs, err := a.Apply(&ev)
		if err != nil || len(outs) != 1 || outs[0].Kind != outbox.OutputSend {
			t.Fatalf("apply: %v %v", outs, err)
		}
		ids = append(ids, outs[0].Data)
	}
	id := outbox.ID(ev.Device, 1, 9)
	if !bytes.Equal(ids[0], id[:]) || !bytes.Equal(ids[1], id[:]) || dev.Root() != mir.Root() {
		t.Fatal("device and mirror disagree")
	}
	s, ok := mir.Get(id)
	if !ok || s.Time != 1000 || len(s.To) != 2 || s.Files[0].Ref != q.Files[0].Ref {
		t.Fatalf("recorded %+v", s)
	}
	if _, err := dev.Apply(&replication.Event{Source: replication.Network, Payload: p}); !errors.Is(err, outbox.ErrBadOp) {
		t.Fatalf("a network input: %v", err)
	}
	if _, err := outbox.UnmarshalRequest((&outbox.Request{}).Marshal()); !errors.Is(err, outbox.ErrBadOp) {
		t.Fatalf("no recipients: %v", err)
	}
}

func FuzzUnmarshalRequest(f *testing.F) {
	f.Add(request(f, boxostore.NewMem()).Marshal())
	f.Add([]byte{'s', 1, 1, 'b', 0, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		q, err := outbox.UnmarshalRequest(p)
		if err == nil {
			if _, err := outbox.UnmarshalRequest(q.Marshal()); err != nil {
				t.Fatalf("re-encoding does not decode: %v", err)
			}
		}
	})
}

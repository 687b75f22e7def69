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

// TestDeliveryStatus: the clone's status inputs record each recipient
// device's state; a status of an unknown request or recipient is refused;
// the list of requests is not confused by status records.
func TestDeliveryStatus(t *testing.T) {
	store := boxostore.NewMem()
	a := outbox.New(store)
	ev := replication.Event{Device: replication.DeviceID{7}, Epoch: 1, Seq: 9, Time: 1000, Source: replication.User, Payload: request(t, store).Marshal()}
	if _, err := a.Apply(&ev); err != nil {
		t.Fatal(err)
	}
	id := outbox.ID(ev.Device, 1, 9)
	netIn := func(p []byte) error {
		_, err := a.Apply(&replication.Event{Source: replication.Network, Payload: p})
		return err
	}
	if err := netIn(outbox.Status(id, 0, "phone", outbox.Delivered, "")); err != nil {
		t.Fatal(err)
	}
	if err := netIn(outbox.Status(id, 1, "tablet", outbox.Refused, "not the recipient")); err != nil {
		t.Fatal(err)
	}
	root := a.Root()
	if err := netIn(outbox.Status(id, 0, "phone", outbox.Delivered, "")); err != nil || a.Root() != root {
		t.Fatalf("a repeated status changed the state: %v", err)
	}
	for name, p := range map[string][]byte{
		"unknown request":   outbox.Status([32]byte{1}, 0, "phone", outbox.Delivered, ""),
		"unknown recipient": outbox.Status(id, 2, "phone", outbox.Delivered, ""),
		"bad state":         outbox.Status(id, 0, "phone", 9, ""),
		"garbage":           {'t', 1},
	} {
		if err := netIn(p); !errors.Is(err, outbox.ErrBadOp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ds := a.Deliveries(id)
	if len(ds) != 2 || ds[0] != (outbox.Delivery{To: 0, Device: "phone", State: outbox.Delivered}) ||
		ds[1].State != outbox.Refused || ds[1].Reason != "not the recipient" {
		t.Fatalf("deliveries %+v", ds)
	}
	if l := a.List(); len(l) != 1 || l[0].ID != id {
		t.Fatalf("list %+v", l)
	}
	if _, err := a.Export(replication.NewMemStore()); err != nil {
		t.Fatal(err)
	}
}

// FuzzApply: a refused input, a user's request or the clone's status,
// leaves the outbox as it was.
func FuzzApply(f *testing.F) {
	store := boxostore.NewMem()
	req := request(f, store).Marshal()
	ev := replication.Event{Device: replication.DeviceID{7}, Epoch: 1, Seq: 9, Time: 1000, Source: replication.User, Payload: req}
	id := outbox.ID(ev.Device, 1, 9)
	f.Add(outbox.Status(id, 0, "phone", outbox.Delivered, ""), false)
	f.Add(outbox.Status(id, 1, "tablet", outbox.Refused, "no"), false)
	f.Add(req, true)
	f.Fuzz(func(t *testing.T, p []byte, user bool) {
		a := outbox.New(store)
		if _, err := a.Apply(&ev); err != nil {
			t.Fatal(err)
		}
		src := replication.Network
		if user {
			src = replication.User
		}
		before := a.Root()
		if _, err := a.Apply(&replication.Event{Source: src, Device: ev.Device, Epoch: 1, Seq: 10, Payload: p}); err != nil && a.Root() != before {
			t.Fatal("a refused input changed the state")
		}
		for _, d := range a.Deliveries(id) {
			if d.State != outbox.Delivered && d.State != outbox.Refused {
				t.Fatalf("status %+v", d)
			}
		}
	})
}

package inbox_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/inbox"
)

func msg(id byte, attach []byte) *inbox.Message {
	m := &inbox.Message{ID: [32]byte{id}, From: []byte("alice"), FromDevice: "phone", To: []byte("bob"), Sent: 42, Text: "hi"}
	if attach != nil {
		m.Files = []inbox.Attachment{{Name: "a.bin", Data: attach}}
	}
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	m := msg(1, []byte("data"))
	p := m.Marshal()
	back, err := inbox.UnmarshalMessage(p)
	if err != nil || !bytes.Equal(back.Marshal(), p) || back.Size() < len(p) {
		t.Fatalf("round trip: %v (size %d, encoding %d)", err, back.Size(), len(p))
	}
	for name, bad := range map[string]*inbox.Message{
		"no sender":    {ID: m.ID, To: []byte("b")},
		"long text":    {ID: m.ID, From: []byte("a"), To: []byte("b"), Text: strings.Repeat("x", inbox.MaxTextBytes+1)},
		"unnamed file": {ID: m.ID, From: []byte("a"), To: []byte("b"), Files: []inbox.Attachment{{}}},
	} {
		if _, err := inbox.UnmarshalMessage(bad.Marshal()); !errors.Is(err, inbox.ErrBadMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := inbox.UnmarshalMessage(make([]byte, inbox.MaxMessageBytes+1)); !errors.Is(err, inbox.ErrBadMessage) {
		t.Errorf("oversized: %v", err)
	}
}

func net(a *inbox.App, seq uint64, p []byte) ([]replication.Output, error) {
	return a.Apply(&replication.Event{Source: replication.Network, NetSeq: seq, Time: replication.Time(seq), Payload: p})
}

// TestReceiveOnceAndExport: a message is kept once however often it
// arrives; its attachment is a blob with its SHA-256; the state exports and
// imports into a fresh store.
func TestReceiveOnceAndExport(t *testing.T) {
	store := boxostore.NewMem()
	a := inbox.New(store)
	data := bytes.Repeat([]byte("attachment"), 30000)
	outs, err := net(a, 1, msg(1, data).Marshal())
	if err != nil || len(outs) != 1 || outs[0].Kind != inbox.OutputMessage {
		t.Fatalf("first delivery: %v %v", outs, err)
	}
	root := a.Root()
	if outs, err := net(a, 2, msg(1, data).Marshal()); err != nil || len(outs) != 0 || a.Root() != root {
		t.Fatalf("second delivery changed the inbox: %v %v", outs, err)
	}
	items := a.List()
	if len(items) != 1 || items[0].Files[0].Ref.SHA256 != sha256.Sum256(data) || items[0].NetSeq != 1 {
		t.Fatalf("items %+v", items)
	}
	got, err := a.ReadFile(items[0].Files[0])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("attachment: %v", err)
	}
	exp := replication.NewMemStore()
	man, err := a.Export(exp)
	if err != nil {
		t.Fatal(err)
	}
	fresh := inbox.New(boxostore.NewMem())
	if err := fresh.Import(man, exp); err != nil || fresh.Root() != root {
		t.Fatalf("import: %v", err)
	}
	if got, err := fresh.ReadFile(fresh.List()[0].Files[0]); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("imported attachment: %v", err)
	}
	if _, err := a.Apply(&replication.Event{Source: replication.User, Payload: inbox.Delete(items[0].Key)}); err != nil || len(a.List()) != 0 {
		t.Fatalf("delete: %v", err)
	}
	if _, err := a.Apply(&replication.Event{Source: replication.User, Payload: inbox.Delete("nope")}); !errors.Is(err, inbox.ErrBadOp) {
		t.Fatalf("delete of nothing: %v", err)
	}
}

func FuzzUnmarshalMessage(f *testing.F) {
	f.Add(msg(1, []byte("x")).Marshal())
	linked := msg(3, nil)
	ref, _ := boxostore.NewMem().Add([]byte("l"))
	linked.Linked = []inbox.Attached{{Name: "l", Ref: ref}}
	f.Add(linked.Marshal())
	f.Add([]byte{'M'})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := inbox.UnmarshalMessage(p)
		if err == nil {
			if _, err := inbox.UnmarshalMessage(m.Marshal()); err != nil {
				t.Fatalf("re-encoding does not decode: %v", err)
			}
		}
	})
}

func FuzzApply(f *testing.F) {
	f.Add(msg(1, []byte("x")).Marshal(), false)
	f.Add(inbox.Delete("k"), true)
	f.Fuzz(func(t *testing.T, p []byte, user bool) {
		a := inbox.New(boxostore.NewMem())
		src := replication.Network
		if user {
			src = replication.User
		}
		before := a.Root()
		if _, err := a.Apply(&replication.Event{Source: src, Payload: p}); err != nil && a.Root() != before {
			t.Fatal("a refused input changed the state")
		}
	})
}

// TestLinkedFiles: a message naming a file by reference applies without
// its blocks (the device pulls them later), keeps the same record on a
// store that holds them, exports without them, and reads once pulled.
func TestLinkedFiles(t *testing.T) {
	data := bytes.Repeat([]byte("linked"), 100000)
	ref, _ := boxostore.NewMem().Add(data)
	m := msg(2, nil)
	m.Linked = []inbox.Attached{{Name: "big.bin", Ref: ref}}
	p := m.Marshal()
	back, err := inbox.UnmarshalMessage(p)
	if err != nil || !bytes.Equal(back.Marshal(), p) || p[0] != 'L' || back.Linked[0].Ref != ref {
		t.Fatalf("round trip: %v", err)
	}
	if plain := msg(2, []byte("x")).Marshal(); plain[0] != 'M' {
		t.Fatal("a message without linked files changed format")
	}
	dev, mir := boxostore.NewMem(), boxostore.NewMem()
	if _, err := mir.Add(data); err != nil {
		t.Fatal(err)
	}
	a, b := inbox.New(dev), inbox.New(mir)
	for _, x := range []*inbox.App{a, b} {
		if _, err := net(x, 1, p); err != nil {
			t.Fatal(err)
		}
	}
	if a.Root() != b.Root() {
		t.Fatal("the record depends on whether the blocks are held")
	}
	f := a.List()[0].Files[0]
	if a.Held(f) || !b.Held(f) {
		t.Fatal("Held")
	}
	if _, err := a.ReadFile(f); !errors.Is(err, replication.ErrChunkNotFound) {
		t.Fatalf("read before the pull: %v", err)
	}
	if _, err := a.Export(replication.NewMemStore()); err != nil {
		t.Fatalf("export without the linked blocks: %v", err)
	}
	if _, err := dev.Add(data); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ReadFile(f); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the pull: %v", err)
	}
}

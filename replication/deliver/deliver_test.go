package deliver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/deliver"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type memDir = deliver.MemDirectory

// fakeMirror holds an app set and records what is relayed to it.
type fakeMirror struct {
	mu      sync.Mutex
	set     *replication.AppSet
	relayed [][]byte
}

func (m *fakeMirror) Relay(_ context.Context, app string, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.relayed = append(m.relayed, append([]byte(nil), p...))
	return nil
}

func (m *fakeMirror) View(_ context.Context, f func(*replication.AppSet)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.set)
	return nil
}

func (m *fakeMirror) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.relayed)
}

type clone struct {
	user  crypto.PrivKey
	uid   peer.ID
	h     host.Host
	cert  *dht.OwnerCert
	ds    datastore.Batching
	blobs *boxostore.Store
	m     *fakeMirror
}

func newClone(t *testing.T, dir *memDir, device string) *clone {
	c := &clone{ds: dssync.MutexWrap(datastore.NewMapDatastore())}
	var err error
	if c.user, _, err = crypto.GenerateEd25519Key(nil); err != nil {
		t.Fatal(err)
	}
	c.uid, _ = peer.IDFromPrivateKey(c.user)
	c.h, err = libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.h.Close() })
	devKey, _, _ := crypto.GenerateEd25519Key(nil)
	devID, _ := peer.IDFromPrivateKey(devKey)
	_, hpke, _ := dht.GenerateHPKEKey()
	c.cert, err = dht.SignOwnerCert(c.user, dht.OwnerCert{Device: device, DeviceKey: devID, Clone: c.h.ID(),
		CloneHPKE: hpke, Seq: 1, EOL: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.blobs = boxostore.NewMem()
	reg := replication.NewRegistry()
	_ = outbox.Register(reg, c.blobs)
	_ = inbox.Register(reg, c.blobs)
	set, err := replication.NewAppSet(reg, outbox.Name, inbox.Name)
	if err != nil {
		t.Fatal(err)
	}
	c.m = &fakeMirror{set: set}
	dir.Add(c.cert, peer.AddrInfo{ID: c.h.ID(), Addrs: c.h.Addrs()})
	return c
}

func newDir() *memDir { return deliver.NewMemDirectory() }

var fast = func() deliver.Params {
	p := deliver.DefaultParams()
	p.RetryMin, p.RetryMax, p.StreamTimeout, p.Parallel = 10*time.Millisecond, 100*time.Millisecond, 5*time.Second, 4
	return p
}()

func (c *clone) service(t *testing.T, dir *memDir, ds datastore.Batching) *deliver.Service {
	s, err := deliver.New(c.h, ds, c.cert, c.blobs, dir, deliver.WithParams(fast), deliver.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// The clone's blob server, which lets recipients pull linked files.
	bx, err := blobxfer.New(c.h, c.blobs, c.cert, blobxfer.WithAuthorizer(s.Authorize), blobxfer.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bx.Close() })
	return s
}

// send records a request in c's outbox, as a replay would.
func (c *clone) send(t *testing.T, to *clone, text string, file []byte) [32]byte {
	ref, err := c.blobs.Add(file)
	if err != nil {
		t.Fatal(err)
	}
	q := outbox.Request{To: []outbox.Recipient{{User: []byte(to.uid)}}, Text: text, Files: []inbox.Attached{{Name: "f.bin", Ref: ref}}}
	a, _ := c.m.set.App(outbox.Name)
	ev := replication.Event{Device: replication.DeviceID{1}, Epoch: 1, Seq: 5, Time: 77, Source: replication.User, App: outbox.Name, Payload: q.Marshal()}
	if _, err := a.Apply(&ev); err != nil {
		t.Fatal(err)
	}
	return outbox.ID(ev.Device, 1, 5)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// TestDeliveryRetriedAndDeduplicated: the recipient is not serving yet, so
// the first attempts fail and are retried; once it serves, the message is
// relayed into its mirror as an inbox input. A sender that lost its
// records delivers again, and the recipient acknowledges a duplicate
// without relaying it twice.
func TestDeliveryRetriedAndDeduplicated(t *testing.T) {
	dir := newDir()
	alice, bob := newClone(t, dir, "phone"), newClone(t, dir, "phone")
	file := bytes.Repeat([]byte("x"), 100<<10)
	id := alice.send(t, bob, "hello bob", file)

	as := alice.service(t, dir, alice.ds)
	as.Start(alice.m)
	waitFor(t, "a failed attempt", func() bool { return as.Stats().Attempts >= 2 })
	bs := bob.service(t, dir, bob.ds)
	bs.Start(bob.m)
	waitFor(t, "the delivery", func() bool { return as.Stats().Sent == 1 && bob.m.count() == 1 })
	if st := as.Stats(); st.Retries < 1 || st.Pending != 0 {
		t.Fatalf("sender stats %+v", st)
	}
	m, err := inbox.UnmarshalMessage(bob.m.relayed[0])
	if err != nil || m.ID != id || !bytes.Equal(m.From, []byte(alice.uid)) || m.Text != "hello bob" || len(m.Files) != 0 || len(m.Linked) != 1 {
		t.Fatalf("relayed %+v, %v", m, err)
	}
	// The file went by reference; bob's clone pulled it before relaying.
	if got, err := bob.blobs.Read(m.Linked[0].Ref); err != nil || !bytes.Equal(got, file) || bs.Stats().PulledBytes != uint64(len(file)) {
		t.Fatalf("bob's copy of the linked file: %v (pulled %d)", err, bs.Stats().PulledBytes)
	}
	// Alice's mirror heard that bob's phone got it.
	if alice.m.count() != 1 {
		t.Fatalf("status inputs relayed to alice's mirror: %d", alice.m.count())
	}

	as.Close()
	again := alice.service(t, dir, dssync.MutexWrap(datastore.NewMapDatastore()))
	again.Start(alice.m)
	waitFor(t, "the second delivery", func() bool { return again.Stats().Sent == 1 })
	if bob.m.count() != 1 || bs.Stats().Duplicates != 1 || bs.Stats().Received != 1 {
		t.Fatalf("recipient relayed %d, stats %+v", bob.m.count(), bs.Stats())
	}
}

// rawFrames writes frames on a fresh delivery stream from h to to and returns the answer.
func rawFrames(t *testing.T, h host.Host, to *clone, frames ...[]byte) error {
	h.Peerstore().AddAddrs(to.h.ID(), to.h.Addrs(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := h.NewStream(ctx, to.h.ID(), deliver.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	for _, f := range frames {
		if _, err := st.Write(f); err != nil {
			break
		}
	}
	_ = st.CloseWrite()
	r := bufio.NewReader(st)
	code, err := r.ReadByte()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := binary.ReadUvarint(r)
	reason := make([]byte, n)
	_, _ = io.ReadFull(r, reason)
	return (&deliver.Refusal{Code: code, Reason: string(reason)}).Unwrap()
}

func frame(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

// TestRefusals: a forged sender, another user's certificate, a message for
// someone else and oversized frames are each refused with their own error,
// and nothing is relayed or persisted.
func TestRefusals(t *testing.T) {
	dir := newDir()
	alice, bob, mallory := newClone(t, dir, "phone"), newClone(t, dir, "phone"), newClone(t, dir, "phone")
	carol := newClone(t, dir, "phone")
	bs := bob.service(t, dir, bob.ds)
	bs.Start(bob.m)
	msg := func(from, to peer.ID) []byte {
		return (&inbox.Message{ID: [32]byte{9}, From: []byte(from), To: []byte(to), Text: "hi"}).Marshal()
	}
	aliceCert, _ := alice.cert.Marshal()
	ctx := context.Background()
	bobAddr := peer.AddrInfo{ID: bob.h.ID(), Addrs: bob.h.Addrs()}
	cases := []struct {
		name string
		err  error
		run  func() error
	}{
		{"forged sender", deliver.ErrForgedSender, func() error {
			_, err := deliver.Deliver(ctx, mallory.h, mallory.cert, bobAddr, msg(alice.uid, bob.uid), 5*time.Second)
			return err
		}},
		{"another user's certificate", deliver.ErrBadCert, func() error {
			return rawFrames(t, mallory.h, bob, frame(aliceCert), frame(msg(alice.uid, bob.uid)))
		}},
		{"not the recipient", deliver.ErrNotRecipient, func() error {
			_, err := deliver.Deliver(ctx, alice.h, alice.cert, bobAddr, msg(alice.uid, carol.uid), 5*time.Second)
			return err
		}},
		{"oversized message", deliver.ErrTooLarge, func() error {
			return rawFrames(t, alice.h, bob, frame(aliceCert), binary.AppendUvarint(nil, inbox.MaxMessageBytes+1))
		}},
		{"oversized certificate", deliver.ErrTooLarge, func() error {
			return rawFrames(t, alice.h, bob, binary.AppendUvarint(nil, deliver.MaxCertBytes+1))
		}},
		{"garbage certificate", deliver.ErrBadCert, func() error {
			return rawFrames(t, alice.h, bob, frame([]byte("not a cert")))
		}},
		{"garbage message", deliver.ErrMalformed, func() error {
			return rawFrames(t, alice.h, bob, frame(aliceCert), frame([]byte("M")))
		}},
	}
	all := []error{deliver.ErrForgedSender, deliver.ErrBadCert, deliver.ErrNotRecipient, deliver.ErrTooLarge, deliver.ErrMalformed}
	for _, c := range cases {
		err := c.run()
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
		for _, other := range all {
			if other != c.err && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", c.name, err, other)
			}
		}
	}
	res, _ := bob.ds.Query(ctx, query.Query{Prefix: deliver.Namespace})
	kept, _ := res.Rest()
	if bob.m.count() != 0 || len(kept) != 0 || bs.Stats().Refused != uint64(len(cases)) {
		t.Fatalf("after refusals: %d relayed, %d records, stats %+v", bob.m.count(), len(kept), bs.Stats())
	}
}

// TestBlobsServedToRecipientsOnly: the sender's clone serves a linked file
// to the clone of a recipient its outbox names, and to no other clone,
// nor a file the request does not name.
func TestBlobsServedToRecipientsOnly(t *testing.T) {
	dir := newDir()
	alice, bob, mallory := newClone(t, dir, "phone"), newClone(t, dir, "phone"), newClone(t, dir, "phone")
	file := bytes.Repeat([]byte("y"), 300<<10)
	alice.send(t, bob, "for bob", file)
	as := alice.service(t, dir, alice.ds)
	as.Start(alice.m)
	other, _ := alice.blobs.Add([]byte("not attached"))
	ref, _ := boxostore.NewMem().Add(file)
	ctx := context.Background()
	for _, c := range []*clone{bob, mallory} {
		c.h.Peerstore().AddAddrs(alice.h.ID(), alice.h.Addrs(), time.Hour)
	}
	if _, err := blobxfer.PullAs(ctx, mallory.h, alice.h.ID(), mallory.cert, ref, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrRefused) {
		t.Fatalf("a clone that is not a recipient: %v", err)
	}
	if _, err := blobxfer.PullAs(ctx, bob.h, alice.h.ID(), bob.cert, other, boxostore.NewMem(), nil); !errors.Is(err, blobxfer.ErrRefused) {
		t.Fatalf("a blob no request names: %v", err)
	}
	if _, err := blobxfer.PullAs(ctx, bob.h, alice.h.ID(), bob.cert, ref, boxostore.NewMem(), nil); err != nil {
		t.Fatalf("the recipient: %v", err)
	}
}

// TestLinkedPullResumes: a recipient clone that holds part of a linked
// file (a pull cut earlier) pulls only the blocks it lacks.
func TestLinkedPullResumes(t *testing.T) {
	dir := newDir()
	alice, bob := newClone(t, dir, "phone"), newClone(t, dir, "phone")
	file := make([]byte, 6*boxostore.ChunkSize) // a root and 6 distinct leaves
	for i := range file {
		file[i] = byte(i*7 + i/boxostore.ChunkSize)
	}
	alice.send(t, bob, "resume", file)
	// Bob already holds the first three leaves, as a cut pull leaves them.
	leaves := 0
	ref, _ := alice.blobs.Add(file)
	_ = boxostore.Walk(ref.CID, alice.blobs, func(c cid.Cid, b []byte) error {
		if c.Type() == cid.Raw && leaves < 3 {
			leaves++
			_, err := bob.blobs.Put(b)
			return err
		}
		return nil
	})
	as, bs := alice.service(t, dir, alice.ds), bob.service(t, dir, bob.ds)
	as.Start(alice.m)
	bs.Start(bob.m)
	waitFor(t, "the delivery", func() bool { return as.Stats().Sent == 1 })
	if got, err := bob.blobs.Read(ref); err != nil || !bytes.Equal(got, file) {
		t.Fatalf("bob's copy: %v", err)
	}
	// The root and three leaves moved; the three leaves held did not.
	if p := bs.Stats().PulledBytes; p >= uint64(len(file))/2+boxostore.ChunkSize/4 || p < 3*boxostore.ChunkSize {
		t.Fatalf("pulled %d bytes of a %d-byte file with half of it held", p, len(file))
	}
}

package netsim

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// snapshotParams seal a snapshot every 16 entries and keep 4 before it.
func snapshotParams() cloneservice.Params {
	p := cloneservice.DefaultParams()
	p.SnapshotEvery, p.KeepHistory, p.SnapshotWindow = 16, 4, 64
	return p
}

// storedEntrySeqs lists the seqs of the entries a clone keeps of doc.
func storedEntrySeqs(t *testing.T, ds datastore.Datastore, doc docsync.DocID) []uint64 {
	t.Helper()
	res, err := ds.Query(context.Background(), query.Query{Prefix: "/c/" + hex.EncodeToString(doc[:]) + "/e", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, r := range rs {
		b, err := hex.DecodeString(r.Key[strings.LastIndex(r.Key, "/")+1:])
		if err != nil || len(b) != 8 {
			t.Fatalf("entry key %q", r.Key)
		}
		var s uint64
		for _, x := range b {
			s = s<<8 | uint64(x)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func editN(t *testing.T, d *Doc, rng *rand.Rand, n int, by ...*Clone) {
	t.Helper()
	for i := range n {
		if err := by[i%len(by)].Svc.EditFunc(context.Background(), d.ID, RandomEdit(rng)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
	}
}

// A clone invited to a document with a long history starts from its
// inviter's snapshot and the tail, never from seq 1; members compact
// behind their snapshots, and a history fetch of a compacted range gets
// the "compacted" answer naming the snapshot.
func TestJoinFromSnapshotAndCompactedFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		opt := cloneservice.WithParams(snapshotParams())
		a, b := n.AddClone(opt), n.AddClone(opt)
		d := n.NewDoc(seq, a, b)
		rng := rand.New(rand.NewPCG(41, 42))
		editN(t, d, rng, 80, a, b)
		d.WaitConverged(time.Minute)

		kept := storedEntrySeqs(t, a.DS, d.ID)
		if len(kept) == 0 || kept[0] != 1 || len(kept) < 2 || kept[1] <= 2 {
			t.Fatalf("clone A keeps entries %v: want the genesis and a compacted tail", kept)
		}
		servedBefore := seq.Svc.Stats().Served
		c := n.AddClone(opt)
		if _, err := a.Svc.Invite(context.Background(), d.ID, c.User, c.Device, docsync.RoleWriter); err != nil {
			t.Fatal(err)
		}
		d.Clones = []*Clone{a, b, c}
		d.WaitConverged(time.Minute)
		in, _ := c.Svc.Info(d.ID)
		servedTail := seq.Svc.Stats().Served - servedBefore
		if servedTail >= in.Seq-16 {
			t.Fatalf("the joiner was served %d entries of %d: it replayed instead of starting from a snapshot", servedTail, in.Seq)
		}
		cKept := storedEntrySeqs(t, c.DS, d.ID)
		if cKept[0] != 1 || (len(cKept) > 1 && cKept[1] <= 2) {
			t.Fatalf("the joiner keeps entries %v: want the genesis and only the tail", cKept)
		}

		// A member asks clone A for a compacted range: the answer names the snapshot.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		es, err := netproto.FetchHistory(ctx, c.H, a.H.ID(), d.ID, 2, 10)
		var ce *netproto.CompactedError
		if len(es) != 0 || !errors.As(err, &ce) || ce.Snapshot < 16 || ce.FirstKept <= 2 {
			t.Fatalf("fetch of a compacted range: %d entries, %v", len(es), err)
		}
		snap, err := netproto.FetchSnapshot(ctx, c.H, a.H.ID(), d.ID)
		if err != nil || snap.Seq() != ce.Snapshot {
			t.Fatalf("the snapshot the answer names: %v", err)
		}

		// The joiner edits like any member.
		editN(t, d, rng, 10, c, a)
		d.WaitConverged(time.Minute)
		t.Logf("joined at seq %d from a snapshot at %d; the sequencer served it %d entries; A keeps %d entries, the joiner %d",
			in.Seq, snap.Seq(), servedTail, len(kept), len(cKept))
	})
}

// Compaction then kill -9 (the pebble files copied as they are on disk)
// and restart: the clone continues from its snapshot and the kept tail
// with the same text and chain, and keeps editing.
func TestCompactionSurvivesKill(t *testing.T) {
	n := NewLoopback(t)
	p := snapshotParams()
	p.ResubmitAfter, p.FetchRetry, p.DialInterval = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opt := cloneservice.WithParams(p)
	seq := n.AddSequencer()
	aDir := t.TempDir()
	a := n.AddCloneOn(n.AddPeer(nil, openPebble(t, aDir)), opt)
	b := n.AddClone(opt)
	d := n.NewDoc(seq, a, b)
	rng := rand.New(rand.NewPCG(43, 44))
	editN(t, d, rng, 60, a, b)
	waitConvergedReal(t, d, time.Minute)
	before, _ := a.Svc.Info(d.ID)
	text, _ := a.Svc.Text(d.ID)
	kept := storedEntrySeqs(t, a.DS, d.ID)
	if len(kept) < 2 || kept[1] <= 2 {
		t.Fatalf("clone A keeps entries %v: nothing compacted", kept)
	}

	addrs := a.H.Addrs()
	aCopy := crashCopy(t, a.Peer, aDir)
	a2 := &Clone{Peer: n.StartPeer(a.Key, openPebble(t, aCopy), addrs[0].String()), User: a.User, Device: a.Device, HPKEPriv: a.HPKEPriv}
	n.StartClone(a2, opt)
	after, err := a2.Svc.Info(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	text2, _ := a2.Svc.Text(d.ID)
	if after.Seq != before.Seq || after.Head != before.Head || text2 != text {
		t.Fatalf("after restart: seq %d head %v, before seq %d head %v (text equal %v)", after.Seq, after.Head, before.Seq, before.Head, text2 == text)
	}
	d.Clones = []*Clone{a2, b}
	editN(t, d, rng, 40, a2, b)
	waitConvergedReal(t, d, time.Minute)
	t.Logf("restarted at seq %d from a compacted store (%d entries kept: %v...)", after.Seq, len(kept), kept[:2])
}

// A clone offline for longer than members keep history, with nothing
// pending, comes back while the sequencer is gone: members compacted the
// range it lacks, so it continues from a member's snapshot and fetches
// only the tail from members.
func TestLongOfflineCloneJumpsToSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		seq := n.AddSequencer()
		opt := cloneservice.WithParams(snapshotParams())
		a, b, c := n.AddClone(opt), n.AddClone(opt), n.AddClone(opt)
		d := n.NewDoc(seq, a, b, c)
		before, _ := c.Svc.Info(d.ID)
		c.StopService()
		rng := rand.New(rand.NewPCG(45, 46))
		d.Clones = []*Clone{a, b}
		editN(t, d, rng, 90, a, b)
		d.WaitConverged(time.Minute)
		want, _ := a.Svc.Info(d.ID)
		seq.StopService() // only members can help now, and they compacted

		n.StartClone(c, opt)
		WaitUntil(t, time.Minute, "the offline clone catches up", func() bool {
			in, err := c.Svc.Info(d.ID)
			return err == nil && in.Seq == want.Seq && in.Head == want.Head && in.Applied == in.Seq
		})
		ta, _ := a.Svc.Text(d.ID)
		tc, _ := c.Svc.Text(d.ID)
		if ta != tc {
			t.Fatal("the caught-up clone's text differs")
		}
		kept := storedEntrySeqs(t, c.DS, d.ID)
		if len(kept) < 2 || kept[1] <= before.Seq+1 {
			t.Fatalf("the clone keeps entries %v after seq %d: it replayed the gap instead of jumping", kept, before.Seq)
		}
		t.Logf("offline at seq %d, back at %d: jumped to a snapshot, kept entries from %d", before.Seq, want.Seq, kept[1])
	})
}

// The sequencer compacts behind its own checkpoints; killed -9 and
// restarted on its files it continues the chain, answers a compacted range
// with the "compacted" frame, and a member invited afterwards joins from
// its inviter's snapshot and the sequencer's tail.
func TestSequencerCompactionSurvivesKill(t *testing.T) {
	n := NewLoopback(t)
	sp := seqservice.DefaultParams()
	sp.CheckpointEvery, sp.KeepHistory, sp.CheckpointWindow = 16, 8, 32
	sopt := seqservice.WithParams(sp)
	cp := snapshotParams()
	cp.ResubmitAfter, cp.FetchRetry, cp.DialInterval = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	copt := cloneservice.WithParams(cp)
	seqDir := t.TempDir()
	seq := n.StartSequencer(n.AddPeer(nil, openPebble(t, seqDir)), sopt)
	a, b := n.AddClone(copt), n.AddClone(copt)
	d := n.NewDoc(seq, a, b)
	rng := rand.New(rand.NewPCG(47, 48))
	editN(t, d, rng, 60, a, b)
	waitConvergedReal(t, d, time.Minute)
	before, _ := a.Svc.Info(d.ID)

	addrs := seq.H.Addrs()
	seqCopy := crashCopy(t, seq.Peer, seqDir)
	seq2 := n.StartSequencer(n.StartPeer(seq.Key, openPebble(t, seqCopy), addrs[0].String()), sopt)
	d.Seq = seq2
	h, err := seq2.Svc.Head(d.ID, docsync.MemberID{})
	if err != nil || h.Seq != before.Seq || h.ChainHash != before.Head {
		t.Fatalf("restarted sequencer at %d (%v), the clones at %d", h.Seq, err, before.Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ce *netproto.CompactedError
	// Connect first with the restarted sequencer's address: this fetch
	// bypasses the service (which resolves a peer without addresses
	// through the directory), and a's peerstore may have dropped the
	// killed host's address by now.
	if err := a.H.Connect(ctx, peer.AddrInfo{ID: seq2.H.ID(), Addrs: seq2.H.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if es, err := netproto.FetchHistory(ctx, a.H, seq2.H.ID(), d.ID, 2, 10); len(es) != 0 || !errors.As(err, &ce) {
		t.Fatalf("fetch of a compacted range from the sequencer: %d entries, %v", len(es), err)
	}
	editN(t, d, rng, 30, a, b)
	c := n.AddClone(copt)
	if _, err := a.Svc.Invite(ctx, d.ID, c.User, c.Device, docsync.RoleWriter); err != nil {
		t.Fatal(err)
	}
	d.Clones = []*Clone{a, b, c}
	WaitUntil(t, time.Minute, "the invited clone joins", func() bool {
		in, err := c.Svc.Info(d.ID)
		return err == nil && in.Role == docsync.RoleWriter && in.Applied == in.Seq && in.Seq > 0
	})
	editN(t, d, rng, 10, c, a)
	waitConvergedReal(t, d, time.Minute)
	if kept := storedEntrySeqs(t, c.DS, d.ID); len(kept) > 1 && kept[1] <= 2 {
		t.Fatalf("the joiner keeps entries %v: it replayed from seq 1", kept)
	}
	after, _ := a.Svc.Info(d.ID)
	t.Logf("the sequencer restarted at seq %d from its checkpoint (compacted before %d), went on to %d; a member joined meanwhile",
		before.Seq, ce.FirstKept, after.Seq)
}

package netsim

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
)

// A planned move while two clones on pebble edit; then the new sequencer
// and a clone crash (kill -9 simulated: the files as they were on disk)
// and restart: the clone comes back on the new sequencer, the sequencer
// reloads the adopted document (its log starts on the old sequencer's
// key), and every acknowledged edit is in the converged text exactly once.
func TestMoveSurvivesKill(t *testing.T) {
	n := NewLoopback(t)
	fast := cloneservice.DefaultParams()
	fast.ResubmitAfter, fast.FetchRetry, fast.DialInterval = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	copts := []cloneservice.Option{cloneservice.WithParams(fast)}
	seqA := n.AddSequencer()
	bSeqDir := t.TempDir()
	seqB := n.StartSequencer(n.AddPeer(nil, openPebble(t, bSeqDir)))
	aDir, bDir := t.TempDir(), t.TempDir()
	a := n.AddCloneOn(n.AddPeer(nil, openPebble(t, aDir)), copts...)
	b := n.AddCloneOn(n.AddPeer(nil, openPebble(t, bDir)), copts...)
	d := n.NewDoc(seqA, a, b)

	edA, edB := &editor{base: 0xE000}, &editor{base: 0xF0000}
	stopA, stopB := make(chan struct{}), make(chan struct{})
	var wgA, wgB sync.WaitGroup
	wgA.Add(1)
	wgB.Add(1)
	go edA.run(a.Svc, d, rand.New(rand.NewPCG(5, 1)), stopA, &wgA)
	go edB.run(b.Svc, d, rand.New(rand.NewPCG(7, 1)), stopB, &wgB)
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mv, err := a.Svc.Move(ctx, d.ID, seqB.Info(), false)
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	time.Sleep(200 * time.Millisecond)

	// The new sequencer crashes and restarts from its files.
	seqAddrs := seqB.H.Addrs()
	seqCopy := crashCopy(t, seqB.Peer, bSeqDir)
	seqB2 := n.StartSequencer(n.StartPeer(seqB.Key, openPebble(t, seqCopy), seqAddrs[0].String()))
	d.Seq = seqB2

	// Clone A, the admin that moved it, crashes too.
	time.Sleep(200 * time.Millisecond)
	aAddrs := a.H.Addrs()
	aCopy := crashCopy(t, a.Peer, aDir)
	close(stopA)
	wgA.Wait()
	a2 := &Clone{Peer: n.StartPeer(a.Key, openPebble(t, aCopy), aAddrs[0].String()), User: a.User, Device: a.Device, HPKEPriv: a.HPKEPriv}
	n.StartClone(a2, copts...)
	in, err := a2.Svc.Info(d.ID)
	if err != nil || in.Sequencer != seqB.H.ID() {
		t.Fatalf("restarted clone on %v (%v), want the new sequencer %v", in.Sequencer, err, seqB.H.ID())
	}
	time.Sleep(300 * time.Millisecond)
	close(stopB)
	wgB.Wait()
	d.Clones = []*Clone{a2, b}
	waitConvergedReal(t, d, time.Minute)
	final, _ := b.Svc.Text(d.ID)
	all := append(edA.ackedTokens(), edB.ackedTokens()...)
	for _, tok := range all {
		if c := strings.Count(final, tok); c != 1 {
			t.Fatalf("acknowledged edit %U appears %d times in the converged text", []rune(tok)[0], c)
		}
	}
	for i, c := range d.Clones {
		if st := c.Svc.Stats(); st.Forks != 0 || st.Rejected != 0 {
			t.Fatalf("clone %d: %+v", i, st)
		}
	}
	in, _ = b.Svc.Info(d.ID)
	t.Logf("moved at seq %d; after both crashes converged at seq %d on the new sequencer with all %d acknowledged edits exactly once",
		mv.Seq, in.Seq, len(all))
}

package netsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// openPebble opens a pebble datastore (default NoSync writes: durability
// comes only from the services' explicit Sync calls).
func openPebble(t *testing.T, dir string) *pebbleds.Datastore {
	t.Helper()
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// crashCopy simulates kill -9: the peer's network and service stop with no
// shutdown path (no flush, no close of the datastore), and the files as
// they are on disk at that moment are copied to a new directory, which is
// what a restarted process would open. Data pebble still buffered in memory
// (unsynced writes) is lost, as with a real kill.
func crashCopy(t *testing.T, p *Peer, dir string) string {
	t.Helper()
	_ = p.H.Close() // the network dies first: nothing more goes out
	p.StopService() // the loop stops; it writes nothing on the way out
	dst := CopyDir(t, dir)
	p.cancel()
	p.closed = true
	return dst
}

// editor inserts unique tokens at random positions of doc through c until
// stopped, and records which ones were acknowledged (Edit returned nil).
type editor struct {
	mu    sync.Mutex
	acked []string
	base  rune // tokens are single private-use code points base+i, so an insert cannot split one
}

func (e *editor) run(c *cloneservice.Service, d *Doc, rng *rand.Rand, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(rng.IntN(8)) * time.Millisecond):
		}
		tok := string(e.base + rune(i))
		err := c.EditFunc(context.Background(), d.ID, func(l int) ([]ot.Op, error) {
			op, err := ot.FromPatch(l, rng.IntN(l+1), 0, tok)
			return []ot.Op{op}, err
		})
		if err != nil {
			return // the service crashed under us
		}
		e.mu.Lock()
		e.acked = append(e.acked, tok)
		e.mu.Unlock()
	}
}

func (e *editor) ackedTokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.acked...)
}

// A clone and the sequencer, each on pebble, crash (kill -9 simulated)
// while edits flow and restart from what was on disk: every acknowledged
// edit is in the final text exactly once, and all clones converge.
func TestCrashRestartLosesNothingAcknowledged(t *testing.T) {
	runs := 3
	if testing.Short() {
		runs = 1
	}
	for i := range runs {
		t.Run(fmt.Sprintf("seed=%d", i), func(t *testing.T) { crashRestart(t, uint64(i)) })
	}
}

func crashRestart(t *testing.T, seed uint64) {
	n := NewLoopback(t)
	fast := cloneservice.DefaultParams()
	fast.ResubmitAfter, fast.FetchRetry, fast.DialInterval = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	copts := []cloneservice.Option{cloneservice.WithParams(fast)}

	seqDir := t.TempDir()
	seqDS := openPebble(t, seqDir)
	seqPeer := n.AddPeer(nil, seqDS)
	seq := n.StartSequencer(seqPeer)
	aDir, bDir := t.TempDir(), t.TempDir()
	a := n.AddCloneOn(n.AddPeer(nil, openPebble(t, aDir)), copts...)
	b := n.AddCloneOn(n.AddPeer(nil, openPebble(t, bDir)), copts...)
	d := n.NewDoc(seq, a, b)

	rng := rand.New(rand.NewPCG(3, seed))
	edA, edB := &editor{base: 0xE000}, &editor{base: 0xF0000}
	stopA, stopB := make(chan struct{}), make(chan struct{})
	var wgA, wgB sync.WaitGroup
	wgA.Add(1)
	wgB.Add(1)
	go edA.run(a.Svc, d, rand.New(rand.NewPCG(5, seed)), stopA, &wgA)
	go edB.run(b.Svc, d, rand.New(rand.NewPCG(7, seed)), stopB, &wgB)

	// Crash the sequencer mid-stream and restart it on the same address.
	time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
	seqAddrs := seq.H.Addrs()
	seqCopy := crashCopy(t, seq.Peer, seqDir)
	seqStats := seq.Svc.Stats()
	seq2 := n.StartSequencer(n.StartPeer(seq.Key, openPebble(t, seqCopy), seqAddrs[0].String()))
	d.Seq = seq2
	t.Logf("sequencer crashed after ordering %d entries; restarted", seqStats.Ordered)

	// Crash clone A mid-stream; B keeps editing meanwhile.
	time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
	aAddrs := a.H.Addrs()
	aCopy := crashCopy(t, a.Peer, aDir)
	close(stopA)
	wgA.Wait() // its last Edit failed with ErrClosed or was acknowledged before the crash
	ackedA := edA.ackedTokens()
	a2 := &Clone{Peer: n.StartPeer(a.Key, openPebble(t, aCopy), aAddrs[0].String()), User: a.User, Device: a.Device, HPKEPriv: a.HPKEPriv}
	n.StartClone(a2, copts...)
	txt, err := a2.Svc.Text(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range ackedA {
		if strings.Count(txt, tok) != 1 {
			t.Fatalf("after restart, acknowledged edit %U appears %d times in clone A's text", []rune(tok)[0], strings.Count(txt, tok))
		}
	}
	t.Logf("clone A crashed after %d acknowledged edits; all in its restored text", len(ackedA))

	time.Sleep(300 * time.Millisecond)
	close(stopB)
	wgB.Wait()
	d.Clones = []*Clone{a2, b}
	waitConvergedReal(t, d, time.Minute)
	final, _ := b.Svc.Text(d.ID)
	all := append(ackedA, edB.ackedTokens()...)
	for _, tok := range all {
		if c := strings.Count(final, tok); c != 1 {
			t.Fatalf("acknowledged edit %U appears %d times in the converged text", []rune(tok)[0], c)
		}
	}
	for i, c := range d.Clones {
		// A reused seq would show up as a fork or a refused entry.
		if st := c.Svc.Stats(); st.Forks != 0 || st.Rejected != 0 {
			t.Fatalf("clone %d after the restarts: %+v", i, st)
		}
	}
	in, _ := b.Svc.Info(d.ID)
	t.Logf("converged at seq %d with all %d acknowledged edits (A %d, B %d) exactly once",
		in.Seq, len(all), len(ackedA), len(all)-len(ackedA))
}

// waitConvergedReal polls in real time (loopback network, no synctest).
func waitConvergedReal(t *testing.T, d *Doc, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := d.Converged()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no convergence after %v: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

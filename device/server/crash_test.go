package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

var errKilled = errors.New("test: clone killed")

// killAfterDeviceEdit is the clone's engine until the first edit through
// an attachment that proposes ops once armed has returned: the engine has made the device's
// edit durable, and at that instant the clone's datastore is copied (what
// a kill -9 leaves on disk; the in-memory datastore has no unsynced
// buffer) and the process is dead: this and every later call fails, so the
// server does nothing more (no Ack, no counter write of its own).
type killAfterDeviceEdit struct {
	*cloneservice.Service
	ds datastore.Batching

	mu    sync.Mutex
	armed bool
	disk  datastore.Batching // the copy, once killed
	dead  chan struct{}
}

func (k *killAfterDeviceEdit) Attach(ctx context.Context, doc docsync.DocID, fn func(cloneservice.Change)) (cloneservice.Attachment, cloneservice.Snapshot, error) {
	a, snap, err := k.Service.Attach(ctx, doc, fn)
	if err != nil {
		return nil, snap, err
	}
	return &killableAttachment{Attachment: a, k: k}, snap, nil
}

type killableAttachment struct {
	cloneservice.Attachment
	k *killAfterDeviceEdit
}

func (a *killableAttachment) EditFuncMeta(ctx context.Context, build func(cloneservice.Base) ([]ot.Op, map[string][]byte, error)) error {
	k := a.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.disk != nil {
		return errKilled
	}
	proposed := false
	err := a.Attachment.EditFuncMeta(ctx, func(b cloneservice.Base) ([]ot.Op, map[string][]byte, error) {
		ops, meta, err := build(b)
		proposed = err == nil && len(ops) > 0
		return ops, meta, err
	})
	if err != nil || !proposed || !k.armed {
		return err
	}
	if k.disk, err = copyDatastore(k.ds); err != nil {
		return err
	}
	close(k.dead)
	return errKilled
}

func copyDatastore(src datastore.Batching) (datastore.Batching, error) {
	ctx := context.Background()
	res, err := src.Query(ctx, query.Query{})
	if err != nil {
		return nil, err
	}
	all, err := res.Rest()
	if err != nil {
		return nil, err
	}
	dst := netsim.MemDatastore()
	for _, e := range all {
		if err := dst.Put(ctx, datastore.NewKey(e.Key), e.Value); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// The clone is killed right after its engine made a device edit durable,
// before the device is acknowledged: on restart the device's counter must
// say the edit was applied, so the device does not resend it and the edit
// is in the text exactly once (a counter saved after the edit, in its own
// write, was lost here and the edit was applied twice).
func TestKillAfterEngineAppliedDeviceEditAppliesItOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 5, 10*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond)
		seq := w.sequencer()
		a, b := w.clone(), w.clone()
		d := w.n.NewDoc(seq, a, b)
		e := w.enroll(a, "phone")
		e.srv.Close() // the harness's server: replaced by one on the killable engine
		eng := &killAfterDeviceEdit{Service: a.Svc, ds: a.DS, dead: make(chan struct{})}
		srv1, err := server.New(a.H, eng, e.cert, server.WithLogger(w.n.Log))
		if err != nil {
			t.Fatal(err)
		}
		_, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.EditFunc(insertAt(0, "one ")); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		eng.mu.Lock()
		eng.armed = true
		eng.mu.Unlock()
		if err := doc.EditFunc(insertAt(1<<30, "two")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-eng.dead:
		case <-ctx.Done():
			t.Fatal("the device's edit never reached the engine")
		}
		if !doc.Pending() {
			t.Fatal("the edit was acknowledged before the kill")
		}
		srv1.Close()
		a.StopService()
		a.DS = eng.disk
		w.n.StartClone(a)
		srv2, err := server.New(a.H, a.Svc, e.cert, server.WithLogger(w.n.Log))
		if err != nil {
			t.Fatal(err)
		}
		defer srv2.Close()
		doc.Disconnect()
		if err := doc.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Svc.EditFunc(ctx, d.ID, insertAt(0, "b: ")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := b.Svc.Text(d.ID)
		if err := doc.WaitText(ctx, func(s string) bool { return s == want }); err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"one ", "two", "b: "} {
			if strings.Count(want, part) != 1 || len(want) != len("one two")+len("b: ") {
				t.Fatalf("text %q: want each edit exactly once", want)
			}
		}
	})
}

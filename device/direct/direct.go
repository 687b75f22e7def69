// Package direct is the device's direct mode: the document is edited
// through a clone engine (docsync/cloneservice) running on the device's own
// host, which joins gossipsub and verifies and decrypts every entry itself
// (the SPORC baseline).
package direct

import (
	"context"
	"sync"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// Doc is a document open on a device in direct mode. It implements
// device.Doc.
type Doc struct {
	svc     *cloneservice.Service
	id      docsync.DocID
	events  <-chan cloneservice.Event
	unsub   func()
	updates chan ot.Op
	done    chan struct{}

	mu      sync.Mutex
	changed chan struct{}
}

// Open follows doc on svc (the device's own engine, already a member).
func Open(svc *cloneservice.Service, doc docsync.DocID) (*Doc, error) {
	ev, unsub, err := svc.Subscribe(doc)
	if err != nil {
		return nil, err
	}
	d := &Doc{svc: svc, id: doc, events: ev, unsub: unsub, updates: make(chan ot.Op, 4096),
		done: make(chan struct{}), changed: make(chan struct{})}
	go d.follow()
	return d, nil
}

func (d *Doc) follow() {
	defer close(d.done)
	for ev := range d.events {
		if ev.Kind == cloneservice.EventUpdate && ev.Op != nil {
			select {
			case d.updates <- *ev.Op:
			default: // a reader that does not keep up re-reads Text
			}
		}
		d.mu.Lock()
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}
}

// Text is the engine's local text.
func (d *Doc) Text() string {
	t, _ := d.svc.Text(d.id)
	return t
}

// EditFunc edits through the engine (signed, encrypted, sent by it).
func (d *Doc) EditFunc(build func(length int) ([]ot.Op, error)) error {
	return d.svc.EditFunc(context.Background(), d.id, build)
}

// WaitSynced blocks until the engine has nothing pending.
func (d *Doc) WaitSynced(ctx context.Context) error {
	for {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		in, err := d.svc.Info(d.id)
		if err != nil {
			return err
		}
		if !in.Pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Updates delivers remote edits (dropped when not read).
func (d *Doc) Updates() <-chan ot.Op { return d.updates }

// Close stops following the document (the engine keeps running).
func (d *Doc) Close() {
	d.unsub()
	<-d.done
}

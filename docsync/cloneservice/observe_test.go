package cloneservice_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/ot"
)

// An attached observer follows the text exactly: the snapshot plus every
// change it is told of (remote updates and other local edits, not the
// edits of its own attachment) is the clone's text, the versions rise one
// change at a time, and it hears once that the document closed.
func TestAttachFollowsTheText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, cl, d := world(t, 2)
		a, b := cl[0], cl[1]
		ctx := context.Background()

		var mu sync.Mutex
		var text *ot.Doc
		var last cloneservice.Version
		var kinds []cloneservice.EventKind
		var stopped []error
		att, snap, err := a.Svc.Attach(ctx, d.ID, func(c cloneservice.Change) {
			mu.Lock()
			defer mu.Unlock()
			if c.Err != nil {
				stopped = append(stopped, c.Err)
				return
			}
			if c.Version.Changes != last.Changes+1 {
				t.Errorf("version %+v after %+v", c.Version, last)
			}
			last = c.Version
			kinds = append(kinds, c.Kind)
			if err := text.Apply(c.Op); err != nil {
				t.Errorf("change %v does not apply: %v", c.Kind, err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		text, last = ot.NewDoc(snap.Text), snap.Version
		mu.Unlock()

		// Own edits through the attachment: the observer applied them itself.
		if err := att.EditFuncMeta(ctx, func(base cloneservice.Base) ([]ot.Op, map[string][]byte, error) {
			if base.Text() != snap.Text {
				t.Errorf("base text %q, snapshot %q", base.Text(), snap.Text)
			}
			op, err := ot.FromPatch(base.Len, base.Len, 0, "own ")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = text.Apply(op)
			}
			last.Changes++
			return []ot.Op{op}, nil, err
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.Svc.EditFunc(ctx, d.ID, insertEnd("owner ")); err != nil {
			t.Fatal(err)
		}
		if err := b.Svc.EditFunc(ctx, d.ID, insertEnd("remote ")); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		want, _ := a.Svc.Text(d.ID)
		mu.Lock()
		if got := text.String(); got != want {
			t.Fatalf("observer's text %q, clone's %q", got, want)
		}
		if len(kinds) != 2 || kinds[0] != cloneservice.EventLocal || kinds[1] != cloneservice.EventUpdate {
			t.Fatalf("changes %v, want [local update]", kinds)
		}
		mu.Unlock()

		a.StopService()
		mu.Lock()
		defer mu.Unlock()
		if len(stopped) != 1 || !errors.Is(stopped[0], cloneservice.ErrDocClosed) {
			t.Fatalf("stops %v, want one ErrDocClosed", stopped)
		}
		if err := att.EditFuncMeta(ctx, func(cloneservice.Base) ([]ot.Op, map[string][]byte, error) { return nil, nil, nil }); err == nil {
			t.Fatal("an edit through a closed attachment was accepted")
		}
	})
}

func insertEnd(s string) func(int) ([]ot.Op, error) {
	return func(n int) ([]ot.Op, error) {
		op, err := ot.FromPatch(n, n, 0, s)
		return []ot.Op{op}, err
	}
}

package server_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netsim"
)

// The clone's sequencer-stalled alarm reaches its device over the link
// while the session goes on, and clears there when the sequencer resumes.
func TestStalledAlarmReachesDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 3, 10*time.Millisecond, 5*time.Millisecond, 40*time.Millisecond)
		seq := w.sequencer()
		p := cloneservice.DefaultParams()
		p.StallAfter = 5 * time.Second
		a := w.n.AddClone(cloneservice.WithParams(p))
		t.Cleanup(a.Close)
		d := w.n.NewDoc(seq, a)
		e := w.enroll(a, "phone")
		_, dc := w.device(e)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		doc, err := dc.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		seq.StopService()
		if err := doc.EditFunc(insertAt(0, "held")); err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "the stalled alarm on the device", func() bool { return doc.Alarm() != nil })
		if !doc.Online() {
			t.Fatal("the link ended with the alarm")
		}
		d.Seq = w.n.StartSequencer(seq.Peer)
		netsim.WaitUntil(t, time.Minute, "the alarm cleared on the device", func() bool { return doc.Alarm() == nil })
		if err := doc.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
		d.WaitConverged(time.Minute)
		if txt, _ := a.Svc.Text(d.ID); txt != "held" {
			t.Fatalf("text %q", txt)
		}
		if st := doc.Stats(); st.Alarms != 2 {
			t.Fatalf("alarm messages %d, want 2 (stalled, resumed)", st.Alarms)
		}
	})
}

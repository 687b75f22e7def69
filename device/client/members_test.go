package client_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
)

// The clone sends its device the document's member list with roles,
// marking its own member.
func TestMembersReachTheDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := netsim.New(t, 10*time.Millisecond)
		seq := n.AddSequencer()
		a, b := n.AddClone(), n.AddClone()
		d := n.NewDoc(seq, a, b)
		_, c := devicetest.Attach(t, n, a, "phone")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := c.Open(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		netsim.WaitUntil(t, time.Minute, "the member list", func() bool { return len(doc.Members()) == 2 })
		roles := map[docsync.MemberID]docsync.Role{}
		for _, m := range doc.Members() {
			roles[m.Member] = m.Role
			if m.Self != (m.Member == a.Svc.ID()) {
				t.Errorf("member %x: self %v", m.Member[:4], m.Self)
			}
		}
		if roles[a.Svc.ID()] != docsync.RoleAdmin || roles[b.Svc.ID()] != docsync.RoleWriter {
			t.Fatalf("roles %v", roles)
		}
	})
}

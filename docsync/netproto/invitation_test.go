package netproto

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// invitedLog builds a real two-entry log: admin's genesis, then admin
// adding invitee as a writer, both ordered by a reference sequencer.
func invitedLog(t testing.TB) (inv *Invitation, admin, invitee *docsync.Identity) {
	t.Helper()
	_, seqKey, _ := ed25519.GenerateKey(nil)
	seqPub := seqKey.Public().(ed25519.PublicKey)
	var err error
	if admin, err = docsync.NewIdentity(nil); err != nil {
		t.Fatal(err)
	}
	if invitee, err = docsync.NewIdentity(nil); err != nil {
		t.Fatal(err)
	}
	doc := docsync.DocID{0xd0, 0xc}
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqPub, Identity: admin, Params: docsync.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	ref := sequencer.NewReference(doc, seqKey)
	entries, err := ref.Drive(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddMember(invitee.ID(), invitee.HPKEPublic(), docsync.RoleWriter); err != nil {
		t.Fatal(err)
	}
	added, err := ref.Drive(r)
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, added...)
	if len(entries) != 2 {
		t.Fatalf("%d entries", len(entries))
	}
	return &Invitation{Doc: doc, Sequencer: seqPub, Role: docsync.RoleWriter, Seq: 2,
		Genesis: entries[0], Added: entries[1], Credential: []byte("cert bytes")}, admin, invitee
}

func TestInvitationVerify(t *testing.T) {
	inv, admin, invitee := invitedLog(t)
	b, err := inv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInvitation(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Credential) != "cert bytes" || got.Genesis == nil || got.Added == nil {
		t.Fatalf("round trip lost fields: %+v", got)
	}
	if err := got.Verify(invitee.ID(), admin.ID()); err != nil {
		t.Fatalf("a real invitation does not verify: %v", err)
	}
	stranger, _ := docsync.NewIdentity(nil)
	_, otherSeq, _ := ed25519.GenerateKey(nil)
	for name, tc := range map[string]struct {
		mutate   func(*Invitation)
		me, from docsync.MemberID
	}{
		"sent by another clone":    {func(*Invitation) {}, invitee.ID(), stranger.ID()},
		"adds another clone":       {func(*Invitation) {}, stranger.ID(), admin.ID()},
		"no entries":               {func(i *Invitation) { i.Genesis, i.Added = nil, nil }, invitee.ID(), admin.ID()},
		"other sequencer key":      {func(i *Invitation) { i.Sequencer = otherSeq.Public().(ed25519.PublicKey) }, invitee.ID(), admin.ID()},
		"other role":               {func(i *Invitation) { i.Role = docsync.RoleAdmin }, invitee.ID(), admin.ID()},
		"other seq":                {func(i *Invitation) { i.Seq = 3 }, invitee.ID(), admin.ID()},
		"other document":           {func(i *Invitation) { i.Doc[0] ^= 1 }, invitee.ID(), admin.ID()},
		"genesis as the add entry": {func(i *Invitation) { i.Added = i.Genesis; i.Seq = 1 }, invitee.ID(), admin.ID()},
		"tampered genesis": {func(i *Invitation) {
			g := *i.Genesis
			g.Envelope.Counter++
			i.Genesis = &g
		}, invitee.ID(), admin.ID()},
		"forged sequencer signature": {func(i *Invitation) {
			a := *i.Added
			a.Head.Sig = append([]byte(nil), a.Head.Sig...)
			a.Head.Sig[0] ^= 1
			i.Added = &a
		}, invitee.ID(), admin.ID()},
	} {
		c := *got
		tc.mutate(&c)
		if err := c.Verify(tc.me, tc.from); !errors.Is(err, ErrBadInvitation) {
			t.Errorf("%s: Verify = %v, want ErrBadInvitation", name, err)
		}
	}
}

// TestInvitationV1StillDecodes: meta records written before version 2
// (no entries, no credential) still load.
func TestInvitationV1StillDecodes(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	v1 := []byte{invitationV1}
	v1 = append(v1, make([]byte, 32)...)
	v1 = append(v1, pub...)
	v1 = append(v1, byte(docsync.RoleAdmin))
	v1 = append(v1, make([]byte, 8)...)
	v1 = append(v1, 0) // no addresses
	inv, err := DecodeInvitation(v1)
	if err != nil || inv.Role != docsync.RoleAdmin || inv.Genesis != nil {
		t.Fatalf("v1 meta: %+v %v", inv, err)
	}
}

// movedInvitation is an invitation to a document that moved from the
// genesis sequencer to another before the invitee was added.
func movedInvitation(t testing.TB) (inv *Invitation, admin, invitee *docsync.Identity) {
	t.Helper()
	_, seqKey, _ := ed25519.GenerateKey(nil)
	_, newKey, _ := ed25519.GenerateKey(nil)
	var err error
	if admin, err = docsync.NewIdentity(nil); err != nil {
		t.Fatal(err)
	}
	if invitee, err = docsync.NewIdentity(nil); err != nil {
		t.Fatal(err)
	}
	doc := docsync.DocID{0xd0, 0xd}
	seqPub := seqKey.Public().(ed25519.PublicKey)
	r, err := docsync.Create(docsync.Config{Doc: doc, Sequencer: seqPub, Identity: admin, Params: docsync.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	ref := sequencer.NewReference(doc, seqKey)
	entries, err := ref.Drive(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Move(newKey.Public().(ed25519.PublicKey), "/ip4/1.2.3.4/udp/9/quic-v1"); err != nil {
		t.Fatal(err)
	}
	mv, err := ref.Drive(r)
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, mv...)
	next, err := sequencer.Adopt(doc, newKey, entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddMember(invitee.ID(), invitee.HPKEPublic(), docsync.RoleWriter); err != nil {
		t.Fatal(err)
	}
	added, err := next.Drive(r)
	if err != nil || len(added) != 1 {
		t.Fatalf("%d entries after the move: %v", len(added), err)
	}
	sched, err := r.Log().KeySchedule().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &Invitation{Doc: doc, Sequencer: seqPub, Role: docsync.RoleWriter, Seq: added[0].Head.Seq,
		Genesis: entries[0], Added: added[0], Schedule: sched}, admin, invitee
}

// An invitation after a move carries the key schedule: the add-member
// entry the new sequencer signed verifies against it, and not without it
// or with a schedule that does not check out.
func TestInvitationAfterMove(t *testing.T) {
	inv, admin, invitee := movedInvitation(t)
	b, err := inv.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != invitationV3 {
		t.Fatalf("version %d, want %d", b[0], invitationV3)
	}
	got, err := DecodeInvitation(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(invitee.ID(), admin.ID()); err != nil {
		t.Fatalf("an invitation after a move does not verify: %v", err)
	}
	other, _, _ := movedInvitation(t)
	for name, mutate := range map[string]func(*Invitation){
		"no schedule":                  func(i *Invitation) { i.Schedule = nil },
		"truncated schedule":           func(i *Invitation) { i.Schedule = i.Schedule[:len(i.Schedule)/2] },
		"another document's schedule":  func(i *Invitation) { i.Schedule = other.Schedule },
		"schedule with a flipped byte": func(i *Invitation) { s := append([]byte(nil), i.Schedule...); s[len(s)-40] ^= 1; i.Schedule = s },
	} {
		c := *got
		mutate(&c)
		if err := c.Verify(invitee.ID(), admin.ID()); !errors.Is(err, ErrBadInvitation) {
			t.Errorf("%s: Verify = %v, want ErrBadInvitation", name, err)
		}
	}
}

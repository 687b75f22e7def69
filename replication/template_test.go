package replication_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

func TestTemplateSignedAndDecoded(t *testing.T) {
	tmpl, store := factory(t)
	got, err := replication.DecodeTemplate(tmpl.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.VerifySig(factoryKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	wrong := ed25519.NewKeyFromSeed([]byte("another factory key: 32 bytes...")).Public().(ed25519.PublicKey)
	if err := got.VerifySig(wrong); !errors.Is(err, replication.ErrSignature) {
		t.Fatalf("verified under another key: %v", err)
	}
	forged := append([]byte(nil), tmpl.Marshal()...)
	forged[5] ^= 1 // the model name
	if f, err := replication.DecodeTemplate(forged); err == nil {
		if err := f.VerifySig(factoryKey.Public().(ed25519.PublicKey)); !errors.Is(err, replication.ErrSignature) {
			t.Fatalf("forged template verified: %v", err)
		}
	}
	set := fromTemplate(t, got, notesRegistry(t), store)
	if set.StateHash() != tmpl.StateHash() || notesOf(set, "notes").Len() != 400 {
		t.Fatalf("template state not imported: %d notes", notesOf(set, "notes").Len())
	}
}

// TestNewMirrorIsTemplate: a new device and its new mirror both start from
// the template; no resync runs and the first batches match.
func TestNewMirrorIsTemplate(t *testing.T) {
	reg := notesRegistry(t)
	tmpl, store := factory(t)
	p := newPair(t, "new device", 5, pairOpts{
		devApps: fromTemplate(t, tmpl, reg, store), mirApps: fromTemplate(t, tmpl, reg, store)})
	now := replication.Time(1_700_000_000_000)
	for end := now + 3000; now < end; now++ {
		p.step(now, 0.05, 0.01)
	}
	p.settle(now)
	if st := p.mir.Stats(); st.Resyncs != 0 || st.Divergences != 0 || st.Batches == 0 {
		t.Fatalf("stats %+v", st)
	}
	sameNotes(t, p)
}

// TestEnrolCopiesOnlyUserData: a device that is not new (its notes beyond the
// factory's) enrols; the mirror starts as the template, the device is
// frozen and copied once, and the copy moves only the chunks that differ
// from the template.
func TestEnrolCopiesOnlyUserData(t *testing.T) {
	reg := notesRegistry(t)
	tmpl, store := factory(t)
	devApps := fromTemplate(t, tmpl, reg, store)
	n := notesOf(devApps, "notes")
	for i := range 5 {
		ev := replication.Event{Payload: notes.Put(fmt.Sprintf("user-%d", i), []byte("the user's own note"))}
		if _, err := n.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	p := newPair(t, "old device", 6, pairOpts{devApps: devApps, mirApps: fromTemplate(t, tmpl, reg, store), enrol: true})
	now := replication.Time(1_700_000_000_000)
	p.flush(now)
	now = p.settle(now) // the copy runs before the phone takes input
	var rep *replication.ResyncReport
	for _, no := range p.notices {
		if no.Kind == replication.NoticeResynced {
			rep = no.Resync
		}
		if no.Kind == replication.NoticeDivergence {
			t.Fatalf("enrolment counted as a divergence: %+v", no)
		}
	}
	if rep == nil || !errors.Is(rep.Cause, replication.ErrEnrol) || fmt.Sprint(rep.Repaired) != "[notes]" {
		t.Fatalf("enrolment report %+v", rep)
	}
	if rep.Chunks == 0 || rep.Chunks > 5 || rep.ChunkBytes+rep.OfferBytes >= rep.StateBytes {
		t.Fatalf("enrolment moved %d chunks, %d+%d bytes of %d", rep.Chunks, rep.ChunkBytes, rep.OfferBytes, rep.StateBytes)
	}
	t.Logf("enrolment moved %d chunks = %d bytes + %d offer bytes, state %d bytes", rep.Chunks, rep.ChunkBytes, rep.OfferBytes, rep.StateBytes)
	sameNotes(t, p)
	for end := now + 2000; now < end; now++ {
		p.step(now, 0.05, 0.01)
	}
	p.settle(now)
	sameNotes(t, p)
}

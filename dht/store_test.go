package dht

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStoreSurvivesReopen: own records and the replica come back from the
// datastore after a restart, and expired replica entries are pruned.
func TestStoreSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	now := t0
	v := newValidator(func() time.Time { return now })
	backing := newMemStore()
	st, err := openStore(ctx, backing, v)
	if err != nil {
		t.Fatal(err)
	}
	own := testCert(t, seededKey(t, 1), "phone", 1, t0.Add(48*time.Hour))
	other := testCert(t, seededKey(t, 2), "phone", 1, t0.Add(time.Hour))
	if _, err := st.put(ctx, own.Key(), mustMarshal(t, own), true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.put(ctx, other.Key(), mustMarshal(t, other), false); err != nil {
		t.Fatal(err)
	}
	// Undecodable junk in the records namespace is dropped on open.
	if err := backing.Put(ctx, dsKeyFor(recordsPrefix, "/c2c/index/junk"), []byte("junk")); err != nil {
		t.Fatal(err)
	}

	st2, err := openStore(ctx, backing, v)
	if err != nil {
		t.Fatal(err)
	}
	if keys := st2.ownKeys(); len(keys) != 1 || keys[0] != own.Key() {
		t.Fatalf("own keys after reopen: %v", keys)
	}
	if st2.size() != 2 {
		t.Fatalf("records after reopen: %d, want 2", st2.size())
	}
	if _, err := st2.get(ctx, other.Key()); err != nil {
		t.Fatal(err)
	}
	sums := st2.summaries()
	if len(sums) != 2 || sums[0].Key > sums[1].Key {
		t.Fatalf("summaries: %+v", sums)
	}

	now = t0.Add(2 * time.Hour) // other has expired, own has not
	if _, err := st2.get(ctx, other.Key()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired record served: %v", err)
	}
	if n := st2.prune(ctx); n != 1 || st2.size() != 1 {
		t.Fatalf("pruned %d, left %d", n, st2.size())
	}
	if st2.supersedes(own.Key(), mustMarshal(t, own)) {
		t.Fatal("an identical record must not count as newer")
	}
	newer := testCert(t, seededKey(t, 1), "phone", 2, t0.Add(48*time.Hour))
	if !st2.supersedes(own.Key(), mustMarshal(t, newer)) {
		t.Fatal("a higher seq must count as newer")
	}
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	p := DefaultParams()
	p.RepublishInterval = MaxRecordAge
	if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("republish at the record age: %v", err)
	}
	p = DefaultParams()
	p.LookupQuorum = -1
	if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("negative quorum: %v", err)
	}
}

package blobxfer_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// TestAcknowledgedUploadSurvivesKill: once Push returns, the clone's
// pebble files on disk, copied as a kill -9 leaves them, hold the whole
// blob.
func TestAcknowledgedUploadSurvivesKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clone")
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	devKey, _, _ := crypto.GenerateEd25519Key(nil)
	clone, dev := newHost(t, nil), newHost(t, devKey)
	cert := enroll(t, clone, dev.ID(), "phone")
	if _, err := blobxfer.New(clone, boxostore.New(ds), cert, blobxfer.WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	connect(t, dev, clone)
	src := boxostore.NewMem()
	data := content(7, 6*boxostore.ChunkSize+99)
	ref, _ := src.Add(data)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := blobxfer.Push(ctx, dev, clone.ID(), ref, src, nil); err != nil {
		t.Fatal(err)
	}
	after, err := pebbleds.NewDatastore(netsim.CopyDir(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if got, err := boxostore.New(after).Read(ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the acknowledged upload after a kill: %v", err)
	}
}

package clonehost

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/clonehost/bundle"
	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sequencer runs a sequencer node bootstrapped from boot; it returns its
// QUIC /p2p address (hosted clones dial QUIC only).
func sequencer(t testing.TB, boot []peer.AddrInfo) string {
	t.Helper()
	cfg := node.DefaultConfig(node.RoleSequencer, t.TempDir())
	cfg.ListenAddrs = node.LoopbackListenAddrs()
	cfg.Bootstrap = boot
	n, err := node.New(context.Background(), cfg, node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if _, err := n.StartSequencer(); err != nil {
		t.Fatal(err)
	}
	for _, a := range n.P2PAddrs() {
		if strings.Contains(a.String(), "/quic-v1") {
			return a.String()
		}
	}
	t.Fatal("sequencer has no QUIC address")
	return ""
}

// A hosted clone with a document moves to another provider: every edit
// acknowledged before the migration is there after it, the old provider
// no longer holds it, and its owner's device, which knew only the old
// provider, finds it at the new one through the directory and reads the
// document through it.
func TestMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	p1 := newProvider(t, filepath.Join(root, "p1"), 1)
	cert, devKey := enroll(t, filepath.Join(p1.dir, "clones"), "alice", true)
	p1.certs = append(p1.certs, cert)
	h1 := p1.start(t, DefaultParams())
	defer p1.stop(t, h1)
	a1 := serveAdmin(t, p1, h1)
	p2 := newProvider(t, filepath.Join(root, "p2"), 0)
	p2.boot = []peer.AddrInfo{p1.node.AddrInfo()}
	h2 := p2.start(t, DefaultParams())
	defer p2.stop(t, h2)
	a2 := serveAdmin(t, p2, h2)
	waitPublished(t, h1, time.Minute)

	seq := sequencer(t, []peer.AddrInfo{p1.node.AddrInfo()})
	ctl := control.NewClient(filepath.Join(p1.dir, "clones", "alice", control.SocketFile))
	defer ctl.Close()
	doc, err := ctl.Create(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	for i := range 20 {
		tok := fmt.Sprintf("<e%d>", i)
		if _, err := ctl.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: tok}); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, tok) // acknowledged: the call returned
	}

	// An import refuses a bundle whose certificate does not name its
	// identity, before it writes anything.
	var forged bytes.Buffer
	other := enrollInto(t, filepath.Join(root, "elsewhere"), "x")
	otherCert, _ := other.Marshal()
	if err := bundle.Encode(&forged, &bundle.Bundle{Files: []bundle.File{
		{Name: node.OwnerCertFile, Data: otherCert},
		{Name: node.IdentityFile, Data: mustRead(t, filepath.Join(p1.dir, "clones", "alice", node.IdentityFile))},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := a2.Import(ctx, "forged", &forged); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("forged import: %v", err)
	}
	if in, _ := a2.Clones(ctx); len(in) != 0 {
		t.Fatalf("a refused import left %+v", in)
	}

	res, err := Migrate(ctx, a1, a2, "alice", "alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("migrated: %d bytes, moved in %v, published in %v", res.Bytes, res.Moved, res.Published)
	if in, _ := a1.Clones(ctx); len(in) != 1 || in[0].Name != "c0" {
		t.Fatalf("old provider still lists %+v", in)
	}
	if n := prefixKeys(t, p1, cert.Clone.String()); n != 0 {
		t.Fatalf("old provider keeps %d keys of the migrated clone", n)
	}
	moved := h2.Clone(cert.Clone)
	if moved == nil {
		t.Fatal("new provider does not run the clone under its peer ID")
	}

	// Every acknowledged edit is on the clone at its new provider.
	ctl2 := control.NewClient(filepath.Join(p2.dir, "clones", "alice", control.SocketFile))
	defer ctl2.Close()
	in, err := ctl2.Show(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range acked {
		if strings.Count(in.Text, tok) != 1 {
			t.Fatalf("edit %s not once in the migrated clone's text %q", tok, in.Text)
		}
	}
	// It still edits: the sequencer orders its next edit.
	if _, err := ctl2.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: "<after>"}); err != nil {
		t.Fatal(err)
	}

	// The phone knew only the old provider: it looks its clone up there
	// (the directory), resolves its new address and reads the document.
	dh, err := libp2p.New(libp2p.Identity(devKey), libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer dh.Close()
	if err := dh.Connect(ctx, p1.node.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	found, err := dht.FetchCert(ctx, dh, p1.node.ID(), cert.User, "phone", time.Now)
	if err != nil || found.Clone != cert.Clone {
		t.Fatalf("directory lookup after the migration: %v, %v", found, err)
	}
	var ai peer.AddrInfo
	deadline := time.Now().Add(time.Minute)
	for {
		// The old provider learns the new address when the moved clone
		// connects to it (it bootstraps from both providers).
		if ai, err = dht.ResolveVia(ctx, dh, p1.node.ID(), cert.Clone); err == nil && dh.Connect(ctx, ai) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resolving the moved clone through the old provider: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	var id docsync.DocID
	if _, err := hex.Decode(id[:], []byte(doc)); err != nil {
		t.Fatal(err)
	}
	dc, err := client.New(dh, ai, cert.User, "phone", client.WithStateDir(t.TempDir()), client.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	d, err := dc.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range append(acked, "<after>") {
		for !strings.Contains(d.Text(), tok) {
			select {
			case <-d.Changed():
			case <-ctx.Done():
				t.Fatalf("the device never saw %s (text %q)", tok, d.Text())
			}
		}
	}
	if in, _ := a2.Clones(ctx); len(in) != 1 || in[0].Devices != 1 {
		t.Fatalf("new provider lists %+v, want one clone with its device connected", in)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := keystore.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

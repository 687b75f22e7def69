package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/devicexfer"
	"github.com/clone2clone/c2c/replication/downloads"
)

// demoDownload: phone p asks its clone to download a file from a loopback
// HTTP server; the clone fetches, scans and caches it, and the phone pulls
// it from the clone, verified, and records the pull.
func demoDownload(ctx context.Context, w io.Writer, stamp func() string, p *demoPhone) error {
	data := demoContent(77, 1<<20+4096)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("ETag", `"demo"`)
		http.ServeContent(rw, r, "dataset.bin", time.Time{}, bytes.NewReader(data))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/dataset.bin"
	before, _ := p.c.Status(ctx)
	outs, err := p.c.Input(ctx, downloads.Name, downloads.Request(url, downloads.Now))
	if err != nil {
		return err
	}
	id := [32]byte(outs[0].Data)
	var it *downloads.Item
	for it == nil || it.Status == downloads.StatusRequested {
		_ = p.c.View(ctx, func(s *replication.AppSet) { it, _ = downloadsApp(s).Get(id) })
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the clone did not cache the download: %w", p.name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if it.Status != downloads.StatusCached {
		return errors.New(p.name + ": download failed on the clone: " + it.Reason)
	}
	bx := &devicexfer.Device{Client: p.c, Host: p.h, Clone: p.clone.node.ID(), Store: boxostore.New(p.ds)}
	got, st, err := bx.Pull(ctx, it.Ref, nil)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		return fmt.Errorf("%s: pulled download differs: %v", p.name, err)
	}
	if err := p.input(ctx, downloads.Name, downloads.Pulled(id)); err != nil {
		return err
	}
	if err := p.synced(ctx); err != nil {
		return err
	}
	after, _ := p.c.Status(ctx)
	fmt.Fprintf(w, "%s mirror: phone B asked its clone to download %s (%d KB); clone B fetched, scanned it (%s) and cached it;\n",
		stamp(), url, len(data)>>10, verdictText(it.Verdict))
	fmt.Fprintf(w, "         phone B pulled it (%d blocks, each verified) and recorded the pull, which its mirror replayed from its cached copy: phone B uploaded %d bytes for it\n",
		st.Blocks, after.BytesSent-before.BytesSent)
	return nil
}

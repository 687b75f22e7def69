package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/web"
	"github.com/clone2clone/c2c/docsync"
	"github.com/spf13/cobra"
)

func newDeviceWebCmd(g *globals) *cobra.Command {
	var listen string
	var allowRemote bool
	var mf mirrorFlags
	cmd := &cobra.Command{
		Use:   "web [DOC...]",
		Short: "Serve the phone's app as a local web page: documents, live editing, undo, alarms",
		Long: `web serves the phone's app to a browser on this machine: the document list,
an editor where your edits apply at once and the other members' appear live
(your caret stays where you left it), undo and redo of your own edits
(Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y), the document's members, an offline
indicator with a button to take the device offline and back (one catch-up
bundle updates the text in place), a banner when the clone raises a
sequencer alarm (stalled) or stops the document (a fork or misbehaviour),
and the phone's mirrored apps: files, inbox, outbox, downloads and the
clone's signed scan results (what c2c device files ls, inbox, outbox,
downloads and scan list).

The documents offered are the ones this device holds (in --data) and the
ones given as arguments. The page talks only to this process, over a
WebSocket; this process keeps the link to the clone as the other c2c device
commands do.

Security: it listens on loopback only (--listen 127.0.0.1:PORT; another
address needs --allow-remote), every request needs the random token in the
URL printed at start (a new one each run), the WebSocket accepts only the
page's own Origin, and a Host header naming anything but loopback is
refused. Open the printed URL; Ctrl-C stops.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := web.CheckListen(listen, allowRemote); err != nil {
				return err
			}
			extra, err := parseDocIDs(args)
			if err != nil {
				return err
			}
			dir, err := g.dataDir("device")
			if err != nil {
				return err
			}
			s, err := openDevice(cmd.Context(), g, dir, nil, client.WithUndo(0))
			if err != nil {
				return err
			}
			defer s.close()
			docsDir := filepath.Join(dir, "docs")
			opts := []web.Option{web.WithLogger(g.log), web.WithName(s.name),
				web.WithDocs(func() []docsync.DocID { return heldDocs(docsDir, extra) })}
			// The mirror's views: the sync client connects when the page first
			// asks (the page says why if the clone cannot be reached).
			mf.offline = true
			if m, err := openMirrorOn(cmd.Context(), g, s, &mf); err != nil {
				g.log.Warn("c2c device web: no mirror views", "err", err)
			} else {
				defer m.closeMirror()
				wf := mf
				wf.offline = false
				opts = append(opts, web.WithMirror(&webMirror{m: m, f: wf}))
			}
			srv, err := web.New(s.c, opts...)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			fmt.Fprintf(g.stdout, "c2c device web: open %s\n", srv.URL(ln.Addr()))
			select {
			case <-cmd.Context().Done():
			case err := <-done:
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Close() // ends the WebSockets, which Shutdown does not wait for
			if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	mf.addSync(cmd)
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:8480", "address to serve the page on (host:port; port 0 picks one)")
	fl.BoolVar(&allowRemote, "allow-remote", false, "allow a --listen address beyond loopback (anyone who can reach it and has the token can edit as this device)")
	return cmd
}

// parseDocIDs reads hex document IDs.
func parseDocIDs(args []string) ([]docsync.DocID, error) {
	var out []docsync.DocID
	for _, a := range args {
		var id docsync.DocID
		if b, err := hex.DecodeString(a); err != nil || len(b) != len(id) {
			return nil, fmt.Errorf("document ID %q: want %d hex bytes", a, len(id))
		}
		_, _ = hex.Decode(id[:], []byte(a))
		out = append(out, id)
	}
	return out, nil
}

// heldDocs lists the documents whose state the device keeps in dir, and
// extra.
func heldDocs(dir string, extra []docsync.DocID) []docsync.DocID {
	out := slices.Clone(extra)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".state")
		if !ok {
			continue
		}
		ids, err := parseDocIDs([]string{name})
		if err == nil && !slices.Contains(out, ids[0]) {
			out = append(out, ids[0])
		}
	}
	return out
}

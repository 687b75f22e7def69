package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clone2clone/c2c/internal/cli"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/devicexfer"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// putFile stores content at path in the files app: inline when small (or
// offline), else uploaded to the clone once, with a progress bar, and put
// by reference.
func putFile(ctx context.Context, g *globals, m *mirrorSession, f *mirrorFlags, path string, content []byte) (devicexfer.Put, error) {
	bar := cli.NewProgress(g.stdout, "upload "+path, f.quiet)
	put, err := m.xfer().PutFile(ctx, path, content, f.offline, bar.Update)
	bar.Done()
	if err == nil && put.ByRef {
		if put.Upload.Blocks == 0 {
			fmt.Fprintf(g.stdout, "%s: the clone already holds it (%d bytes); put by reference\n", path, put.Ref.Size)
		} else {
			fmt.Fprintf(g.stdout, "%s: uploaded to the clone: %d blocks, %d bytes (a %d-byte file); put by reference\n",
				path, put.Upload.Blocks, put.Upload.BlockBytes, put.Ref.Size)
		}
	}
	return put, err
}

func filesApp(s *replication.AppSet) *files.App {
	a, _ := s.App(files.Name)
	return a.(*files.App)
}

func newDeviceFilesCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	cmd := &cobra.Command{
		Use:   "files put LOCAL [PATH] | ls | cat PATH | rm PATH | mv FROM TO | mkdir PATH",
		Short: "Use the mirrored file store: each change is a user input the clone's mirror replays",
		Long: `files is the device's file store, mirrored on its clone by replay: each
change is a user input, batched every t_syn_int and replayed by the clone's
mirror with the same deterministic code, so the mirror holds the same files.

  put LOCAL [PATH]  store the local file LOCAL at PATH (default: its base
                    name); a file over 1 MiB is uploaded to the clone once
                    (/c2c/blob/1.0.0, only the blocks it lacks, with a
                    progress bar) and put by reference, so its bytes never
                    ride in a batch (with --offline: inline, in slices)
  ls                list every file and directory: size, SHA-256, unixfs CID
  cat PATH          print a file's content (checked against its SHA-256)
  rm PATH           remove a file, or a directory and everything under it
  mv FROM TO        rename a file or a directory
  mkdir PATH        create a directory (a file's parent must exist)

Content is chunked and content-addressed with boxo (256 KiB chunks, raw
leaves, CIDv1, sha2-256), so identical files are stored once; each file's
SHA-256 is kept beside its CID. Changes wait for the clone to hold and
replay them, unless --offline.`,
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			change := func(p []byte) error {
				if _, err := m.c.Input(ctx, files.Name, p); err != nil {
					return err
				}
				return m.sync(ctx, &f)
			}
			switch {
			case args[0] == "put" && len(args) >= 2:
				content, err := os.ReadFile(args[1])
				if err != nil {
					return err
				}
				path := filepath.Base(args[1])
				if len(args) == 3 {
					path = args[2]
				}
				if _, err := putFile(ctx, g, m, &f, path, content); err != nil {
					return err
				}
				return m.sync(ctx, &f)
			case args[0] == "ls" && len(args) == 1:
				var list []files.Listed
				_ = m.c.View(ctx, func(s *replication.AppSet) { list = filesApp(s).List() })
				for _, l := range list {
					if l.Dir {
						fmt.Fprintf(g.stdout, "%-40s %10s\n", l.Path+"/", "dir")
						continue
					}
					fmt.Fprintf(g.stdout, "%-40s %10d sha256:%s %s\n", l.Path, l.Ref.Size, hex.EncodeToString(l.Ref.SHA256[:8]), l.Ref.CID)
				}
				return nil
			case args[0] == "cat" && len(args) == 2:
				var b []byte
				_ = m.c.View(ctx, func(s *replication.AppSet) { b, err = filesApp(s).Read(args[1]) })
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(b)
				return err
			case args[0] == "rm" && len(args) == 2:
				return change(files.Delete(args[1]))
			case args[0] == "mv" && len(args) == 3:
				return change(files.Rename(args[1], args[2]))
			case args[0] == "mkdir" && len(args) == 2:
				return change(files.Mkdir(args[1]))
			}
			return fmt.Errorf("usage: %s", cmd.Use)
		},
	}
	f.add(cmd)
	return cmd
}

// parseRecipient reads USER[/DEVICE].
func parseRecipient(s string) (outbox.Recipient, error) {
	user, device, _ := strings.Cut(s, "/")
	id, err := peer.Decode(user)
	if err != nil {
		return outbox.Recipient{}, fmt.Errorf("recipient %q: user ID: %w", s, err)
	}
	return outbox.Recipient{User: []byte(id), Device: device}, nil
}

func newDeviceSendCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	var to []string
	var text string
	cmd := &cobra.Command{
		Use:   "send FILE --to USER[/DEVICE]...",
		Short: "Send a file (and a message) to other users through the clone's mirror",
		Long: `send records "send FILE to these users" in the mirrored outbox: one small
user input that names the file by reference (its CID and SHA-256). The
phone uploads the file to its clone at most once, and not at all if the
clone holds it: the clone's mirror replays the request and delivers to each
recipient's clone (found through the directory, by the recipient's owner
certificate) a message that names the file, over /c2c/mirror/deliver/1.0.0,
retrying until each acknowledges. The recipient's clone pulls the file's
blocks from this clone (/c2c/blob/1.0.0, each verified, resumed after a
cut) and relays the message to the recipient's inbox (c2c device inbox
there); the recipient's phone pulls the file when it wants it (c2c device
pull, or inbox --save). A recipient whose phone is off gets it when it
comes back. c2c device outbox shows each recipient's status.

FILE is a path in the device's files app (c2c device files ls). If there is
no such file but FILE is a local file, it is first stored in the files app
under its base name (a file over 1 MiB by upload and reference).
--to takes a user ID (every device in the user's index) or USER/DEVICE, and
may be repeated.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(to) == 0 {
				return errors.New("send: give at least one --to USER[/DEVICE]")
			}
			q := &outbox.Request{Text: text}
			for _, s := range to {
				r, err := parseRecipient(s)
				if err != nil {
					return err
				}
				q.To = append(q.To, r)
			}
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			path := args[0]
			stat := func() (files.Entry, bool) {
				var e files.Entry
				var ok bool
				_ = m.c.View(ctx, func(s *replication.AppSet) { e, ok = filesApp(s).Stat(path) })
				return e, ok
			}
			e, ok := stat()
			if !ok {
				content, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("send: %q is neither in the files app nor a local file: %w", path, err)
				}
				path = filepath.Base(path)
				if _, err := putFile(ctx, g, m, &f, path, content); err != nil {
					return err
				}
				e, _ = stat()
			}
			if e.Dir {
				return fmt.Errorf("send: %q is a directory", path)
			}
			q.Files = []inbox.Attached{{Name: filepath.Base(path), Ref: e.Ref}}
			id, err := m.xfer().Send(ctx, q)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "queued %s (%d bytes, sha256:%s) for %d recipient(s) as request %x; the clone delivers it (c2c device outbox)\n",
				path, e.Ref.Size, hex.EncodeToString(e.Ref.SHA256[:8]), len(q.To), id[:8])
			return m.sync(ctx, &f)
		},
	}
	f.add(cmd)
	cmd.Flags().StringArrayVar(&to, "to", nil, "recipient USER or USER/DEVICE (repeatable)")
	cmd.Flags().StringVar(&text, "text", "", "a message to go with the file")
	return cmd
}

func newDeviceInboxCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	var save string
	cmd := &cobra.Command{
		Use:   "inbox [--save DIR]",
		Short: "List the messages and files other users sent to this user",
		Long: `inbox syncs with the clone and lists the mirrored inbox: the messages other
users' clones delivered to this user's clone, which relayed each to this
device as a network input (the phone never sends them back). Each line
gives the arrival order, the sender (user/device), the time it was sent,
its text and its files (size, SHA-256, whether this phone holds it yet).
A message delivered twice is kept once. --save DIR writes every attachment
into DIR, first pulling from the clone (with a progress bar, verified,
resumable) those the phone does not hold yet: files sent by reference
reach the phone only when it asks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			serr := m.sync(ctx, &f)
			var items []*inbox.Item
			var app *inbox.App
			_ = m.c.View(ctx, func(s *replication.AppSet) {
				a, _ := s.App(inbox.Name)
				app = a.(*inbox.App)
				items = app.List()
			})
			for _, it := range items {
				fmt.Fprintf(g.stdout, "#%d from %s/%s sent %s: %q\n", it.NetSeq, inboxSender(it), it.FromDevice,
					time.UnixMilli(int64(it.Sent)).UTC().Format(time.RFC3339), it.Text)
				for _, a := range it.Files {
					fmt.Fprintf(g.stdout, "    %s %d bytes sha256:%s %s\n", a.Name, a.Ref.Size, hex.EncodeToString(a.Ref.SHA256[:8]), heldWhere(app, a))
					if save == "" {
						continue
					}
					b, err := pullRef(ctx, g, m, &f, a.Name, a.Ref)
					if err == nil {
						err = os.WriteFile(filepath.Join(save, filepath.Base(a.Name)), b, 0o600)
					}
					if err != nil {
						return err
					}
				}
			}
			if len(items) == 0 {
				fmt.Fprintln(g.stdout, "inbox empty")
			}
			return serr
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&save, "save", "", "write the attachments into this directory")
	return cmd
}

// inboxSender names a message's sender: its user ID.
func inboxSender(it *inbox.Item) string {
	if from, err := peer.IDFromBytes(it.From); err == nil {
		return from.String()
	}
	return hex.EncodeToString(it.From)
}

// heldWhere says whether the phone holds an attachment yet.
func heldWhere(app *inbox.App, a inbox.Attached) string {
	if app.Held(a) {
		return "on the phone"
	}
	return "on the clone (c2c device pull " + a.Ref.CID.String() + ")"
}

// pullRef returns a blob's content, pulled from the clone first (with a
// progress bar) if the phone does not hold it whole.
func pullRef(ctx context.Context, g *globals, m *mirrorSession, f *mirrorFlags, name string, ref boxostore.Ref) ([]byte, error) {
	bar := cli.NewProgress(g.stdout, "pull "+name, f.quiet)
	b, _, err := m.xfer().Pull(ctx, ref, bar.Update)
	bar.Done()
	return b, err
}

func newDevicePullCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	var out string
	cmd := &cobra.Command{
		Use:   "pull CID [--out FILE]",
		Short: "Pull a file the phone's apps name (an inbox attachment, a file) from the clone",
		Long: `pull gets the blob that an inbox attachment or a file of this phone names
by its unixfs root CID (c2c device inbox and files ls print them) from the
clone, over /c2c/blob/1.0.0: only the blocks the phone lacks move, each is
checked against the CID its parent names before it is kept, and the whole
against the file's SHA-256 and size. A pull that was cut resumes where it
stopped. --out writes the content to a local file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cid.Decode(args[0])
			if err != nil {
				return fmt.Errorf("CID %q: %w", args[0], err)
			}
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			if err := m.sync(ctx, &f); err != nil {
				return err
			}
			ref, err := m.xfer().Find(ctx, c)
			if err != nil {
				return err
			}
			b, err := pullRef(ctx, g, m, &f, c.String()[:12]+"...", ref)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: %d bytes, sha256:%s, verified\n", c, len(b), hex.EncodeToString(ref.SHA256[:8]))
			if out != "" {
				return os.WriteFile(out, b, 0o600)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "write the content to this local file")
	return cmd
}

func newDeviceOutboxCmd(g *globals) *cobra.Command {
	var f mirrorFlags
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "List what this phone sent, with each recipient's delivery status",
		Long: `outbox syncs with the clone and lists the mirrored outbox: every request
this phone made with c2c device send, its files, and per recipient the
status its clone reported back as a network input: delivered (to which
device), refused (with the recipient clone's reason), or pending (the
clone keeps retrying until the recipient's clone acknowledges).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMirror(cmd, g, &f)
			if err != nil {
				return err
			}
			defer m.close()
			ctx := cmd.Context()
			serr := m.sync(ctx, &f)
			var lines []string
			_ = m.c.View(ctx, func(s *replication.AppSet) {
				a, _ := s.App(outbox.Name)
				lines = outboxLines(a.(*outbox.App))
			})
			for _, l := range lines {
				fmt.Fprintln(g.stdout, l)
			}
			if len(lines) == 0 {
				fmt.Fprintln(g.stdout, "outbox empty")
			}
			return serr
		},
	}
	f.add(cmd)
	return cmd
}

// outboxLines renders each request and its recipients' statuses.
func outboxLines(a *outbox.App) []string {
	var out []string
	for _, sent := range a.List() {
		names := make([]string, len(sent.Files))
		for i, f := range sent.Files {
			names[i] = fmt.Sprintf("%s (%d bytes)", f.Name, f.Ref.Size)
		}
		out = append(out, fmt.Sprintf("request %x sent %s: %q %s", sent.ID[:8],
			time.UnixMilli(int64(sent.Time)).UTC().Format(time.RFC3339), sent.Text, strings.Join(names, ", ")))
		byTo := map[int][]outbox.Delivery{}
		for _, d := range a.Deliveries(sent.ID) {
			byTo[d.To] = append(byTo[d.To], d)
		}
		for i, to := range sent.To {
			who := hex.EncodeToString(to.User)
			if id, err := peer.IDFromBytes(to.User); err == nil {
				who = id.String()
			}
			if to.Device != "" {
				who += "/" + to.Device
			}
			if len(byTo[i]) == 0 {
				out = append(out, fmt.Sprintf("    %s: pending", who))
			}
			for _, d := range byTo[i] {
				state := "delivered to " + d.Device
				if d.State == outbox.Refused {
					state = "refused by " + d.Device + ": " + d.Reason
				}
				out = append(out, fmt.Sprintf("    %s: %s", who, state))
			}
		}
	}
	return out
}

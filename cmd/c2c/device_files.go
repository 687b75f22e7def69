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

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// putSlice is the largest slice of a file one input carries (the payload
// cap, less room for the operation's header).
const putSlice = 1<<20 - 4<<10

// putFile stores content at path in the files app: one put, then writes at
// growing offsets for what does not fit in one input.
func putFile(ctx context.Context, m *mirrorSession, path string, content []byte) error {
	first := content[:min(len(content), putSlice)]
	if _, err := m.c.Input(ctx, files.Name, files.Put(path, first)); err != nil {
		return err
	}
	for off := len(first); off < len(content); off += putSlice {
		end := min(len(content), off+putSlice)
		if _, err := m.c.Input(ctx, files.Name, files.Write(path, uint64(off), content[off:end])); err != nil {
			return err
		}
	}
	return nil
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
                    name); files over 1 MiB go as a put and writes at offsets
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
				if err := putFile(ctx, m, path, content); err != nil {
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
phone uploads nothing more: the clone's mirror replays the request and
delivers the file to each recipient's clone (found through the directory,
by the recipient's owner certificate) over /c2c/mirror/deliver/1.0.0,
retrying until each acknowledges; the recipient's clone relays it to the
recipient's inbox (c2c device inbox there).

FILE is a path in the device's files app (c2c device files ls). If there is
no such file but FILE is a local file, it is first stored in the files app
under its base name (that upload is the files app's, not the send's).
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
				if err := putFile(ctx, m, path, content); err != nil {
					return err
				}
				e, _ = stat()
			}
			if e.Dir {
				return fmt.Errorf("send: %q is a directory", path)
			}
			q.Files = []inbox.Attached{{Name: filepath.Base(path), Ref: e.Ref}}
			if _, err := m.c.Input(ctx, outbox.Name, q.Marshal()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "queued %s (%d bytes, sha256:%s) for %d recipient(s); the clone delivers it\n",
				path, e.Ref.Size, hex.EncodeToString(e.Ref.SHA256[:8]), len(q.To))
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
its text and its files (size, SHA-256). A message delivered twice is kept
once. --save DIR writes every attachment into DIR.`,
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
				from, err := peer.IDFromBytes(it.From)
				sender := hex.EncodeToString(it.From)
				if err == nil {
					sender = from.String()
				}
				fmt.Fprintf(g.stdout, "#%d from %s/%s sent %s: %q\n", it.NetSeq, sender, it.FromDevice,
					time.UnixMilli(int64(it.Sent)).UTC().Format(time.RFC3339), it.Text)
				for _, a := range it.Files {
					fmt.Fprintf(g.stdout, "    %s %d bytes sha256:%s\n", a.Name, a.Ref.Size, hex.EncodeToString(a.Ref.SHA256[:8]))
					if save == "" {
						continue
					}
					b, err := app.ReadFile(a)
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

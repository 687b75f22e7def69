package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/clone2clone/c2c/control"
	"github.com/spf13/cobra"
)

// docFlags are the flags of every c2c doc command.
type docFlags struct {
	socket string
	json   bool
}

func newDocCmd(g *globals) *cobra.Command {
	f := &docFlags{}
	cmd := &cobra.Command{
		Use:   "doc",
		Short: "Create, share, edit and inspect CloneDoc documents on a running clone",
		Long: `doc drives the documents of a running clone through its control socket,
<data>/control.sock (--data is the clone's data dir; or give --socket). The
socket is owner-only (mode 0600 in a 0700 dir): whoever can open it is the
clone's owner.

Documents are named by their 64-hex-digit ID; any unique prefix of 8 or more
digits works too. Positions count Unicode code points.

  c2c doc create --sequencer /ip4/.../p2p/SEQ   prints the new document's ID
  c2c doc invite DOC USER DEVICE [--role writer]
  c2c doc remove DOC MEMBER                    MEMBER: member ID or clone peer ID
  c2c doc members DOC
  c2c doc show DOC                             head seq/hash, pending, alarm, text
  c2c doc edit DOC --append TEXT | --insert TEXT --at N | --delete N --at P | --set FILE|-
  c2c doc log DOC [--from N] [--to M]
  c2c doc watch DOC [--until alarm]            stream updates and alarms (fork, misbehaviour, stalled)
  c2c doc evidence DOC --out FILE              export evidence against the sequencer (c2c verify-evidence FILE checks it)
  c2c doc move DOC --sequencer ADDR [--takeover]  move the document to another sequencer (admins)
  c2c doc list                                 also lists stored documents that could not be opened
  c2c doc forget DOC                           delete a document from this clone

` + envHelp,
	}
	cmd.PersistentFlags().StringVar(&f.socket, "socket", "", "control socket (default <data>/"+control.SocketFile+")")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON instead of text")
	cmd.AddCommand(
		docCreateCmd(g, f), docListCmd(g, f), docInviteCmd(g, f), docRemoveCmd(g, f),
		docMembersCmd(g, f), docShowCmd(g, f), docEditCmd(g, f), docLogCmd(g, f), docWatchCmd(g, f),
		docForgetCmd(g, f), docEvidenceCmd(g, f), docMoveCmd(g, f),
	)
	return cmd
}

func (f *docFlags) client(g *globals) (*control.Client, error) {
	path := f.socket
	if path == "" {
		dir, err := g.dataDir("clone")
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, control.SocketFile)
	}
	return control.NewClient(path), nil
}

// call runs f with a client and prints v as JSON if --json is set.
func (f *docFlags) call(cmd *cobra.Command, g *globals, run func(ctx context.Context, c *control.Client) (any, error), text func(w io.Writer, v any)) error {
	c, err := f.client(g)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := run(cmd.Context(), c)
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout, v)
	return nil
}

func docCreateCmd(g *globals, f *docFlags) *cobra.Command {
	var seq string
	cmd := &cobra.Command{
		Use:   "create --sequencer ADDR",
		Short: "Create a document ordered by a sequencer; prints its ID",
		Long: `create makes a new document on the clone, which becomes its admin, and
registers it with the sequencer. ADDR is the sequencer's /p2p multiaddr (from
its output or <data>/addrs), or its bare peer ID to look it up in the DHT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seq == "" {
				return errors.New("create needs --sequencer: the sequencer's /p2p multiaddr or peer ID")
			}
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				id, err := c.Create(ctx, seq)
				return control.CreateResult{Doc: id}, err
			}, func(w io.Writer, v any) { fmt.Fprintln(w, v.(control.CreateResult).Doc) })
		},
	}
	cmd.Flags().StringVar(&seq, "sequencer", "", "the sequencer's /p2p multiaddr or peer ID (required)")
	return cmd
}

func docListCmd(g *globals, f *docFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the documents the clone tracks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.DocList(ctx)
			}, func(w io.Writer, v any) {
				l := v.(control.DocList)
				for _, d := range l.Docs {
					fmt.Fprintln(w, d)
				}
				for _, u := range l.Unopened {
					fmt.Fprintf(w, "%s  NOT OPENED: %s (c2c doc forget removes it)\n", u.Doc, u.Error)
				}
			})
		},
	}
}

func docForgetCmd(g *globals, f *docFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "forget DOC",
		Short: "Stop tracking a document and delete everything the clone kept of it",
		Long: `forget removes a document from the clone: it leaves the document's topics and
deletes its log, pending edits, fork proof and meta records from the clone's
store. Edits not yet committed are lost. It also removes a document the
clone could not open at start (listed by 'c2c doc list' as NOT OPENED).
Other members keep the document; the clone can be invited again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return map[string]string{"forgot": args[0]}, c.Forget(ctx, args[0])
			}, func(w io.Writer, _ any) { fmt.Fprintf(w, "forgot %s\n", args[0]) })
		},
	}
}

func docInviteCmd(g *globals, f *docFlags) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "invite DOC USER DEVICE",
		Short: "Add the clone of a user's device to a document",
		Long: `invite looks the clone of (USER, DEVICE) up in the directory, adds it to the
document with --role (the document key is wrapped to the HPKE key in its
owner certificate), waits for the sequencer to commit that, and sends the
clone an invitation. It prints the new member's ID and peer ID.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Invite(ctx, args[0], args[1], args[2], role)
			}, func(w io.Writer, v any) {
				r := v.(control.InviteResult)
				fmt.Fprintf(w, "member: %s\npeer:   %s\n", r.Member, r.Peer)
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "writer", "reader, writer or admin")
	return cmd
}

func docRemoveCmd(g *globals, f *docFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove DOC MEMBER",
		Short: "Remove a member (it cannot read anything written afterwards)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return struct{}{}, c.Remove(ctx, args[0], args[1])
			}, func(w io.Writer, _ any) { fmt.Fprintf(w, "removed %s\n", args[1]) })
		},
	}
}

func docMembersCmd(g *globals, f *docFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "members DOC",
		Short: "List a document's members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Members(ctx, args[0])
			}, func(w io.Writer, v any) {
				tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tPEER\tMEMBER")
				for _, m := range v.([]control.MemberInfo) {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Role, m.Peer, m.Member)
				}
				tw.Flush()
			})
		},
	}
}

func docShowCmd(g *globals, f *docFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show DOC",
		Short: "Print a document's state (head seq and hash, pending, alarm) and its text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Show(ctx, args[0])
			}, func(w io.Writer, v any) { printDocInfo(w, v.(control.DocInfo)) })
		},
	}
}

func printDocInfo(w io.Writer, in control.DocInfo) {
	fmt.Fprintf(w, "doc:       %s\n", in.Doc)
	fmt.Fprintf(w, "sequencer: %s\n", in.Sequencer)
	fmt.Fprintf(w, "head:      seq %d, chain %s\n", in.Seq, in.Head)
	if in.Applied != in.Seq {
		fmt.Fprintf(w, "applied:   seq %d (waiting for a key)\n", in.Applied)
	}
	fmt.Fprintf(w, "pending:   %v\n", in.Pending)
	fmt.Fprintf(w, "role:      %s (%d members, key epoch %d)\n", in.Role, in.Members, in.Epoch)
	if in.Missing != [2]uint64{} {
		fmt.Fprintf(w, "missing:   seq %d..%d\n", in.Missing[0], in.Missing[1])
	}
	if in.Alarm != nil {
		fmt.Fprintf(w, "ALARM:     the sequencer forked the log at seq %d (%s vs %s); the document is halted\n",
			in.Alarm.Seq, in.Alarm.A[:16], in.Alarm.B[:16])
	}
	for _, k := range in.Misbehaved {
		fmt.Fprintf(w, "ALARM:     the sequencer misbehaved (%s); evidence kept (c2c doc evidence); the document is halted\n", k)
	}
	for _, k := range in.Recovered {
		fmt.Fprintf(w, "recovered: from a sequencer that misbehaved (%s) onto the current one; evidence kept (c2c doc evidence)\n", k)
	}
	if st := in.Stalled; st != nil {
		fmt.Fprintf(w, "ALARM:     the sequencer stalled since %s: %s (%s)\n", st.Since.Format("15:04:05"), st.Reason, st.Detail)
	}
	if in.Broken != "" {
		fmt.Fprintf(w, "BROKEN:    %s\n", in.Broken)
	}
	fmt.Fprintf(w, "text:\n%s\n", in.Text)
}

func docLogCmd(g *globals, f *docFlags) *cobra.Command {
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "log DOC",
		Short: "List a document's committed entries (seq, author, kind, size, chain hash)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Log(ctx, args[0], from, to)
			}, func(w io.Writer, v any) {
				tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tAUTHOR\tKIND\tEPOCH\tSIZE\tCHAIN")
				for _, e := range v.([]control.LogEntry) {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", e.Seq, e.Author[:16], e.Kind, e.Epoch, e.Size, e.Chain[:16])
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "first seq (default 1)")
	cmd.Flags().Uint64Var(&to, "to", 0, "last seq (default the head)")
	return cmd
}

func docEditCmd(g *globals, f *docFlags) *cobra.Command {
	var (
		insert, appendText, set string
		at, del                 int
	)
	cmd := &cobra.Command{
		Use:   "edit DOC (--append TEXT | --insert TEXT --at N | --delete N --at P | --set FILE|-)",
		Short: "Edit a document; returns once the edit is durable on the clone",
		Long: `edit applies one edit to the clone's copy of the document and returns once it
is durable (acknowledged: it survives a crash of the clone and will be
ordered by the sequencer). Positions count Unicode code points of the text
as the clone has it when the edit is applied.

  --append TEXT          insert TEXT at the end
  --insert TEXT --at N   insert TEXT before code point N (0 = start)
  --delete N --at P      delete N code points from P
  --set FILE             replace the whole text by FILE's content (- = stdin)

It prints the text's new length.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var req control.EditRequest
			n := 0
			for _, name := range []string{"append", "insert", "delete", "set"} {
				if fl.Changed(name) {
					n++
				}
			}
			if n != 1 {
				return errors.New("edit needs exactly one of --append, --insert, --delete or --set")
			}
			switch {
			case fl.Changed("append"):
				req = control.EditRequest{Kind: control.EditAppend, Text: appendText}
			case fl.Changed("insert"):
				if !fl.Changed("at") {
					return errors.New("--insert needs --at N")
				}
				req = control.EditRequest{Kind: control.EditInsert, Text: insert, At: at}
			case fl.Changed("delete"):
				if !fl.Changed("at") {
					return errors.New("--delete needs --at P")
				}
				req = control.EditRequest{Kind: control.EditDelete, Count: del, At: at}
			case fl.Changed("set"):
				text, err := readInput(cmd.InOrStdin(), set)
				if err != nil {
					return err
				}
				req = control.EditRequest{Kind: control.EditSet, Text: text}
			}
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Edit(ctx, args[0], req)
			}, func(w io.Writer, v any) { fmt.Fprintf(w, "ok, length %d\n", v.(control.EditResult).Length) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&appendText, "append", "", "text to insert at the end")
	fl.StringVar(&insert, "insert", "", "text to insert at --at")
	fl.IntVar(&del, "delete", 0, "number of code points to delete at --at")
	fl.IntVar(&at, "at", 0, "position in code points")
	fl.StringVar(&set, "set", "", "replace the whole text by this file's content (- for stdin)")
	return cmd
}

func readInput(stdin io.Reader, name string) (string, error) {
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20+1))
		if err != nil {
			return "", err
		}
		if len(b) > 1<<20 {
			return "", errors.New("--set: input larger than 1 MiB")
		}
		return string(b), nil
	}
	b, err := os.ReadFile(name)
	return string(b), err
}

func docWatchCmd(g *globals, f *docFlags) *cobra.Command {
	var until string
	cmd := &cobra.Command{
		Use:   "watch DOC",
		Short: "Stream a document's updates, commits, membership changes and fork alarms",
		Long: `watch prints one line per event of the document until interrupted: remote
updates, commits, membership changes, rejected entries and fork alarms. A
fork alarm that already halted the document is printed first. With
--until alarm it exits (status 3) at the first fork alarm.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if until != "" && until != "alarm" {
				return fmt.Errorf("--until %q: only \"alarm\" is supported", until)
			}
			c, err := f.client(g)
			if err != nil {
				return err
			}
			defer c.Close()
			alarmed := false
			enc := json.NewEncoder(g.stdout)
			err = c.Watch(cmd.Context(), args[0], func(ev control.Event) bool {
				if f.json {
					_ = enc.Encode(ev)
				} else {
					fmt.Fprintln(g.stdout, eventLine(ev))
				}
				if ev.Kind == "alarm" {
					alarmed = true
					return until != "alarm"
				}
				return true
			})
			if alarmed && until == "alarm" {
				return errAlarm
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&until, "until", "", `"alarm": exit with status 3 at the first alarm (fork, misbehaviour or stalled)`)
	return cmd
}

// errAlarm makes c2c doc watch --until alarm exit with status 3.
var errAlarm = errors.New("alarm")

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

func eventLine(ev control.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-10s", ev.Time.Format("15:04:05.000"), ev.Kind)
	if ev.Seq > 0 {
		fmt.Fprintf(&b, " seq=%d", ev.Seq)
	}
	if ev.Author != "" {
		fmt.Fprintf(&b, " author=%s", short(ev.Author))
	}
	if ev.Inserted != "" {
		fmt.Fprintf(&b, " inserted=%q", ev.Inserted)
	}
	if ev.Deleted > 0 {
		fmt.Fprintf(&b, " deleted=%d", ev.Deleted)
	}
	if ev.Member != "" {
		fmt.Fprintf(&b, " %s", ev.Member)
	}
	if ev.Alarm != nil {
		fmt.Fprintf(&b, " FORK at seq %d: %s vs %s (document halted)", ev.Alarm.Seq, short(ev.Alarm.A), short(ev.Alarm.B))
	}
	if m := ev.Misbehaviour; m != nil {
		fmt.Fprintf(&b, " MISBEHAVIOUR %s at seq %d: evidence kept (document halted)", m.Kind, m.Seq)
	}
	if st := ev.Stalled; st != nil && ev.Kind == "alarm" {
		fmt.Fprintf(&b, " SEQUENCER STALLED: %s (%s)", st.Reason, st.Detail)
	} else if st != nil {
		fmt.Fprintf(&b, " sequencer resumed (stalled since %s)", st.Since.Format("15:04:05"))
	}
	if ev.Error != "" {
		fmt.Fprintf(&b, " error=%q", ev.Error)
	}
	if ev.Lost > 0 {
		fmt.Fprintf(&b, " (%d events lost before)", ev.Lost)
	}
	return b.String()
}

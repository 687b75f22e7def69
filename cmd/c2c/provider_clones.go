package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/spf13/cobra"
)

const providerClonesHelp = `clones administers the clones a running provider hosts (c2c provider
--host-clones), through its operator socket <data>/clonehost.sock: a Unix
socket of mode 0600 in the provider's 0700 data dir, so only the OS user
that runs the provider can use it. --data is the provider's data dir.
The socket has no call that reads or edits a document; those stay behind
each clone's own control socket (c2c doc --data <data>/clones/NAME).

  list              every hosted clone: name, peer ID, user, device, state
                    (running/stopped/asleep: closed while idle, started
                    again by its first traffic), published, connections, documents,
                    devices connected, estimated memory (--json: the list)
  enrol NAME        start hosting <data>/clones/NAME without restarting the
                    provider; enroll it there first:
                      c2c enroll --key USER.key --device phone --clone-data <data>/clones/NAME
  stop NAME         stop a clone: its host closes (device link, documents,
                    control socket); it stays stopped across restarts of
                    the provider until started. Its records are not
                    withdrawn (they are signed by the user's key, which the
                    provider does not hold): the DHT's copies stay until
                    48 h after each node received them (nothing republishes
                    them meanwhile), the providers' replicas until the
                    certificate's end of life. Lookups find the certificate;
                    resolving its address and dialing it fail.
  start NAME        start a stopped or sleeping clone again, with its state
  remove NAME       delete a stopped clone: its data and its directory
  export NAME --out FILE
                    stop the clone and write its export: identity key, HPKE
                    key, owner certificate, device index, contacts and all
                    its data (documents, device link and mirror state).
                    The export IS the clone's secrets: whoever holds it can
                    run the clone as its owner's. It is written with mode
                    0600 and never over an existing file; --out - writes
                    it to stdout, for a pipe. The clone stays stopped here
                    (start it to undo); remove it once imported elsewhere.
  import NAME FILE  verify an export (whole, before anything is written: the
                    owner certificate is valid and names the identity's
                    peer ID and HPKE key, sizes within 1 GiB in all and
                    64 MiB per entry, the checksum), then store it as
                    <data>/clones/NAME and start it; it publishes its
                    records from this provider. FILE - reads stdin.
  migrate NAME --to DATA
                    export from this provider straight into the import of
                    the provider whose data dir is DATA (on this machine),
                    wait until it is published there, then remove it here.
                    If the import fails it is started here again. Between
                    machines: c2c provider clones export NAME --out - |
                    ssh HOST c2c provider clones import NAME - --data DATA,
                    then c2c provider clones remove NAME here.

Nothing acknowledged is lost by a migration: the clone stops before its
export is read. Its owner's devices find it at the new provider through
the directory (c2c device connect --provider ADDR).

`

func newProviderClonesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clones list | enrol NAME | stop NAME | start NAME | remove NAME | export NAME | import NAME FILE | migrate NAME",
		Short: "Administer a running provider's hosted clones: list, enrol, stop, start, remove, export, import, migrate",
		Long:  providerClonesHelp + envHelp,
	}
	admin := func() (*clonehost.AdminClient, string, error) {
		dir, err := g.dataDir("provider")
		if err != nil {
			return nil, "", err
		}
		sock := filepath.Join(dir, clonehost.AdminSocket)
		if _, err := os.Stat(sock); err != nil {
			return nil, "", fmt.Errorf("no running provider with --host-clones in %s (no %s): start it with c2c provider --host-clones --data %s", dir, sock, dir)
		}
		return clonehost.NewAdminClient(sock), dir, nil
	}
	one := func(use, short, long string, f func(a *clonehost.AdminClient, ctx context.Context, name string) error, done string) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: short, Long: long, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, _, err := admin()
				if err != nil {
					return err
				}
				defer a.Close()
				if err := f(a, cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s %s\n", args[0], done)
				return nil
			}}
	}
	cmd.AddCommand(
		newProviderClonesListCmd(g, admin),
		one("enrol", "Start hosting <data>/clones/NAME (enrolled with c2c enroll) without a restart",
			`enrol starts hosting the clone in <data>/clones/NAME while the provider runs.
Enroll it there first, with its user's key:

  c2c enroll --key USER.key --device phone --clone-data <data>/clones/NAME

NAME is [A-Za-z0-9._-], at most 64 bytes. It refuses a name or a clone
already hosted and a provider at its --clone-capacity.`,
			(*clonehost.AdminClient).Enrol, "enrolled and started"),
		one("stop", "Stop a hosted clone (stays stopped across restarts; its records are not withdrawn)",
			`stop closes the clone's host (device link, documents, control socket; every
acknowledged edit is already on disk) and marks it stopped, so it stays
stopped across restarts of the provider until c2c provider clones start.
Its records are not withdrawn (the user's key signed them, the provider
does not hold it): the DHT's copies stay until 48 h after each node got
them, the providers' replicas until the certificate's end of life; lookups
find the certificate and dialing the clone fails.`,
			(*clonehost.AdminClient).Stop, "stopped"),
		one("start", "Start a stopped hosted clone again, with its state",
			`start starts a stopped clone again with its state; it publishes its records
and stays running across restarts of the provider.`,
			(*clonehost.AdminClient).Start, "started"),
		one("remove", "Delete a stopped hosted clone: its data and its directory",
			`remove deletes a stopped clone: its entries in the provider's datastore, then
its directory with its identity and keys. It refuses a running clone. Use
it after the clone was exported and imported elsewhere.`,
			(*clonehost.AdminClient).Remove, "removed"),
		newProviderClonesExportCmd(g, admin),
		newProviderClonesImportCmd(g, admin),
		newProviderClonesMigrateCmd(g, admin),
	)
	return cmd
}

type adminOpener func() (*clonehost.AdminClient, string, error)

func newProviderClonesListCmd(g *globals, admin adminOpener) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the hosted clones with their state, connections, documents, devices and estimated memory",
		Long: `list prints every clone the provider hosts, running or stopped. MEMORY is an
estimate (clonehost.MemoryModel: an idle clone's measured share plus its
connections and documents), not a measurement: the clones share one heap.
DORMANT counts the documents nobody edited lately, whose gossip meshes the
clone left (--clone-dormant-after).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, _, err := admin()
			if err != nil {
				return err
			}
			defer a.Close()
			infos, err := a.Clones(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if infos == nil {
					infos = []clonehost.CloneInfo{}
				}
				return json.NewEncoder(g.stdout).Encode(infos)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPEER\tUSER\tDEVICE\tSTATE\tPUBLISHED\tCONNS\tDOCS\tDORMANT\tDEVICES\tMEMORY")
			for _, in := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%d\t%d\t%d\t%d\t%s\n", in.Name, in.Peer, in.User, in.Device, in.State,
					in.Published, in.Conns, in.Docs, in.DormantDocs, in.Devices, humanBytes(in.MemoryBytes))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as one JSON array")
	return cmd
}

func humanBytes(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func newProviderClonesExportCmd(g *globals, admin adminOpener) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export NAME --out FILE",
		Short: "Stop a hosted clone and write its export (its secrets and data: mode 0600)",
		Long: `export stops the hosted clone NAME (it stays stopped on this provider) and
writes its export to --out: its identity key, HPKE key, owner certificate,
device index, contacts and every entry of its datastore (documents, device
link state, mirror state), checksummed.

The export is the clone's secrets: whoever holds it can run the clone in
its owner's name. It is created with mode 0600, never over an existing
file; keep it as you keep the provider's disk, and delete it once
imported. --out - writes to stdout (for a pipe into import).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("export needs --out FILE (or --out - for stdout)")
			}
			a, _, err := admin()
			if err != nil {
				return err
			}
			defer a.Close()
			w, finish := io.Writer(g.stdout), func(err error) error { return err }
			if out != "-" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				w = f
				finish = func(err error) error {
					if err == nil {
						err = f.Sync()
					}
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil {
						_ = os.Remove(out) // a partial export is no export
					}
					return err
				}
			}
			start := time.Now()
			n, err := a.Export(cmd.Context(), args[0], w)
			if err := finish(err); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "exported %s: %d bytes in %.2f s (it is stopped here; remove it once imported elsewhere)\n",
				args[0], n, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the export file to create (mode 0600), or - for stdout")
	return cmd
}

func newProviderClonesImportCmd(g *globals, admin adminOpener) *cobra.Command {
	return &cobra.Command{
		Use:   "import NAME FILE",
		Short: "Verify an export and run it as hosted clone NAME",
		Long: `import sends the export in FILE (- for stdin) to the running provider, which
reads it whole and verifies it before it writes anything: the format and
its checksum, sizes (1 GiB in all, 64 MiB per entry, 16 files), an owner
certificate that is valid now and names the identity's peer ID and the HPKE
key, a device index of the same user. Then it stores it as <data>/clones/NAME
and its data under the clone's prefix of the provider's datastore, synced,
and starts it: the clone publishes its records from this provider and its
devices find it here through the directory. It refuses a name in use and a
clone it hosts already.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, _, err := admin()
			if err != nil {
				return err
			}
			defer a.Close()
			r := io.Reader(os.Stdin)
			if args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			start := time.Now()
			if err := a.Import(cmd.Context(), args[0], r); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s imported and started in %.2f s\n", args[0], time.Since(start).Seconds())
			return nil
		},
	}
}

func newProviderClonesMigrateCmd(g *globals, admin adminOpener) *cobra.Command {
	var to, as string
	var wait time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate NAME --to DATA",
		Short: "Move a hosted clone to another provider on this machine (export, import, publish, remove)",
		Long: `migrate moves hosted clone NAME from this provider (--data) to the running
provider whose data dir is --to: it stops the clone here, streams its
export into the other provider's import (verified there before anything is
written), waits until the other provider lists it published (--wait), and
removes it here. If the import fails the clone is started here again; if
it is not published in time it stays stopped here, and the error says so.
No export file is written. Every edit the clone acknowledged is in what
moves. Between machines, pipe export into import (c2c provider clones
--help).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return errors.New("migrate needs --to DATA, the other provider's data dir")
			}
			from, _, err := admin()
			if err != nil {
				return err
			}
			defer from.Close()
			sock := filepath.Join(to, clonehost.AdminSocket)
			if _, err := os.Stat(sock); err != nil {
				return fmt.Errorf("--to %s: no running provider with --host-clones there (no %s)", to, sock)
			}
			dst := clonehost.NewAdminClient(sock)
			defer dst.Close()
			if as == "" {
				as = args[0]
			}
			res, err := clonehost.Migrate(cmd.Context(), from, dst, args[0], as, wait)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(map[string]any{"clone": as, "bytes": res.Bytes,
					"moved_s": res.Moved.Seconds(), "published_s": res.Published.Seconds()})
			}
			fmt.Fprintf(g.stdout, "%s migrated to %s as %s: %d bytes, running there after %.2f s, published after %.2f s; removed here\n",
				args[0], to, as, res.Bytes, res.Moved.Seconds(), res.Published.Seconds())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&to, "to", "", "the data dir of the provider to move the clone to (it must run with --host-clones)")
	fl.StringVar(&as, "as", "", "its name on the other provider (default: the same)")
	fl.DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the other provider to list it published")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object: clone, bytes, moved_s, published_s")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

func newDirCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dir",
		Short: "Query the directory of clones",
		Long:  "dir groups the commands that read the signed-record directory.\n\n" + envHelp,
	}
	cmd.AddCommand(newDirLookupCmd(g))
	return cmd
}

type lookupFlags struct {
	bootstrap []string
	timeout   time.Duration
}

func newDirLookupCmd(g *globals) *cobra.Command {
	f := &lookupFlags{}
	cmd := &cobra.Command{
		Use:   "lookup USER [DEVICE]",
		Short: "Look up a user's clone records",
		Long: `lookup joins the overlay as a DHT client through --bootstrap and prints the
owner certificate of USER's DEVICE, or of every device in USER's signed device
index when DEVICE is omitted: user, device, device key, clone peer ID, seq,
end of life and the clone's addresses (from DHT peer routing, or the
certificate's hint). USER is a user ID as printed by c2c keygen.

It exits nonzero with an error when no record is found. Without --data it
uses a throw-away identity.

` + envHelp,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLookup(cmd.Context(), g, f, args)
		},
	}
	cmd.Flags().StringSliceVar(&f.bootstrap, "bootstrap", nil, "providers' /p2p multiaddrs, comma-separated or repeated (required)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func runLookup(ctx context.Context, g *globals, f *lookupFlags, args []string) error {
	user, err := peer.Decode(args[0])
	if err != nil {
		return fmt.Errorf("USER %q is not a user ID: %w", args[0], err)
	}
	boot, err := parseBootstrap(f.bootstrap)
	if err != nil {
		return err
	}
	if len(boot) == 0 {
		return errors.New("dir lookup needs --bootstrap (or C2C_BOOTSTRAP): the /p2p multiaddr of at least one provider")
	}
	dataDir := g.data
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "c2c-lookup-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	} else if dataDir, err = g.dataDir("device"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	cfg := node.DefaultConfig(node.RoleDevice, dataDir)
	cfg.ListenAddrs = nil // a client: outbound connections only
	cfg.Bootstrap = boot
	opts := []node.Option{node.WithLogger(g.log)}
	reg, err := g.metricsRegistry(ctx)
	if err != nil {
		return err
	}
	if reg != nil {
		opts = append(opts, node.WithMetrics(reg))
	}
	n, err := node.New(ctx, cfg, opts...)
	if err != nil {
		return err
	}
	defer n.Close()
	select {
	case <-n.Joined():
	case <-ctx.Done():
		return fmt.Errorf("could not reach any provider in %v", f.timeout)
	}

	devices := args[1:]
	if len(devices) == 0 {
		idx, err := n.Directory().Devices(ctx, user)
		if err != nil {
			return lookupErr(user, "", err)
		}
		devices = idx.Devices
	}
	for i, device := range devices {
		cert, err := n.Directory().Lookup(ctx, user, device)
		if err != nil {
			return lookupErr(user, device, err)
		}
		if i > 0 {
			fmt.Fprintln(g.stdout)
		}
		printRecord(ctx, g.stdout, n.Directory(), cert)
	}
	return nil
}

func lookupErr(user peer.ID, device string, err error) error {
	what := "device index"
	if device != "" {
		what = fmt.Sprintf("record of device %q", device)
	}
	if errors.Is(err, dht.ErrNotFound) {
		return fmt.Errorf("no %s for user %s in the directory: %w", what, user, err)
	}
	return fmt.Errorf("looking up the %s of user %s: %w", what, user, err)
}

// printRecord prints one certificate, with the clone's addresses from peer
// routing when it answers in time, else from the certificate's hint.
func printRecord(ctx context.Context, w io.Writer, dir *dht.Directory, c *dht.OwnerCert) {
	addrs := c.Addrs
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ai, err := dir.Resolve(rctx, c.Clone); err == nil && len(ai.Addrs) > 0 {
		addrs = ai.Addrs
	}
	strs := make([]string, 0, len(addrs))
	for _, a := range addrs {
		strs = append(strs, a.String())
	}
	fmt.Fprintf(w, "user:       %s\n", c.User)
	fmt.Fprintf(w, "device:     %s\n", c.Device)
	fmt.Fprintf(w, "device key: %s\n", c.DeviceKey)
	fmt.Fprintf(w, "clone:      %s\n", c.Clone)
	fmt.Fprintf(w, "seq:        %d\n", c.Seq)
	fmt.Fprintf(w, "valid until: %s\n", c.EOL.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "addrs:      %s\n", strings.Join(strs, " "))
}

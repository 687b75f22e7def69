package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/replication/scanwire"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/spf13/cobra"
)

func newProviderSigsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sigs add FILE... | ls",
		Short: "Manage the provider's antivirus signature database (ClamAV .hdb, .hsb, .ndb)",
		Long: `sigs manages the signature database of the provider's scanner, the one
engine of the provider process that every clone of this provider asks.

  add FILE...  parse and validate the files (ClamAV .hdb/.hsb hash and .ndb
               body signatures; a file of the same name replaces the one
               stored), bump the database version, sign the new manifest
               with the provider's identity key and store it all in the
               provider's datastore. Nothing is stored if any line is
               malformed; .ndb lines of other target types, or of forms
               the scanner does not implement (!(..), [x-y], (B), (L),
               unequal alternatives, floating offsets, no 2 literal bytes
               in a row), are skipped and counted.
  ls           print the version, the signature counts and the files.

With the provider stopped, add writes its datastore directly; while it
runs (it holds its datastore), add hands the files to it through
<data>/sigs-incoming/ and waits for its answer: the provider validates
them again, signs, stores and loads the new version at once. Its clones
fetch the signed manifest (/c2c/scan/sigs/1.0.0) at their next poll
(every 10 minutes, on start, and before each c2c device scan), refuse a
version lower than one they saw, and rescan their mirrors: each blob is
scanned once per version, whichever mirror asks first.

` + envHelp,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.dataDir("provider")
			if err != nil {
				return err
			}
			switch {
			case args[0] == "add" && len(args) >= 2:
				return sigsAdd(cmd.Context(), g, dir, args[1:])
			case args[0] == "ls" && len(args) == 1:
				return sigsLs(cmd.Context(), g, dir)
			}
			return fmt.Errorf("usage: c2c provider %s", cmd.Use)
		},
	}
	return cmd
}

func openProviderStore(dir string) (*scanwire.Store, func() error, error) {
	if _, err := os.Stat(filepath.Join(dir, node.IdentityFile)); err != nil {
		return nil, nil, fmt.Errorf("no provider in %s (run c2c provider --data %s once first): %w", dir, dir, err)
	}
	ds, err := pebbleds.NewDatastore(filepath.Join(dir, node.DatastoreDir))
	if err != nil {
		return nil, nil, fmt.Errorf("opening the provider's datastore (is the provider running? it holds it): %w", err)
	}
	return scanwire.NewStore(ds), ds.Close, nil
}

func sigsAdd(ctx context.Context, g *globals, dir string, paths []string) error {
	var files []scanwire.SigFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Size() > scanwire.MaxSigFileBytes {
			return fmt.Errorf("%s: %d bytes, cap %d", p, st.Size(), scanwire.MaxSigFileBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, scanwire.SigFile{Name: filepath.Base(p), Data: b})
	}
	set, err := scanwire.Parse(files)
	if err != nil {
		return err
	}
	if set.Skipped > 0 {
		fmt.Fprintf(g.stdout, "skipped %d body signatures of other target types (only type 0, any file, is scanned)\n", set.Skipped)
	}
	if set.Unsupported > 0 {
		fmt.Fprintf(g.stdout, "skipped %d body signatures of forms this scanner does not implement, among them:\n", set.Unsupported)
		for _, u := range set.FirstUnsupported {
			fmt.Fprintf(g.stdout, "  %s\n", u)
		}
	}
	key, err := keystore.ReadPrivKey(filepath.Join(dir, node.IdentityFile))
	if err != nil {
		return fmt.Errorf("the provider's identity key: %w", err)
	}
	store, closeDS, err := openProviderStore(dir)
	if err != nil {
		if _, rerr := os.Stat(filepath.Join(dir, readyFile)); rerr != nil {
			return err
		}
		// The provider runs and holds its datastore: hand it the files.
		r, err := spoolSigs(ctx, dir, files)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "signature database version %d: %d hash and %d body signatures (EICAR built in), %d files; signed and loaded by the running provider\n",
			r.Version, r.HashSigs, r.BodySigs, len(r.Files))
		return nil
	}
	m, err := store.Add(ctx, key, files)
	if cerr := closeDS(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "signature database version %d: %d hash and %d body signatures (EICAR built in), %d files; signed\n",
		m.Version, m.HashSigs, m.BodySigs, len(m.Files))
	return nil
}

func sigsLs(ctx context.Context, g *globals, dir string) error {
	store, closeDS, err := openProviderStore(dir)
	if err != nil {
		b, rerr := os.ReadFile(filepath.Join(dir, sigsStatus))
		var r sigsResult
		if rerr != nil || json.Unmarshal(b, &r) != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "signature database version %d: %d hash and %d body signatures; files %v (from the running provider's %s)\n",
			r.Version, r.HashSigs, r.BodySigs, r.Files, sigsStatus)
		return nil
	}
	defer closeDS()
	m, _, err := store.Load(ctx)
	if err != nil {
		return err
	}
	if m == nil {
		fmt.Fprintln(g.stdout, "signature database version 0: EICAR only (built in); add files with c2c provider sigs add FILE...")
		return nil
	}
	fmt.Fprintf(g.stdout, "signature database version %d: %d hash and %d body signatures\n", m.Version, m.HashSigs, m.BodySigs)
	for _, f := range m.Files {
		fmt.Fprintf(g.stdout, "  %-32s %12d bytes  sha256:%s\n", f.Name, f.Size, hex.EncodeToString(f.SHA256[:8]))
	}
	return nil
}

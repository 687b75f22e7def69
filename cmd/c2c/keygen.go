package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

func newKeygenCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create a user key (Ed25519) and print the user ID",
		Long: `keygen creates a user key, the key that signs the owner certificates of the
user's clones, and prints the user ID (the libp2p peer ID of the key). The
file is written with mode 0600; keygen never overwrites an existing key.

The key goes to --out, by default <data>/user.key, where <data> is --data or
<user config dir>/c2c/user.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := out
			if path == "" {
				dir, err := g.dataDir("user")
				if err != nil {
					return err
				}
				path = filepath.Join(dir, "user.key")
			}
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists; keygen does not overwrite keys", path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			key, err := dht.GenerateUserKey()
			if err != nil {
				return err
			}
			if err := keystore.WritePrivKey(path, key); err != nil {
				return err
			}
			id, err := peer.IDFromPrivateKey(key)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "user ID: %s\nkey:     %s\n", id, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "where to write the key (default <data>/user.key)")
	return cmd
}

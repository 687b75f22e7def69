package main

import (
	"fmt"
	"path/filepath"

	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

func newContactCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contact",
		Short: "Manage the users whose document invitations a clone accepts",
		Long: `contact edits a clone's contact list, <data>/contacts (--data is the clone's
data dir). A clone accepts an invitation to a document only when it
verifies (the sequencer signed the document's genesis and the entry that
adds this clone; the inviting clone signed that entry) and it comes from
  - a member of a document the clone already holds, or
  - a clone whose owner certificate names one of these contacts, or this
    clone's own user (your other devices).
Everything else is refused before anything is written. A running clone
rereads the file when it changes.

  c2c contact add USER...    USER: a user ID, as c2c keygen prints it
  c2c contact rm USER...
  c2c contact ls`,
	}
	open := func() (*node.Contacts, error) {
		dir, err := g.dataDir("clone")
		if err != nil {
			return nil, err
		}
		return node.OpenContacts(filepath.Join(dir, node.ContactsFile)), nil
	}
	users := func(args []string) ([]peer.ID, error) {
		var out []peer.ID
		for _, a := range args {
			id, err := peer.Decode(a)
			if err != nil {
				return nil, fmt.Errorf("%q is not a user ID: %w", a, err)
			}
			out = append(out, id)
		}
		return out, nil
	}
	edit := func(use, short string, apply func(*node.Contacts, ...peer.ID) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " USER...", Short: short, Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ids, err := users(args)
				if err != nil {
					return err
				}
				c, err := open()
				if err != nil {
					return err
				}
				return apply(c, ids...)
			},
		}
	}
	cmd.AddCommand(
		edit("add", "Accept invitations from these users", (*node.Contacts).Add),
		edit("rm", "Stop accepting invitations from these users", (*node.Contacts).Remove),
		&cobra.Command{
			Use: "ls", Short: "List the contacts", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := open()
				if err != nil {
					return err
				}
				ids, err := c.List()
				if err != nil {
					return err
				}
				for _, id := range ids {
					fmt.Fprintln(g.stdout, id)
				}
				return nil
			},
		},
	)
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/control"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
)

func docMoveCmd(g *globals, f *docFlags) *cobra.Command {
	var seq string
	var takeover bool
	cmd := &cobra.Command{
		Use:   "move DOC --sequencer ADDR [--takeover]",
		Short: "Move a document to another sequencer (admins only)",
		Long: `move moves the document to the sequencer at ADDR (its /p2p multiaddr, or its
bare peer ID to look it up in the DHT). The clone signs a move naming the
new sequencer's key; the move continues the document's hash chain, so
members check it like any membership change, and each member then sends to
and fetches from the new sequencer and resends the edit it had in flight:
nothing is lost, duplicated or reordered.

Without --takeover it is a planned move: the current sequencer orders the
move like any op, and the new one continues from it. It needs the current
sequencer to still order.

With --takeover the new sequencer orders the move itself, continuing from
this clone's head: the answer to a sequencer that stopped ("sequencer
stalled" in c2c doc show). It is refused while entries this clone knows
of are missing. A member that committed more from the old sequencer than
this clone did rolls back to follow, and resends its own edits after the
takeover's head. A clone run with --standby-sequencer does this by itself
when the alarm is up.

On a document stopped by a fork alarm, or by evidence that the sequencer
tampered with an entry or forged a seq, move recovers it (with or without
--takeover; a planned move needs the sequencer that misbehaved): the clone
asks every connected member for the sequencer-signed heads of its chain,
finds the last seq every chain shares (on every branch of a fork) and
takes over from there; its own edits after that seq are sent again to the
new sequencer. Every member, on either branch, rolls back to that seq,
resends its own acknowledged edits and goes on editing on the new
sequencer; the proof stays kept (c2c doc evidence). A clone run with
--standby-sequencer does this by itself when the fork or misbehaviour
alarm is up. The same happens for a stalled sequencer that withholds
entries the clone knows exist (--takeover alone is refused then).

Either way the new sequencer first fetches the history from this clone
and checks it; move returns once the move is committed and the new
sequencer holds the history, and prints the move's seq.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if seq == "" {
				return errors.New("move needs --sequencer: the new sequencer's /p2p multiaddr or peer ID")
			}
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				return c.Move(ctx, args[0], control.MoveRequest{Sequencer: seq, Takeover: takeover})
			}, func(w io.Writer, v any) {
				r := v.(control.MoveResult)
				kind := "planned move"
				if r.Takeover {
					kind = "takeover"
				}
				fmt.Fprintf(w, "moved to %s (%s committed at seq %d; the new sequencer signs from seq %d)\n",
					r.Sequencer, kind, r.Seq, r.From)
			})
		},
	}
	cmd.Flags().StringVar(&seq, "sequencer", "", "the new sequencer's /p2p multiaddr or peer ID (required)")
	cmd.Flags().BoolVar(&takeover, "takeover", false, "have the new sequencer order the move (the current one stopped)")
	return cmd
}

// parseStandby parses --standby-sequencer: a /p2p multiaddr.
func parseStandby(v string) (peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(v)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("--standby-sequencer %q: %w", v, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("--standby-sequencer %q: %w (it must end in /p2p/<peer ID>)", v, err)
	}
	return *ai, nil
}

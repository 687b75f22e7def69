package main

import (
	"github.com/clone2clone/c2c/node"
	"github.com/spf13/cobra"
)

func newSequencerCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	byz := &byzantineFlags{}
	cmd := &cobra.Command{
		Use:   "sequencer --bootstrap PROVIDER_ADDR",
		Short: "Run a CloneDoc sequencer: orders, persists and serves documents' entries",
		Long: `sequencer runs an untrusted CloneDoc sequencer. A clone registers a document
with it by creating the document (c2c doc create --sequencer ADDR); from then
on the sequencer orders the document's encrypted, signed envelopes, makes each
ordered entry durable in <data>/datastore before publishing it, and serves
history ranges. It never sees plaintext; clones verify all it signs and raise
a fork alarm if it equivocates. After a restart (even kill -9) it continues
from its log and never reuses a seq.

Its peer ID is its signing key: give clones one of the /p2p multiaddrs it
prints (also written to <data>/addrs). It writes <data>/ready once joined to
the providers, and stops cleanly on SIGINT or SIGTERM.

TEST TOOL: --byzantine=BEHAVIOUR makes it misbehave on purpose from seq
--byzantine-at on (equivocate forks the log between members whose key's
first byte is even and odd). Such a sequencer keeps its log in memory only.
Use it to see the fork alarm (c2c doc watch), never in production.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveRole(cmd.Context(), g, node.RoleSequencer, f, byz)
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1"},
		"providers' /p2p multiaddrs, comma-separated or repeated (to join the overlay)")
	cmd.Flags().StringVar(&byz.behaviour, "byzantine", "", "TEST TOOL: misbehave on purpose: "+byzantineNames())
	cmd.Flags().Uint64Var(&byz.at, "byzantine-at", 4, "TEST TOOL: first seq at which --byzantine misbehaves (>= 2)")
	return cmd
}

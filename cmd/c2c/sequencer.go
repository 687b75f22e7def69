package main

import (
	"fmt"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/docsync/seqservice/seqtest"
	"github.com/clone2clone/c2c/node"
	"github.com/spf13/cobra"
)

// seqLimitFlags are a sequencer's limits against strangers, as flags.
type seqLimitFlags struct {
	maxDocs, perAuthor int
	registerRate       float64
	// checkpointEvery and keepHistory: compaction (seqservice.Params)
	checkpointEvery, keepHistory uint64
}

func (l *seqLimitFlags) register(cmd *cobra.Command) {
	d := seqservice.DefaultParams()
	cmd.Flags().IntVar(&l.maxDocs, "max-docs", d.MaxDocs, fmt.Sprintf("documents this sequencer accepts (at most %d)", seqservice.MaxDocsCeiling))
	cmd.Flags().IntVar(&l.perAuthor, "max-docs-per-author", d.MaxDocsPerAuthor, "documents one creator may register")
	cmd.Flags().Float64Var(&l.registerRate, "register-rate", d.RegisterRate.PerSecond,
		fmt.Sprintf("registrations per second one peer may make (burst: the larger of this and %.0f)", d.RegisterRate.Burst))
	cmd.Flags().Uint64Var(&l.checkpointEvery, "checkpoint-every", d.CheckpointEvery,
		"checkpoint a document's log state every this many entries and compact its log behind it (0: never)")
	cmd.Flags().Uint64Var(&l.keepHistory, "keep-history", d.KeepHistory,
		"entries of a document's log kept before its latest checkpoint; older ones are deleted (the genesis stays)")
}

// option returns the sequencer's params with the flags applied.
func (l *seqLimitFlags) option() seqservice.Option {
	p := seqservice.DefaultParams()
	p.MaxDocs, p.MaxDocsPerAuthor = l.maxDocs, l.perAuthor
	p.RegisterRate.PerSecond = l.registerRate
	p.RegisterRate.Burst = max(p.RegisterRate.Burst, l.registerRate)
	p.CheckpointEvery, p.KeepHistory = l.checkpointEvery, l.keepHistory
	return seqservice.WithParams(p)
}

func newSequencerCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	lim := &seqLimitFlags{}
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

Every --checkpoint-every entries of a document it writes a checkpoint of
the log state it computed (membership, counters, recent chain hashes) and
deletes the entries before the last --keep-history ones in the same synced
write; a request for a deleted range is answered "compacted", and members
serve snapshots of the document instead (docs/snapshots.md).

Its peer ID is its signing key: give clones one of the /p2p multiaddrs it
prints (also written to <data>/addrs). It writes <data>/ready once joined to
the providers, and stops cleanly on SIGINT or SIGTERM.

Limits against strangers (see docs/operator.md): --max-docs in all,
--max-docs-per-author per creator, --register-rate per peer; per author also
200 envelopes and 4 MiB a second; history only for members.

To see the fork alarm, run the test tool c2c byzantine-sequencer instead.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveRole(cmd.Context(), g, node.RoleSequencer, f, lim.option())
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1"},
		"providers' /p2p multiaddrs, comma-separated or repeated (to join the overlay)")
	lim.register(cmd)
	return cmd
}

func newByzantineSequencerCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	byz := &byzantineFlags{}
	cmd := &cobra.Command{
		Use:   "byzantine-sequencer --behaviour BEHAVIOUR --bootstrap PROVIDER_ADDR",
		Short: "TEST TOOL: a sequencer that misbehaves on purpose, to see the fork alarm; never for production",
		Long: `byzantine-sequencer is a test tool: a sequencer (like c2c sequencer) that
misbehaves on purpose from seq --at on, as --behaviour says. equivocate forks
the log between members whose key's first byte is even and odd; the others
drop, reorder, duplicate, replay, tamper with or forge entries. Clones detect
each (c2c doc watch shows the fork alarm). Its main log is persisted like an
honest sequencer's, but an equivocation's second branch is not.

Never run it in production: clones that use it stop editing the document.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			factory, err := byz.factory()
			if err != nil {
				return err
			}
			g.log.Warn("TEST TOOL: this sequencer misbehaves on purpose", "behaviour", byz.behaviour, "at", byz.at)
			return serveRole(cmd.Context(), g, node.RoleSequencer, f, seqservice.WithSequencer(factory))
		},
	}
	f.register(cmd, []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1"},
		"providers' /p2p multiaddrs, comma-separated or repeated (to join the overlay)")
	cmd.Flags().StringVar(&byz.behaviour, "behaviour", "equivocate", "how to misbehave: "+seqtest.BehaviourNames())
	cmd.Flags().Uint64Var(&byz.at, "at", 4, "first seq at which it misbehaves (>= 2)")
	return cmd
}

// byzantineFlags configure the deliberately misbehaving sequencer.
type byzantineFlags struct {
	behaviour string
	at        uint64
}

// factory builds the plugged sequencer. For equivocate the victims (the
// second branch of the fork) are the members whose key's first byte is odd.
func (f *byzantineFlags) factory() (seqservice.Factory, error) {
	b, err := seqtest.ParseBehaviour(f.behaviour)
	if err != nil {
		return nil, fmt.Errorf("--behaviour: %w", err)
	}
	return seqtest.Byzantine(b, f.at, oddMember), nil
}

func oddMember(m docsync.MemberID) bool { return m[0]%2 == 1 }

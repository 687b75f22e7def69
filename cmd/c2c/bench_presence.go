package main

import (
	"fmt"
	"io"

	"github.com/clone2clone/c2c/docsync/presence/presencebench"
	"github.com/spf13/cobra"
)

func newBenchPresenceCmd(g *globals) *cobra.Command {
	return newBenchReportCmd(g, "presence [--json]",
		"Presence: a caret's bytes on each hop and the CPU of sealing, checking and moving it",
		`presence prints what one caret costs (docs/presence.md): the bytes of the
device's Selection frame, of the sealed and signed message on the presence
topic and of the Presence frame a device gets with 1 and 15 other members'
carets; and the CPU per caret of sealing and signing it (the sending clone),
of parsing, verifying and opening it (each receiving clone), and of moving
it through one keystroke's op (every hop, per op applied since).`,
		presencebench.Run,
		func(w io.Writer, r *presencebench.Result) {
			fmt.Fprintf(w, "%-44s %10d B\n", "device -> clone: Selection frame", r.SelectionFrameBytes)
			fmt.Fprintf(w, "%-44s %10d B\n", "clone -> clones: presence topic message", r.TopicMessageBytes)
			fmt.Fprintf(w, "%-44s %10d B\n", "clone -> device: Presence frame, 1 caret", r.PresenceFrame1)
			fmt.Fprintf(w, "%-44s %10d B\n", "clone -> device: Presence frame, 15 carets", r.PresenceFrame15)
			fmt.Fprintf(w, "%-44s %10.1f us\n", "seal and sign (sending clone)", r.SealUs)
			fmt.Fprintf(w, "%-44s %10.1f us\n", "parse, verify, open (each receiving clone)", r.ReceiveUs)
			fmt.Fprintf(w, "%-44s %10.1f ns\n", "move a caret through one keystroke's op", r.TransformNs)
			fmt.Fprintf(w, "# mean over %d carets\n", r.Rounds)
			for _, n := range r.Notes {
				fmt.Fprintf(w, "# %s\n", n)
			}
		})
}

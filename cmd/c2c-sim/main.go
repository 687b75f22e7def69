// Command c2c-sim runs the scale scenarios of the Testground plans in one
// process, on go-libp2p's simulated network in virtual time (package
// scenario/insim).
//
// It is a binary of its own, apart from the c2c daemon, because the
// simulation links package testing (a testing/synctest bubble needs a
// *testing.T), simnet and internal/simquic, none of which belong in a daemon.
//
// Run `c2c-sim --help` for the flags; every flag can also be set through an
// environment variable C2C_<FLAG> (dashes become underscores).
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/cli"
)

func main() { cli.Main(run) }

// run runs the command line args and returns the exit code: 1 for an error
// before the run starts. A run itself ends the process (insim.Main): 0 when
// every pass criterion holds, 1 otherwise, 130 on an interrupt.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := newSimCmd(stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "c2c-sim: %v\n", err)
		return 1
	}
	return 0
}

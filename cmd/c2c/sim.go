package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

// simBinary is the in-process scale simulation's own binary. The daemon
// does not link the simulation (testing/synctest, simnet, simquic:
// deps_test.go), so `c2c sim` runs it.
const simBinary = "c2c-sim"

// newSimCmd is `c2c sim`: c2c-sim with the same arguments, found beside
// this executable or on PATH.
func newSimCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sim directory|docsync [flags]",
		Short: "Run a scale simulation in one process, in virtual time (runs c2c-sim)",
		Long: `c2c sim runs the in-process scale simulation: every node of a run is a
goroutine on go-libp2p's simulated network, in virtual time, with its clones
hosted as c2c provider --host-clones hosts them (DHT clients of the
providers, one datastore and resource budget per provider process).

The simulation is a binary of its own, c2c-sim, so that this daemon does not
link package testing and the simulated network: c2c sim runs the c2c-sim
found beside this executable or on PATH with the same arguments (build it
with go build ./cmd/c2c-sim). c2c sim --help shows c2c-sim's flags;
docs/scale.md has the measured runs, testground/README.md the scenarios.`,
		DisableFlagParsing: true, // every flag is c2c-sim's
		SilenceUsage:       true,
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := findSim()
			if err != nil {
				return err
			}
			c := exec.CommandContext(cmd.Context(), bin, args...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, g.stdout, g.stderr
			err = c.Run()
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				return errSilent // c2c-sim said why
			}
			return err
		},
	}
}

// findSim is c2c-sim beside the running executable, else on PATH.
func findSim() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), simBinary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath(simBinary)
	if err != nil {
		return "", fmt.Errorf("c2c sim runs the %s binary, which is neither beside c2c nor on PATH: build it with go build ./cmd/c2c-sim", simBinary)
	}
	return p, nil
}

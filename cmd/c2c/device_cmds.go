package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/spf13/cobra"
)

func newDeviceShowCmd(g *globals) *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "show DOC",
		Short: "Catch up with the clone and print the document's text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDeviceDoc(cmd, g, args[0], offline, func(d *client.Doc) error {
				fmt.Fprintln(g.stdout, d.Text())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "print the device's copy without connecting")
	return cmd
}

func newDeviceTypeCmd(g *globals) *cobra.Command {
	var offline bool
	var at int
	cmd := &cobra.Command{
		Use:   "type DOC TEXT",
		Short: "Insert TEXT (at --at, default the end) and send it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDeviceDoc(cmd, g, args[0], offline, func(d *client.Doc) error {
				return d.EditFunc(func(n int) ([]ot.Op, error) {
					pos := at
					if pos < 0 || pos > n {
						pos = n
					}
					op, err := ot.FromPatch(n, pos, 0, args[1])
					return []ot.Op{op}, err
				})
			})
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "keep the edit on the device; the next connecting command sends it")
	cmd.Flags().IntVar(&at, "at", -1, "insert position in code points (default the end)")
	return cmd
}

// patch is one line of c2c device apply's input.
type patch struct {
	Pos int    `json:"pos"`
	Del int    `json:"del"`
	Ins string `json:"ins"`

	line int // where it was read, for errors
}

func newDeviceApplyCmd(g *globals) *cobra.Command {
	var offline bool
	var file string
	cmd := &cobra.Command{
		Use:   "apply DOC [--file F]",
		Short: `Apply edits read from stdin or a file, one JSON patch a line: {"pos":0,"del":1,"ins":"x"}`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			return withDeviceDoc(cmd, g, args[0], offline, func(d *client.Doc) error {
				var patches []patch
				if err := scanPatches(in, 1<<24, func(p patch) error { patches = append(patches, p); return nil }); err != nil {
					return err
				}
				// One batch: persisted and sent once, and a patch that does
				// not fit the text fails the whole input before any of it
				// is applied.
				if err := d.EditFunc(func(l int) ([]ot.Op, error) {
					ops := make([]ot.Op, 0, len(patches))
					for _, p := range patches {
						op, err := ot.FromPatch(l, p.Pos, p.Del, p.Ins)
						if err != nil {
							return nil, fmt.Errorf("line %d: %w", p.line, err)
						}
						ops = append(ops, op)
						l = op.TargetLen
					}
					return ops, nil
				}); err != nil {
					return err
				}
				n := len(patches)
				fmt.Fprintf(g.stdout, "%d edits applied\n", n)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "keep the edits on the device; the next connecting command sends them")
	cmd.Flags().StringVar(&file, "file", "", "read patches from this file instead of stdin")
	return cmd
}

func newDeviceSyncCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sync DOC",
		Short: "Come back online: send kept edits, take the catch-up bundle, print the link's counters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDeviceDoc(cmd, g, args[0], false, func(d *client.Doc) error {
				st := d.Stats()
				fmt.Fprintf(g.stdout, "synced at version %d: bundle %d bytes (snapshot %v), %d edit messages sent, %d B sent, %d B received\n",
					d.Version(), st.LastBundleBytes, st.LastBundleSnapshot, st.EditsSent, st.BytesSent, st.BytesReceived)
				return nil
			})
		},
	}
}

func newDeviceWatchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "watch DOC",
		Short: "Print the text after every remote change until interrupted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := deviceFromFlags(cmd, g)
			if err != nil {
				return err
			}
			defer s.close()
			d, err := s.open(cmd.Context(), args[0], false)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, d.Text())
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-d.Updates():
					fmt.Fprintln(g.stdout, d.Text())
				}
			}
		},
	}
}

// withDeviceDoc opens the saved device and doc, runs f, and when online
// waits until the clone acknowledged every edit.
func withDeviceDoc(cmd *cobra.Command, g *globals, docHex string, offline bool, f func(d *client.Doc) error) error {
	s, err := deviceFromFlags(cmd, g)
	if err != nil {
		return err
	}
	defer s.close()
	d, err := s.open(cmd.Context(), docHex, offline)
	if err != nil {
		return err
	}
	if err := f(d); err != nil {
		return err
	}
	if offline {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), deviceSyncTimeout)
	defer cancel()
	return d.WaitSynced(ctx)
}

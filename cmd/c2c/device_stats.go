package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/spf13/cobra"
)

const (
	deviceStatsFile   = "stats.json"
	deviceSyncTimeout = 2 * time.Minute
)

// deviceTotals sums the accounting of every device command run with a
// data dir.
type deviceTotals struct {
	Runs          int                 `json:"runs"`
	Protocols     map[string][2]int64 `json:"protocols"` // in, out
	CPUUser       time.Duration       `json:"cpu_user_ns"`
	CPUSystem     time.Duration       `json:"cpu_system_ns"`
	Crypto        device.Crypto       `json:"crypto"`
	Bundles       uint64              `json:"bundles"`
	LastBundle    int                 `json:"last_bundle_bytes"`
	EditsSent     uint64              `json:"edit_messages_sent"`
	OpsReceived   uint64              `json:"ops_received"`
	AcksReceived  uint64              `json:"acks_received"`
	LinkBytesSent uint64              `json:"link_bytes_sent"`
	LinkBytesRecv uint64              `json:"link_bytes_received"`
}

func readDeviceTotals(dir string) (*deviceTotals, error) {
	t := &deviceTotals{Protocols: map[string][2]int64{}}
	b, err := os.ReadFile(filepath.Join(dir, deviceStatsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("%s: %w", deviceStatsFile, err)
	}
	if t.Protocols == nil {
		t.Protocols = map[string][2]int64{}
	}
	return t, nil
}

// addDeviceStats adds one process's accounting to the totals.
func addDeviceStats(dir string, s device.Snapshot, l client.Stats) error {
	t, err := readDeviceTotals(dir)
	if err != nil {
		return err
	}
	t.Runs++
	for _, p := range s.Protocols {
		v := t.Protocols[p.Protocol]
		t.Protocols[p.Protocol] = [2]int64{v[0] + p.In, v[1] + p.Out}
	}
	t.CPUUser += s.CPUUser
	t.CPUSystem += s.CPUSystem
	t.Crypto.Signs += s.Crypto.Signs
	t.Crypto.Verifies += s.Crypto.Verifies
	t.Crypto.AEADSeals += s.Crypto.AEADSeals
	t.Crypto.AEADOpens += s.Crypto.AEADOpens
	t.Bundles += l.Bundles
	if l.Bundles > 0 {
		t.LastBundle = l.LastBundleBytes
	}
	t.EditsSent += l.EditsSent
	t.OpsReceived += l.Ops
	t.AcksReceived += l.Acks
	t.LinkBytesSent += l.BytesSent
	t.LinkBytesRecv += l.BytesReceived
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return keystore.WriteFile(filepath.Join(dir, deviceStatsFile), b)
}

func newDeviceStatsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print what this device spent over all its commands: bytes per protocol, CPU, crypto operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir("device")
			if err != nil {
				return err
			}
			t, err := readDeviceTotals(dir)
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.MarshalIndent(t, "", "  ")
				fmt.Fprintln(g.stdout, string(b))
				return nil
			}
			w := g.stdout
			fmt.Fprintf(w, "runs: %d (mode: clone)\n", t.Runs)
			fmt.Fprintf(w, "cpu: user %v, system %v (getrusage of each device process)\n", t.CPUUser, t.CPUSystem)
			fmt.Fprintf(w, "crypto: %d signs, %d verifies, %d AEAD seals, %d AEAD opens (application level; transport crypto not counted)\n",
				t.Crypto.Signs, t.Crypto.Verifies, t.Crypto.AEADSeals, t.Crypto.AEADOpens)
			fmt.Fprintln(w, "bytes by protocol (in / out):")
			for p, v := range t.Protocols {
				fmt.Fprintf(w, "  %-28s %10d / %d\n", p, v[0], v[1])
			}
			fmt.Fprintf(w, "device link: %d bundles (last %d bytes), %d edit messages sent, %d ops and %d acks received, %d B sent, %d B received\n",
				t.Bundles, t.LastBundle, t.EditsSent, t.OpsReceived, t.AcksReceived, t.LinkBytesSent, t.LinkBytesRecv)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/node"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

type enrollFlags struct {
	key       string
	device    string
	deviceKey string
	cloneData string
	validFor  time.Duration
}

func newEnrollCmd(g *globals) *cobra.Command {
	f := &enrollFlags{}
	cmd := &cobra.Command{
		Use:   "enroll --key USER.key --device NAME --clone-data DIR",
		Short: "Enroll a clone for one device of a user (writes its owner certificate)",
		Long: `enroll makes an owner certificate: the user key signs user -> device name and
device key -> clone peer ID and clone HPKE public key, with a sequence number
and an end of life.

The local flow: enroll reads the clone's identity and HPKE key from
--clone-data (creating them if the directory is new), creates the device key
if there is none (--device-key, default <dir of user key>/devices/NAME.key),
writes the certificate into --clone-data, and adds the device to the user's
signed device index, kept next to the user key (USER.key.devices) and copied
into --clone-data so the clone publishes it too. Then run:

  c2c clone --data DIR --bootstrap <provider multiaddr>

Re-enrolling the same clone raises the sequence number, so the new
certificate supersedes the old one in the directory.

` + envHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEnroll(g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "the user key (from c2c keygen); default <data>/user.key")
	fl.StringVar(&f.device, "device", "", "device name, [a-z0-9._-], at most 64 bytes (required)")
	fl.StringVar(&f.deviceKey, "device-key", "", "the device's key, created if missing (default <dir of --key>/devices/NAME.key)")
	fl.StringVar(&f.cloneData, "clone-data", "", "the clone's data directory (required)")
	fl.DurationVar(&f.validFor, "valid-for", 365*24*time.Hour, "how long the certificate is valid")
	return cmd
}

func runEnroll(g *globals, f *enrollFlags) error {
	if f.device == "" || f.cloneData == "" {
		return errors.New("enroll needs --device and --clone-data")
	}
	keyPath := f.key
	if keyPath == "" {
		dir, err := g.dataDir("user")
		if err != nil {
			return err
		}
		keyPath = filepath.Join(dir, "user.key")
	}
	userKey, err := keystore.ReadPrivKey(keyPath)
	if err != nil {
		return fmt.Errorf("user key: %w (create one with c2c keygen)", err)
	}
	cloneDir, err := filepath.Abs(f.cloneData)
	if err != nil {
		return err
	}
	cert, idx, err := enroll(userKey, keyPath, f.device, f.deviceKey, cloneDir, time.Now(), f.validFor)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "user:       %s\ndevice:     %s\ndevice key: %s\nclone:      %s\nseq:        %d\nvalid until: %s\ndevices:    %v\n",
		cert.User, cert.Device, cert.DeviceKey, cert.Clone, cert.Seq, cert.EOL.UTC().Format(time.RFC3339), idx.Devices)
	return nil
}

// enroll is the whole local enrollment flow; see the enroll command's help.
func enroll(userKey crypto.PrivKey, keyPath, device, deviceKeyPath, cloneDir string, now time.Time, validFor time.Duration) (*dht.OwnerCert, *dht.DeviceIndex, error) {
	cloneKey, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(cloneDir, node.IdentityFile))
	if err != nil {
		return nil, nil, fmt.Errorf("clone identity: %w", err)
	}
	cloneID, err := peer.IDFromPrivateKey(cloneKey)
	if err != nil {
		return nil, nil, err
	}
	_, hpkePub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(cloneDir, node.HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		return nil, nil, fmt.Errorf("clone HPKE key: %w", err)
	}
	if deviceKeyPath == "" {
		deviceKeyPath = filepath.Join(filepath.Dir(keyPath), "devices", device+".key")
	}
	deviceKey, _, err := keystore.LoadOrCreatePrivKey(deviceKeyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("device key: %w", err)
	}
	deviceID, err := peer.IDFromPrivateKey(deviceKey)
	if err != nil {
		return nil, nil, err
	}
	seq := uint64(1)
	if old, err := node.ReadOwnerCert(cloneDir); err == nil {
		seq = old.Seq + 1
	}
	cert, err := dht.SignOwnerCert(userKey, dht.OwnerCert{
		Device: device, DeviceKey: deviceID, Clone: cloneID, CloneHPKE: hpkePub,
		Seq: seq, EOL: now.Add(validFor),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign owner certificate: %w", err)
	}
	idx, err := addToIndex(userKey, keyPath+".devices", device, now, validFor)
	if err != nil {
		return nil, nil, err
	}
	if err := node.WriteOwnerCert(cloneDir, cert); err != nil {
		return nil, nil, err
	}
	if err := node.WriteDeviceIndex(cloneDir, idx); err != nil {
		return nil, nil, err
	}
	return cert, idx, nil
}

// addToIndex adds device to the user's signed device index at path (or
// starts one), re-signs it with a higher seq and stores it.
func addToIndex(userKey crypto.PrivKey, path, device string, now time.Time, validFor time.Duration) (*dht.DeviceIndex, error) {
	next := dht.DeviceIndex{Seq: 1}
	b, err := keystore.ReadFile(path)
	switch {
	case err == nil:
		old, err := dht.UnmarshalDeviceIndex(b)
		if err != nil {
			return nil, fmt.Errorf("device index %s: %w", path, err)
		}
		next.Devices = old.Devices
		next.Seq = old.Seq + 1
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, err
	}
	if !slices.Contains(next.Devices, device) {
		next.Devices = append(slices.Clone(next.Devices), device)
		slices.Sort(next.Devices)
	}
	next.EOL = now.Add(validFor)
	idx, err := dht.SignDeviceIndex(userKey, next)
	if err != nil {
		return nil, fmt.Errorf("sign device index: %w", err)
	}
	b, err = idx.Marshal()
	if err != nil {
		return nil, err
	}
	if err := keystore.WriteFile(path, b); err != nil {
		return nil, err
	}
	return idx, nil
}

package devicebench

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestManualWorld is a tool for trying c2c device by hand (it is skipped
// unless C2C_DEVICE_WORLD names a directory): it runs a sequencer and two
// clones on loopback, serves the device link on the first for a device key
// it writes to $C2C_DEVICE_WORLD/phone.key, prints the c2c device connect
// command and the document ID, and lets the second clone type a word every
// two seconds until C2C_DEVICE_WORLD_FOR (default 10m) elapses.
func TestManualWorld(t *testing.T) {
	dir := os.Getenv("C2C_DEVICE_WORLD")
	if dir == "" {
		t.Skip("set C2C_DEVICE_WORLD=<dir> to run")
	}
	life := 10 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("C2C_DEVICE_WORLD_FOR")); err == nil {
		life = v
	}
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)
	userKey, _ := dht.GenerateUserKey()
	user, _ := peer.IDFromPrivateKey(userKey)
	devKey := netsim.NewKey(t)
	devID, _ := peer.IDFromPrivateKey(devKey)
	keyPath := filepath.Join(dir, "phone.key")
	if err := keystore.WritePrivKey(keyPath, devKey); err != nil {
		t.Fatal(err)
	}
	dirCert, err := n.Dir.Lookup(context.Background(), a.User, a.Device)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := dht.SignOwnerCert(userKey, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: a.H.ID(),
		CloneHPKE: dirCert.CloneHPKE, Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(a.H, a.Svc, cert, server.WithLogger(n.Log))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	info := fmt.Sprintf("c2c device connect --clone %s/p2p/%s --user %s --name phone --key %s\nDOC=%s\n",
		a.H.Addrs()[0], a.H.ID(), user, keyPath, hex.EncodeToString(d.ID[:]))
	if err := os.WriteFile(filepath.Join(dir, "world.txt"), []byte(info), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Print(info)
	end := time.After(life)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-end:
			return
		case <-tick.C:
			word := fmt.Sprintf("[b%d]", i)
			if err := b.Svc.EditFunc(context.Background(), d.ID, func(n int) ([]ot.Op, error) {
				op, err := ot.FromPatch(n, n, 0, word)
				return []ot.Op{op}, err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

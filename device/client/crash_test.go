package client_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/devicetest"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const childEnv = "C2C_DEVICE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func marker(phase string, i int) string { return fmt.Sprintf("<%s%d>", phase, i) }

// child is the device process: "edit" makes edits online and offline, says
// READY once they are persisted and waits to be killed; "resume" reopens
// the document, waits until the clone acknowledged everything and exits.
func child() error {
	kb, err := os.ReadFile(os.Getenv("KEY_FILE"))
	if err != nil {
		return err
	}
	key, err := crypto.UnmarshalPrivateKey(kb)
	if err != nil {
		return err
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
	if err != nil {
		return err
	}
	defer h.Close()
	addr, err := ma.NewMultiaddr(os.Getenv("CLONE_ADDR"))
	if err != nil {
		return err
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return err
	}
	user, err := peer.Decode(os.Getenv("USER_ID"))
	if err != nil {
		return err
	}
	var doc docsync.DocID
	if _, err := hex.Decode(doc[:], []byte(os.Getenv("DOC"))); err != nil {
		return err
	}
	c, err := client.New(h, *info, user, "phone", client.WithStateDir(os.Getenv("STATE_DIR")))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := c.Open(ctx, doc)
	if err != nil {
		return err
	}
	appendText := func(s string) func(int) ([]ot.Op, error) {
		return func(n int) ([]ot.Op, error) {
			op, err := ot.FromPatch(n, n, 0, s)
			return []ot.Op{op}, err
		}
	}
	switch os.Getenv(childEnv) {
	case "edit":
		for i := range 20 {
			if err := d.EditFunc(appendText(marker("on", i))); err != nil {
				return err
			}
		}
		d.Disconnect()
		for i := range 20 {
			if err := d.EditFunc(appendText(marker("off", i))); err != nil {
				return err
			}
		}
		fmt.Println("READY")
		select {}
	case "resume":
		if err := d.WaitSynced(ctx); err != nil {
			return err
		}
		fmt.Println("SYNCED")
	}
	return nil
}

// A device process killed with -9 right after persisting edits (some in
// flight, some buffered, some made offline) delivers each exactly once
// after a restart.
func TestKill9DeliversExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	n := netsim.NewLoopback(t)
	seq := n.AddSequencer()
	a, b := n.AddClone(), n.AddClone()
	d := n.NewDoc(seq, a, b)

	dev := devicetest.Enroll(t, n, a, "phone", nil)
	dev.Serve(t, n)
	user, devKey := dev.User, dev.Key

	dir := t.TempDir()
	kb, _ := crypto.MarshalPrivateKey(devKey)
	keyFile := filepath.Join(dir, "device.key")
	if err := os.WriteFile(keyFile, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "KEY_FILE="+keyFile, "USER_ID="+user.String(), "DOC="+hex.EncodeToString(d.ID[:]),
		"STATE_DIR="+filepath.Join(dir, "state"),
		fmt.Sprintf("CLONE_ADDR=%s/p2p/%s", a.H.Addrs()[0], a.H.ID()))
	run := func(mode string) (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(env, childEnv+"="+mode)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewReader(out)
	}
	expect := func(r *bufio.Reader, want string) {
		line, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			t.Fatalf("child said %q (%v), want %s", line, err, want)
		}
	}

	cmd, out := run("edit")
	expect(out, "READY")
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before, _ := a.Svc.Text(d.ID)
	t.Logf("at the kill the clone had %d of 40 edits", strings.Count(before, "<"))

	cmd, out = run("resume")
	expect(out, "SYNCED")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	d.WaitConverged(time.Minute)
	text, _ := b.Svc.Text(d.ID)
	for _, phase := range []string{"on", "off"} {
		for i := range 20 {
			if c := strings.Count(text, marker(phase, i)); c != 1 {
				t.Fatalf("%s found %d times in %q", marker(phase, i), c, text)
			}
		}
	}
	if strings.Count(text, "<") != 40 {
		t.Fatalf("text %q", text)
	}
}

package reconnect

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const topicName = "/c2c/test/reconnect"

// recoverWithin bounds how long a restarted member may wait for gossip.
// It is below quic's 30 s idle timeout on purpose: without a Watcher the
// other host's gossipsub keeps writing to the dead connection until that
// timeout ends it, so the restarted member hears nothing for ~30 s.
const recoverWithin = 20 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv("RECONNECT_CHILD") != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is the member process: a gossipsub host with the identity and
// listen address it is given, subscribed to the topic and connected to the
// test's host. It prints "READY addr", then "GOT data" for each message
// from another peer; "quit" on stdin closes it gracefully.
func runChild() error {
	kb, err := hex.DecodeString(os.Getenv("RECONNECT_KEY"))
	if err != nil {
		return err
	}
	key, err := crypto.UnmarshalPrivateKey(kb)
	if err != nil {
		return err
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings(os.Getenv("RECONNECT_LISTEN")))
	if err != nil {
		return err
	}
	defer h.Close()
	ps, err := pubsub.NewGossipSub(context.Background(), h)
	if err != nil {
		return err
	}
	top, err := ps.Join(topicName)
	if err != nil {
		return err
	}
	sub, err := top.Subscribe()
	if err != nil {
		return err
	}
	ai, err := peer.AddrInfoFromString(os.Getenv("RECONNECT_PEER"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Connect(ctx, *ai); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "READY", h.Network().ListenAddresses()[0])
	out.Flush()
	go func() {
		for {
			m, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			if m.ReceivedFrom != h.ID() {
				fmt.Fprintln(out, "GOT", string(m.Data))
				out.Flush()
			}
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "quit" {
			return h.Close()
		}
	}
	return nil
}

// member is a running child process.
type member struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	addr  string // its listen address
}

func startMember(t *testing.T, key []byte, listen string, hub host.Host) *member {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "RECONNECT_CHILD=1", "RECONNECT_KEY="+hex.EncodeToString(key),
		"RECONNECT_LISTEN="+listen,
		"RECONNECT_PEER="+fmt.Sprintf("%s/p2p/%s", hub.Addrs()[0], hub.ID()))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &member{cmd: cmd, stdin: stdin, lines: make(chan string, 1024)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(m.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			m.lines <- sc.Text()
		}
	}()
	select {
	case l, ok := <-m.lines:
		if !ok || !strings.HasPrefix(l, "READY ") {
			t.Fatalf("member: %q, want READY", l)
		}
		m.addr = strings.TrimPrefix(l, "READY ")
	case <-time.After(time.Minute):
		t.Fatal("member not ready after a minute")
	}
	return m
}

// stop ends the member: gracefully ("quit": its host closes its
// connections) or as kill -9 does (nothing is closed on the wire).
func (m *member) stop(t *testing.T, graceful bool) {
	t.Helper()
	if graceful {
		fmt.Fprintln(m.stdin, "quit")
	} else if err := m.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := m.cmd.Wait()
	if graceful && err != nil {
		t.Fatalf("member exit: %v", err)
	}
}

// hears publishes on top until the member reports a message from the hub,
// or fails after recoverWithin.
func hears(t *testing.T, top *pubsub.Topic, m *member, what string) {
	t.Helper()
	deadline := time.After(recoverWithin)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if err := top.Publish(context.Background(), fmt.Appendf(nil, "%s %d", what, i)); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-m.lines:
			if !ok {
				t.Fatalf("%s: member exited", what)
			}
			if strings.HasPrefix(l, "GOT "+what) {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: the member received no gossip in %v", what, recoverWithin)
		}
	}
}

// A member process that stops and restarts with the same identity
// receives gossip again once it has reconnected, and the hub lists it
// among the topic's peers; this is what a restarted direct-mode engine or
// clone needs to hear fork proofs.
func TestRestartedMemberReceivesGossip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts member processes")
	}
	cases := []struct {
		name     string
		graceful bool
		samePort bool // the restart listens where the first run did (a clone's listen file)
	}{
		{"graceful", true, false},
		{"kill-9", false, false},
		{"kill-9 same port", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hub, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hub.Close() })
			w, err := Watch(hub, DefaultParams(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			ps, err := pubsub.NewGossipSub(t.Context(), hub, w.Gossip())
			if err != nil {
				t.Fatal(err)
			}
			top, err := ps.Join(topicName)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := top.Subscribe(); err != nil {
				t.Fatal(err)
			}
			priv, _, err := crypto.GenerateEd25519Key(nil)
			if err != nil {
				t.Fatal(err)
			}
			key, err := crypto.MarshalPrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			id, err := peer.IDFromPrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}

			first := startMember(t, key, "/ip4/127.0.0.1/udp/0/quic-v1", hub)
			hears(t, top, first, "before")
			first.stop(t, tc.graceful)

			listen := "/ip4/127.0.0.1/udp/0/quic-v1"
			if tc.samePort {
				listen = first.addr
			}
			if _, err := ma.NewMultiaddr(listen); err != nil {
				t.Fatal(err)
			}
			again := startMember(t, key, listen, hub)
			hears(t, top, again, "after")
			if !slices.Contains(ps.ListPeers(topicName), id) {
				t.Fatalf("hub's topic peers %v lack the restarted member %s", ps.ListPeers(topicName), id)
			}
			st := w.Stats()
			t.Logf("watcher: %+v", st)
			if !tc.graceful && st.Closed < 1 {
				t.Fatalf("watcher closed no connection after a kill -9: %+v", st)
			}
			if st.Drained != st.Closed {
				t.Fatalf("gossipsub dropped its stream on %d of the %d closed connections before Connected returned: %+v", st.Drained, st.Closed, st)
			}
		})
	}
}

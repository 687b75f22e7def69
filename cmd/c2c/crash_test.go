package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/control"
)

// freeTCPPort returns a loopback TCP port that was free a moment ago, so a
// restarted sequencer can listen where the clones last saw it.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitCond polls cond every 20 ms until it holds, failing after limit.
func waitCond(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// Providers, a sequencer and three clones as separate processes; edits
// flow through the clones' control sockets while the sequencer and then a
// clone are killed with SIGKILL and restarted on their data dirs. Every
// acknowledged edit must be in the converged text exactly once.
//
// Clones listen on TCP and QUIC. After the kill -9 of a clone its peers still
// hold its dead QUIC connection; the restarted clone comes back on the same
// ports (node's listen file), so its first packet on that connection draws a
// stateless reset and gossip moves to the new one at once (before, it waited
// for QUIC's idle timeout, about 30 s). C2C_CRASH_LISTEN overrides the
// clones' listen addresses, e.g. /ip4/127.0.0.1/tcp/0 for TCP only.
func TestCrashProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	start := time.Now()
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 60 * time.Second
	ctx := context.Background()
	cloneListen := os.Getenv("C2C_CRASH_LISTEN")
	if cloneListen == "" {
		cloneListen = loopback
	}

	out, errOut, err := runC2C(bin, nil, "keygen", "--data", filepath.Join(root, "user"))
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, errOut)
	}
	user := field(out, "user ID")
	keyPath := filepath.Join(root, "user", "user.key")

	pDir := filepath.Join(root, "p1")
	prov := startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, prov, filepath.Join(pDir, readyFile), ready)
	pAddrs := waitFile(t, prov, filepath.Join(pDir, addrsFile), ready)
	bootEnv := []string{"C2C_BOOTSTRAP=" + strings.Join(strings.Fields(pAddrs), ",")}

	seqDir := filepath.Join(root, "seq")
	seqListen := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freeTCPPort(t))
	startSeq := func(name string) *proc {
		_ = os.Remove(filepath.Join(seqDir, readyFile)) // left by a killed process
		p := startProc(t, bin, name, bootEnv, "sequencer", "--data", seqDir, "--listen", seqListen)
		waitFile(t, p, filepath.Join(seqDir, readyFile), ready)
		return p
	}
	seq := startSeq("sequencer")
	seqAddr := strings.Fields(waitFile(t, seq, filepath.Join(seqDir, addrsFile), ready))[0]

	devices := []string{"phone", "laptop", "tablet"}
	cloneDir := func(i int) string { return filepath.Join(root, devices[i]) }
	clones := make([]*proc, len(devices))
	startClone := func(i int, name string) {
		_ = os.Remove(filepath.Join(cloneDir(i), readyFile))
		clones[i] = startProc(t, bin, name, bootEnv, "clone", "--data", cloneDir(i), "--listen", cloneListen)
		waitFile(t, clones[i], filepath.Join(cloneDir(i), readyFile), ready)
	}
	for i, dev := range devices {
		if _, errOut, err := runC2C(bin, nil, "enroll", "--key", keyPath, "--device", dev, "--clone-data", cloneDir(i)); err != nil {
			t.Fatalf("enroll %s: %v\n%s", dev, err, errOut)
		}
		startClone(i, dev)
	}
	t.Logf("provider, sequencer and 3 clones ready after %v", time.Since(start).Round(time.Millisecond))

	// The CLI: create on the phone, invite the laptop and the tablet.
	out, errOut, err = runC2C(bin, nil, "doc", "create", "--data", cloneDir(0), "--sequencer", seqAddr)
	if err != nil {
		t.Fatalf("doc create: %v\n%s", err, errOut)
	}
	doc := strings.TrimSpace(out)
	for _, dev := range devices[1:] {
		if _, errOut, err := runC2C(bin, nil, "doc", "invite", "--data", cloneDir(0), doc, user, dev); err != nil {
			t.Fatalf("doc invite %s: %v\n%s", dev, err, errOut)
		}
	}
	clients := make([]*control.Client, len(devices))
	for i := range devices {
		clients[i] = control.NewClient(filepath.Join(cloneDir(i), control.SocketFile))
		defer clients[i].Close()
	}
	waitCond(t, ready, "invited clones hold the key", func() bool {
		for _, c := range clients {
			in, err := c.Show(ctx, doc)
			if err != nil || in.Role == "none" || in.Applied != in.Seq {
				return false
			}
		}
		return true
	})

	apps := make([]*appender, len(devices))
	total := func() int {
		n := 0
		for _, a := range apps {
			n += a.count()
		}
		return n
	}
	for i, dev := range devices {
		apps[i] = &appender{name: dev, client: clients[i], doc: doc}
		apps[i].start()
	}
	headSeq := func(i int) uint64 {
		in, err := clients[i].Show(ctx, doc)
		if err != nil {
			return 0
		}
		return in.Seq
	}
	waitCond(t, ready, "30 edits acknowledged", func() bool { return total() >= 30 })

	// kill -9 the sequencer while edits flow; they are still acknowledged.
	seq.kill(t)
	killedAt := headSeq(0)
	acked := total()
	t.Logf("sequencer killed at seq %d with %d edits acknowledged (%v)", killedAt, acked, time.Since(start).Round(time.Millisecond))
	waitCond(t, ready, "edits acknowledged while the sequencer is down", func() bool { return total() >= acked+20 })
	seq = startSeq("sequencer-restarted")
	waitCond(t, ready, "log advances after the sequencer restart", func() bool {
		for i := range devices {
			if headSeq(i) <= killedAt+5 {
				return false
			}
		}
		return true
	})
	t.Logf("sequencer restarted; clones past seq %d (%v)", killedAt+5, time.Since(start).Round(time.Millisecond))

	// kill -9 the laptop's clone while edits flow, then restart it.
	acked = total()
	clones[1].kill(t)
	apps[1].halt()
	waitCond(t, ready, "edits flow while the laptop is down", func() bool { return total() >= acked+20 })
	startClone(1, "laptop-restarted")
	t.Logf("laptop killed and restarted (%v)", time.Since(start).Round(time.Millisecond))
	laptopBefore := apps[1].count()
	apps[1].start()
	acked = total()
	waitCond(t, ready, "edits flow after the laptop restart", func() bool { return apps[1].count() >= laptopBefore+10 && total() >= acked+30 })
	for _, a := range apps {
		a.halt()
	}
	t.Logf("editing stopped (%v)", time.Since(start).Round(time.Millisecond))

	// Convergence: same head, no pending edit, same text everywhere.
	var final control.DocInfo
	lastLog := time.Now()
	waitCond(t, ready, "the three clones converge", func() bool {
		var infos []control.DocInfo
		for _, c := range clients {
			in, err := c.Show(ctx, doc)
			if err != nil {
				return false
			}
			infos = append(infos, in)
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			for i, in := range infos {
				t.Logf("waiting: %s at seq %d applied %d pending %v missing %v", devices[i], in.Seq, in.Applied, in.Pending, in.Missing)
			}
		}
		for _, in := range infos {
			if in.Pending || in.Applied != in.Seq {
				return false
			}
		}
		for _, in := range infos[1:] {
			if in.Seq != infos[0].Seq || in.Head != infos[0].Head || in.Text != infos[0].Text {
				return false
			}
		}
		final = infos[0]
		return true
	})
	ackedN, unackedN, unackedIn := 0, 0, 0
	for _, a := range apps {
		for _, tok := range a.acked {
			ackedN++
			if c := strings.Count(final.Text, tok); c != 1 {
				t.Errorf("acknowledged edit %s appears %d times", tok, c)
			}
		}
		for _, tok := range a.unacked {
			unackedN++
			c := strings.Count(final.Text, tok)
			if c > 1 {
				t.Errorf("unacknowledged edit %s appears %d times", tok, c)
			}
			unackedIn += c
		}
	}
	t.Logf("converged at seq %d after %v: %d acknowledged edits all found exactly once; %d unacknowledged (%d of them applied); text %d bytes",
		final.Seq, time.Since(start).Round(time.Millisecond), ackedN, unackedN, unackedIn, len(final.Text))

	// The CLI shows the same head and the log.
	out, errOut, err = runC2C(bin, nil, "doc", "show", "--data", cloneDir(2), doc[:12])
	if err != nil || !strings.Contains(out, fmt.Sprintf("seq %d, chain %s", final.Seq, final.Head)) {
		t.Fatalf("doc show: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = runC2C(bin, nil, "doc", "log", "--data", cloneDir(1), doc)
	if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != int(final.Seq)+1 {
		t.Fatalf("doc log: %v (%d lines, want %d)\n%s", err, len(strings.Split(out, "\n")), final.Seq+1, errOut)
	}
	for _, c := range clones {
		c.stop(t)
	}
	seq.stop(t)
	prov.stop(t)
	if _, err := os.Stat(filepath.Join(cloneDir(0), control.SocketFile)); !os.IsNotExist(err) {
		t.Fatalf("control socket left after a clean stop: %v", err)
	}
}

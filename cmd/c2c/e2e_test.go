package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test runs the real binary as separate processes on
// 127.0.0.1. It waits by polling for the files the processes write when
// ready, never by sleeping for a guessed time.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// c2cBinary builds ./cmd/c2c once per test binary run.
func c2cBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "c2c-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "c2c")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running c2c process with its output captured in files.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	done chan error
}

func startProc(t *testing.T, bin, name string, env []string, args ...string) *proc {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || os.Getenv("C2C_E2E_LOGS") != "" {
			b, _ := os.ReadFile(out.Name())
			t.Logf("--- output of %s ---\n%s", name, tail(string(b), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", p.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30 s of SIGTERM", p.name)
	}
	b, _ := os.ReadFile(p.out.Name())
	if !strings.Contains(string(b), "stopped") {
		t.Fatalf("%s: no clean shutdown in its output", p.name)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// waitFile polls until path exists with content, failing the test if p
// exits first or after limit.
func waitFile(t *testing.T, p *proc, path string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited (%v) before writing %s", p.name, err, path)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not written within %v", p.name, path, limit)
		}
	}
}

// runC2C runs a short-lived command and returns its stdout, stderr and error.
func runC2C(bin string, env []string, args ...string) (string, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustRunC2C returns a runner of short-lived commands that fails the test
// on an error and returns stdout.
func mustRunC2C(t *testing.T, bin string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, errOut, err := runC2C(bin, nil, args...)
		if err != nil {
			t.Fatalf("c2c %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
}

const loopback = "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1"

func TestEndToEndProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	start := time.Now()
	bin := c2cBinary(t)
	t.Logf("binary built after %v", time.Since(start).Round(time.Millisecond))
	root := t.TempDir()
	const ready = 60 * time.Second

	// A user key.
	out, errOut, err := runC2C(bin, nil, "keygen", "--data", filepath.Join(root, "user"))
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, errOut)
	}
	user := field(out, "user ID")
	keyPath := filepath.Join(root, "user", "user.key")
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("user key %s: %v, mode %v", keyPath, err, st.Mode().Perm())
	}

	// Two providers, the second bootstrapping from the first.
	p1Dir, p2Dir := filepath.Join(root, "p1"), filepath.Join(root, "p2")
	p1 := startProc(t, bin, "provider-1", nil, "provider", "--data", p1Dir, "--listen", loopback)
	waitFile(t, p1, filepath.Join(p1Dir, readyFile), ready)
	p1Addrs := strings.Fields(waitFile(t, p1, filepath.Join(p1Dir, addrsFile), ready))
	p2 := startProc(t, bin, "provider-2", nil, "provider", "--data", p2Dir, "--listen", loopback,
		"--bootstrap", strings.Join(p1Addrs, ","))
	waitFile(t, p2, filepath.Join(p2Dir, readyFile), ready)
	p2Addrs := strings.Fields(waitFile(t, p2, filepath.Join(p2Dir, addrsFile), ready))
	// Clones get the providers through the environment, not a flag.
	bootEnv := []string{"C2C_BOOTSTRAP=" + strings.Join(append(append([]string{}, p1Addrs...), p2Addrs...), ",")}

	// An unenrolled clone refuses to start and says what to run.
	_, errOut, err = runC2C(bin, bootEnv, "clone", "--data", filepath.Join(root, "unenrolled"), "--listen", loopback)
	if err == nil || !strings.Contains(errOut, "not enrolled") || !strings.Contains(errOut, "c2c enroll") {
		t.Fatalf("unenrolled clone: err=%v stderr=%q", err, errOut)
	}

	// Three enrolled clones.
	devices := []string{"phone", "laptop", "tablet"}
	clones := make([]*proc, len(devices))
	cloneIDs := make([]string, len(devices))
	cloneDir := func(i int) string { return filepath.Join(root, "clone-"+devices[i]) }
	for i, dev := range devices {
		out, errOut, err := runC2C(bin, nil, "enroll", "--key", keyPath, "--device", dev, "--clone-data", cloneDir(i))
		if err != nil {
			t.Fatalf("enroll %s: %v\n%s", dev, err, errOut)
		}
		if field(out, "user") != user {
			t.Fatalf("enroll %s printed user %q, want %q", dev, field(out, "user"), user)
		}
		clones[i] = startProc(t, bin, "clone-"+dev, bootEnv, "clone", "--data", cloneDir(i), "--listen", loopback)
	}
	for i := range devices {
		cloneIDs[i] = waitFile(t, clones[i], filepath.Join(cloneDir(i), readyFile), ready)
	}

	t.Logf("2 providers and 3 clones ready after %v", time.Since(start).Round(time.Millisecond))
	lookup := func(args ...string) (string, string, error) {
		t0 := time.Now()
		defer func() { t.Logf("c2c dir lookup %v took %v", args, time.Since(t0).Round(time.Millisecond)) }()
		return runC2C(bin, nil, append([]string{"dir", "lookup", "--bootstrap", p2Addrs[0]}, args...)...)
	}
	// Each record, by device.
	for i, dev := range devices {
		out, errOut, err := lookup(user, dev)
		if err != nil {
			t.Fatalf("lookup %s: %v\n%s", dev, err, errOut)
		}
		if field(out, "clone") != cloneIDs[i] || field(out, "device") != dev || field(out, "user") != user {
			t.Fatalf("lookup %s printed\n%s\nwant clone %s", dev, out, cloneIDs[i])
		}
		if !strings.Contains(field(out, "addrs"), "/ip4/127.0.0.1/") {
			t.Fatalf("lookup %s: no loopback address in %q", dev, field(out, "addrs"))
		}
	}
	// All of the user's devices, through the signed device index.
	out, errOut, err = lookup(user)
	if err != nil {
		t.Fatalf("lookup all: %v\n%s", err, errOut)
	}
	for i := range devices {
		if !strings.Contains(out, cloneIDs[i]) {
			t.Fatalf("lookup of every device misses %s:\n%s", devices[i], out)
		}
	}
	// A device that does not exist: nonzero exit and a clear error.
	_, errOut, err = lookup(user, "watch")
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() == 0 || !strings.Contains(errOut, "no record") {
		t.Fatalf("lookup of a missing device: err=%v stderr=%q", err, errOut)
	}

	// The phone knows only a provider: it looks its clone up in that
	// provider's directory, checks the certificate and dials the clone.
	out, errOut, err = runC2C(bin, nil, "device", "connect", "--data", filepath.Join(root, "phone-device"),
		"--provider", p2Addrs[0], "--user", user, "--name", "phone",
		"--key", filepath.Join(root, "user", "devices", "phone.key"))
	if err != nil || !strings.Contains(out, "certificate of "+user+"/phone verified") || !strings.Contains(out, "-> clone "+cloneIDs[0]+": connected") {
		t.Fatalf("device connect --provider: %v\n%s\n%s", err, out, errOut)
	}
	// The laptop's key is not the phone's: the certificate says so.
	_, errOut, err = runC2C(bin, nil, "device", "connect", "--data", filepath.Join(root, "wrong-device"),
		"--provider", p2Addrs[0], "--user", user, "--name", "phone",
		"--key", filepath.Join(root, "user", "devices", "laptop.key"))
	if err == nil || !strings.Contains(errOut, "not this one") {
		t.Fatalf("device connect --provider with another device's key: err=%v stderr=%q", err, errOut)
	}

	t.Logf("lookups done after %v", time.Since(start).Round(time.Millisecond))
	// kill -9 a clone, restart it on the same data dir: same ID, record still there.
	clones[1].kill(t)
	clones[1] = startProc(t, bin, "clone-laptop-restarted", bootEnv, "clone", "--data", cloneDir(1), "--listen", loopback)
	if id := waitFile(t, clones[1], filepath.Join(cloneDir(1), readyFile), ready); id != cloneIDs[1] {
		t.Fatalf("restarted clone has ID %s, want %s", id, cloneIDs[1])
	}
	out, errOut, err = lookup(user, "laptop")
	if err != nil || field(out, "clone") != cloneIDs[1] {
		t.Fatalf("lookup after kill -9 and restart: %v\n%s\n%s", err, out, errOut)
	}

	t.Logf("clone restarted after kill -9 and found after %v", time.Since(start).Round(time.Millisecond))
	// Clean shutdown of everything.
	for _, c := range clones {
		c.stop(t)
	}
	p2.stop(t)
	p1.stop(t)
}

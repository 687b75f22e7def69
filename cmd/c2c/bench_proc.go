package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clone2clone/c2c/internal/procstat"
)

// Child processes of a bench: the bench runs its own binary, as a user
// would run c2c, and waits on the files the roles write (addrs, ready) by
// polling with a bound, never by sleeping for a guessed time.

// childEnv is the bench process's environment without C2C_* variables: a
// child gets every setting on its command line, none from the caller's
// environment (C2C_DATA, C2C_METRICS and the like would collide).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "C2C_") {
			env = append(env, kv)
		}
	}
	return env
}

// child is a long-running c2c process (provider, sequencer or clone) with
// its output appended to a log file. It can be killed and restarted on
// the same data dir.
type child struct {
	name string // for progress lines and the log file's name
	bin  string
	dir  string // its data dir
	args []string
	log  string // log file

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	exitErr error
	pastCPU time.Duration // CPU time of earlier processes of this child
}

// startChild starts bin with args (which must include --data dir), its
// output in logDir/name.log.
func startChild(bin, name, dir, logDir string, args ...string) (*child, error) {
	c := &child{name: name, bin: bin, dir: dir, args: args, log: filepath.Join(logDir, name+".log")}
	return c, c.start()
}

func (c *child) start() error {
	out, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "--- %s: c2c %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(c.args, " "))
	cmd := exec.Command(c.bin, c.args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a ^C to the bench is the bench's to handle.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done, c.exitErr = cmd, done, nil
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		out.Close()
		c.mu.Lock()
		c.exitErr = err
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

// pid is the running process's ID, 0 once it has exited.
func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return 0
	default:
		return c.cmd.Process.Pid
	}
}

// exited reports whether the process has ended, and how.
func (c *child) exited() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return true, c.exitErr
	default:
		return false, nil
	}
}

// cpu is the CPU time of this child's processes: those killed before and
// the running one.
func (c *child) cpu() time.Duration {
	c.mu.Lock()
	past := c.pastCPU
	c.mu.Unlock()
	if pid := c.pid(); pid > 0 {
		if st, err := procstat.Read(pid); err == nil {
			return past + st.CPU
		}
	}
	return past
}

// waitFile polls for c's data-dir file name until it has content, and
// fails at once if the process exits, or after limit.
func (c *child) waitFile(ctx context.Context, name string, limit time.Duration) (string, error) {
	path := filepath.Join(c.dir, name)
	return pollFor(ctx, limit, c.name+" writes "+name, func() (string, bool, error) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b)), true, nil
		}
		if gone, err := c.exited(); gone {
			return "", false, fmt.Errorf("%s exited (%v) before writing %s; its log: %s%s", c.name, err, name, c.log, c.lastLines(1))
		}
		return "", false, nil
	})
}

// lastLines returns the last n lines of c's log, each after " | ", for
// one-line errors.
func (c *child) lastLines(n int) string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return " | " + strings.Join(lines, " | ")
}

// kill sends SIGKILL and waits until the process is gone (kill -9).
func (c *child) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if pid := c.pid(); pid > 0 {
		if st, err := procstat.Read(pid); err == nil {
			c.mu.Lock()
			c.pastCPU += st.CPU
			c.mu.Unlock()
		}
	}
	_ = cmd.Process.Kill()
	<-done
}

// restart starts the process again on the same data dir and arguments,
// after removing the ready file the dead one left.
func (c *child) restart() error {
	if gone, _ := c.exited(); !gone {
		return fmt.Errorf("restart %s: still running", c.name)
	}
	if err := os.Remove(filepath.Join(c.dir, readyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return c.start()
}

// stop sends SIGTERM and waits up to limit for the process to end, then
// kills it.
func (c *child) stop(limit time.Duration) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if gone, _ := c.exited(); gone {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(limit):
		c.kill()
	}
}

// pollFor calls cond every 50 ms until it reports done or an error, ctx
// ends, or limit passes. The 50 ms is a polling interval, not a guess at
// how long anything takes.
func pollFor[T any](ctx context.Context, limit time.Duration, what string, cond func() (T, bool, error)) (T, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v, ok, err := cond()
		if ok || err != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-deadline.C:
			return v, fmt.Errorf("%s: not within %v", what, limit.Round(100*time.Millisecond))
		case <-tick.C:
		}
	}
}

// runCommand runs a short-lived c2c command (bounded by limit), appends
// its command line and output to log, and returns its stdout.
func runCommand(ctx context.Context, bin string, log io.Writer, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	fmt.Fprintf(log, "--- %s: c2c %s (%v, %v)\n%s%s", start.Format(time.RFC3339Nano), strings.Join(args, " "),
		time.Since(start).Round(time.Millisecond), err, stdout.String(), stderr.String())
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		return stdout.String(), fmt.Errorf("c2c %s: %v: %s", args[0]+" "+argOr(args, 1), err, msg)
	}
	return stdout.String(), nil
}

// field returns the value of a "name: value" line of a command's output
// (keygen's "user ID: ...", enroll's "clone: ...").
func field(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func argOr(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

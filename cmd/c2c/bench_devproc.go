package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// streamDevice is a `c2c device stream` child process of a bench: a
// device of its own, on its own data dir, that types what the bench
// writes to its stdin and reports every remote change it shows. The bench
// timestamps each line as it reads it.
type streamDevice struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready chan streamLine // the ready line
	done  chan streamLine // the done line
	exit  chan error      // the process's exit
}

// startStreamDevice connects a device (dir, enrolled as name with key,
// of user, at clone addr) with `c2c device connect`, then runs `c2c device
// stream doc` (extra are its flags) with its stderr in logDir. onLine gets
// every line it prints, with the time it was read.
func startStreamDevice(ctx context.Context, bin, logDir, dir, name, user, key, clone, doc string,
	onLine func(at time.Time, l streamLine), extra ...string) (*streamDevice, error) {
	logf, err := os.OpenFile(filepath.Join(logDir, filepath.Base(dir)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := runCommand(ctx, bin, logf, time.Minute, "--data", dir, "--log-level", "warn", "device", "connect",
		"--clone", clone, "--user", user, "--name", name, "--key", key); err != nil {
		logf.Close()
		return nil, err
	}
	args := append([]string{"--data", dir, "--log-level", "warn", "device", "stream", doc}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start device %s: %w", dir, err)
	}
	d := &streamDevice{name: filepath.Base(dir), cmd: cmd, stdin: stdin,
		ready: make(chan streamLine, 1), done: make(chan streamLine, 1), exit: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			at := time.Now()
			var l streamLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch {
			case l.Ready:
				d.ready <- l
			case l.Done:
				d.done <- l
			}
			onLine(at, l)
		}
		d.exit <- cmd.Wait()
		logf.Close()
	}()
	return d, nil
}

// await waits for the line on ch, failing if the process exits first or
// after limit.
func (d *streamDevice) await(ctx context.Context, ch chan streamLine, what string, limit time.Duration) (streamLine, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case l := <-ch:
		return l, nil
	case err := <-d.exit:
		d.exit <- err
		return streamLine{}, fmt.Errorf("device %s exited before %s: %v (see its log)", d.name, what, err)
	case <-t.C:
		return streamLine{}, fmt.Errorf("device %s: no %s after %v", d.name, what, limit)
	case <-ctx.Done():
		return streamLine{}, ctx.Err()
	}
}

// kill ends the process (a bench that failed midway).
func (d *streamDevice) kill() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
	}
}

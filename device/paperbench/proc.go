package paperbench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// proc is one device process and its command pipe.
type proc struct {
	idx   int
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan error
}

func startProc(idx int, cmd *exec.Cmd, cfg *childConfig) (*proc, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("device process %d: %w", idx, err)
	}
	p := &proc{idx: idx, cmd: cmd, in: in, lines: make(chan string, 4), done: make(chan error, 1)}
	go func() {
		r := bufio.NewReaderSize(out, 1<<16)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(p.lines)
				p.done <- cmd.Wait()
				return
			}
			p.lines <- strings.TrimSpace(line)
		}
	}()
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.send(string(b)); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func (p *proc) send(line string) error {
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		return fmt.Errorf("device process %d: %w", p.idx, err)
	}
	return nil
}

var errProcGone = errors.New("device process ended")

// next reads the process's next line, waiting at most limit.
func (p *proc) next(limit time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("device process %d: %w", p.idx, errProcGone)
		}
		return line, nil
	case <-time.After(limit):
		return "", fmt.Errorf("device process %d: no answer after %v", p.idx, limit)
	}
}

// expect reads a line that must start with want.
func (p *proc) expect(want string, limit time.Duration) (string, error) {
	line, err := p.next(limit)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, want) {
		return "", fmt.Errorf("device process %d said %q, want %s", p.idx, line, want)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, want)), nil
}

// report asks for the window's report.
func (p *proc) report(limit time.Duration) (window, error) {
	var w window
	if err := p.send("REPORT"); err != nil {
		return w, err
	}
	line, err := p.next(limit)
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(line), &w); err != nil {
		return w, fmt.Errorf("device process %d: report %.80q: %w", p.idx, line, err)
	}
	return w, nil
}

func (p *proc) kill() {
	_ = p.in.Close()
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// all sends line to every process and waits for each one's OK.
func all(ps []*proc, line string, limit time.Duration) ([]string, error) {
	for _, p := range ps {
		if err := p.send(line); err != nil {
			return nil, err
		}
	}
	out := make([]string, len(ps))
	var errs []error
	for i, p := range ps {
		rest, err := p.expect("OK", limit)
		out[i] = rest
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

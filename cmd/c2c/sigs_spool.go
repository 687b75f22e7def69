package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/replication/scanwire"
)

// A running provider holds its datastore, so c2c provider sigs add hands
// it the files through a spool directory in its data dir (mode 0700, like
// the data dir: whoever can write there is the operator): a request file,
// written atomically, that the provider picks up, adds (validating again),
// answers with a result file, and removes.
const (
	sigsSpoolDir  = "sigs-incoming"
	sigsStatus    = "sigs.json" // the current manifest's summary, for sigs ls while running
	sigsSpoolPoll = time.Second
	sigsSpoolWait = time.Minute
)

type sigsRequest struct {
	Files []scanwire.SigFile `json:"files"`
}

type sigsResult struct {
	Version  uint64   `json:"version"`
	HashSigs uint64   `json:"hash_sigs"`
	BodySigs uint64   `json:"body_sigs"`
	Files    []string `json:"files"`
	Error    string   `json:"error,omitempty"`
}

func resultOf(m *scanwire.Manifest) sigsResult {
	r := sigsResult{Version: m.Version, HashSigs: m.HashSigs, BodySigs: m.BodySigs, Files: []string{}}
	for _, f := range m.Files {
		r.Files = append(r.Files, f.Name)
	}
	return r
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return keystore.WriteFile(path, append(b, '\n'))
}

// watchSigsSpool runs on a provider: every sigsSpoolPoll it adds the
// spooled requests, oldest first, and reloads the scanner. It keeps
// <data>/sigs.json current. The returned function stops it.
func watchSigsSpool(ctx context.Context, dir string, p *scanwire.Provider, log *slog.Logger) func() error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	_ = writeJSON(filepath.Join(dir, sigsStatus), resultOf(p.Manifest()))
	go func() {
		defer close(done)
		t := time.NewTicker(sigsSpoolPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			reqs, _ := filepath.Glob(filepath.Join(dir, sigsSpoolDir, "*.req"))
			slices.Sort(reqs)
			for _, req := range reqs {
				res := addSpooled(ctx, p, req)
				if res.Error != "" {
					log.Warn("signature files refused", "request", req, "err", res.Error)
				} else {
					log.Info("signature database updated", "version", res.Version)
					_ = writeJSON(filepath.Join(dir, sigsStatus), res)
				}
				if err := writeJSON(strings.TrimSuffix(req, ".req")+".res", res); err != nil {
					log.Warn("signature spool", "err", err)
				}
				_ = os.Remove(req)
			}
		}
	}()
	return func() error { cancel(); <-done; return nil }
}

func addSpooled(ctx context.Context, p *scanwire.Provider, req string) sigsResult {
	b, err := os.ReadFile(req)
	var r sigsRequest
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	var m *scanwire.Manifest
	if err == nil {
		m, err = scanwire.NewStore(p.Datastore()).Add(ctx, p.Key(), r.Files)
	}
	if err == nil {
		err = p.Reload(ctx)
	}
	if err != nil {
		return sigsResult{Error: err.Error()}
	}
	return resultOf(m)
}

// spoolSigs hands files to the running provider in dir and waits for its
// answer.
func spoolSigs(ctx context.Context, dir string, files []scanwire.SigFile) (sigsResult, error) {
	base := filepath.Join(dir, sigsSpoolDir, fmt.Sprintf("%020d", time.Now().UnixNano()))
	if err := writeJSON(base+".req", sigsRequest{files}); err != nil {
		return sigsResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, sigsSpoolWait)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond) // polling the answer file, not synchronization
	defer t.Stop()
	for {
		b, err := os.ReadFile(base + ".res")
		if err == nil {
			_ = os.Remove(base + ".res")
			var r sigsResult
			if err := json.Unmarshal(b, &r); err != nil {
				return sigsResult{}, err
			}
			if r.Error != "" {
				return r, errors.New(r.Error)
			}
			return r, nil
		}
		select {
		case <-ctx.Done():
			_ = os.Remove(base + ".req")
			return sigsResult{}, fmt.Errorf("the provider in %s did not take the files within %v: is it running? (%w)", dir, sigsSpoolWait, ctx.Err())
		case <-t.C:
		}
	}
}

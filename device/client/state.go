package client

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
)

func (c *Client) statePath(doc docsync.DocID) string {
	return filepath.Join(c.stateDir, hex.EncodeToString(doc[:])+".state")
}

// loadState reads a document's persisted state, or starts a fresh one.
func (c *Client) loadState(doc docsync.DocID) (*jupiter.Client, error) {
	if c.stateDir == "" {
		return jupiter.NewClient(), nil
	}
	b, err := os.ReadFile(c.statePath(doc))
	if errors.Is(err, fs.ErrNotExist) {
		return jupiter.NewClient(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	jc, err := jupiter.UnmarshalClient(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return jc, nil
}

// writeState writes a marshalled state atomically and durably: a
// temporary file, synced, renamed over the old one, then the directory
// synced. Only the document's writer calls it (commit.go).
func (c *Client) writeState(doc docsync.DocID, b []byte) error {
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	path := c.statePath(doc)
	tmp, err := os.CreateTemp(c.stateDir, ".state-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	dir, err := os.Open(c.stateDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return nil
}

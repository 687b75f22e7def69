package client

import (
	"encoding/hex"
	"fmt"

	"github.com/clone2clone/c2c/device/jupiter"
	"github.com/clone2clone/c2c/docsync"
)

// stateFileOf is the document's snapshot and log (statelog.go).
func (c *Client) stateFileOf(doc docsync.DocID) *stateFile {
	return c.openStateFile(hex.EncodeToString(doc[:]))
}

// loadState reads a document's persisted state, or starts a fresh one.
func (c *Client) loadState(doc docsync.DocID) (*jupiter.Client, *stateFile, error) {
	if c.stateDir == "" {
		return jupiter.NewClient(), nil, nil
	}
	sf := c.stateFileOf(doc)
	b, err := sf.load()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if b == nil {
		return jupiter.NewClient(), sf, nil
	}
	jc, err := jupiter.UnmarshalClient(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	return jc, sf, nil
}

// writeState writes a marshalled state durably (statelog.go). Only the
// document's writer calls it (commit.go).
func (c *Client) writeState(sf *stateFile, b []byte) error {
	if err := sf.write(b); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	return nil
}

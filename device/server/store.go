package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/clone2clone/c2c/docsync"
)

// Device counters. Each device's last applied edit counter per document is
// an engine meta record (counterPrefix + device name -> uvarint), written by
// EditFuncMeta in the same durable batch as the engine state holding the
// edit. Invariant: after a crash at any point, a device edit is either not
// applied and its counter not advanced, or both; so a device that resends
// its in-flight edit after a clone restart has it applied exactly once.
const counterPrefix = "device-counter/"

// counterMeta is the meta record of device's counter if applying a step
// advanced it past before (hb.mu held).
func (hb *hub) counterMeta(device string, before uint64) map[string][]byte {
	c := hb.srv.LastCounter(device)
	if c <= before {
		return nil
	}
	return map[string][]byte{counterPrefix + device: binary.AppendUvarint(nil, c)}
}

// loadCounters reads every device counter of doc from the engine.
func (s *Server) loadCounters(ctx context.Context, doc docsync.DocID) (map[string]uint64, error) {
	recs, err := s.eng.Meta(ctx, doc, counterPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for k, v := range recs {
		c, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, fmt.Errorf("device server: bad counter record %q", k)
		}
		out[strings.TrimPrefix(k, counterPrefix)] = c
	}
	return out, nil
}

package docsync

import (
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

// ForkProof is transferable evidence that a sequencer equivocated: two heads
// it signed for the same (doc, seq) with different chain hashes.
type ForkProof struct {
	A, B Head
}

// Verify checks the proof against the sequencer's public key; anyone can run it.
func (p *ForkProof) Verify(seqPub ed25519.PublicKey) error {
	if p.A.Doc != p.B.Doc || p.A.Seq != p.B.Seq {
		return fmt.Errorf("%w: heads name different (doc, seq)", ErrInvalidProof)
	}
	if p.A.ChainHash == p.B.ChainHash {
		return fmt.Errorf("%w: heads agree", ErrInvalidProof)
	}
	if err := p.A.Verify(seqPub); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if err := p.B.Verify(seqPub); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	return nil
}

// Marshal encodes the proof.
func (p *ForkProof) Marshal() ([]byte, error) {
	return proto.Marshal(&wire.ForkProof{A: p.A.toWire(), B: p.B.toWire()})
}

// DecodeForkProof decodes a proof (not its signatures: call Verify).
func DecodeForkProof(b []byte) (*ForkProof, error) {
	var w wire.ForkProof
	if err := unmarshal(b, 2048, &w, "fork proof"); err != nil {
		return nil, err
	}
	a, err := headFromWire(w.A)
	if err != nil {
		return nil, err
	}
	bh, err := headFromWire(w.B)
	if err != nil {
		return nil, err
	}
	return &ForkProof{A: a, B: bh}, nil
}

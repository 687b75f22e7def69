package docsync

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/clone2clone/c2c/docsync/wire"
	"google.golang.org/protobuf/proto"
)

// Snapshot limits (part of the protocol: every member must accept what
// another makes).
const (
	// MaxSnapshotAuthors bounds the counters a snapshot lists (every author
	// the document ever had, removed ones included).
	MaxSnapshotAuthors = 1 << 16
	// MaxSnapshotWindow bounds the window of chain hashes and committed ops
	// a snapshot carries: no valid parent is older than MaxParentLag.
	MaxSnapshotWindow = MaxParentLag
)

const (
	tagSnapshot     = "c2c/docsync/snapshot/v1\x00"
	tagSnapshotBody = "c2c/docsync/snapshot-body/v1\x00"
)

// SealedSnapshot is a member's signed, encrypted snapshot of a document at a
// sequencer-signed head (docs/snapshots.md). The header is plaintext log
// state the sequencer already sees (membership, wrapped keys, counters and
// the window of chain hashes before the head); the body (text and the
// committed ops of the window) is sealed under the epoch key.
//
// DecodeSealedSnapshot checks the maker's signature and the shape; Verify
// checks it against the chain: the sequencer's signature on the head and
// that the window's digests chain from the window base to the head's hash.
// So a snapshot can be wrong about the text only by its maker's lie, never
// about the chain.
type SealedSnapshot struct {
	Maker          MemberID
	Head           Head
	Epoch          uint64
	Members        []Member // sorted by ID
	Wraps          map[MemberID][]byte
	PrevKeys       map[uint64]sealedPrev
	Counters       map[MemberID]uint64
	WindowBase     uint64
	WindowBaseHash Hash
	WindowDigests  []Hash // envelope digests of WindowBase+1..Head.Seq
	Nonce, Body    []byte

	spans []keySpan // the key schedule up to the head (schedule.go); nil: the genesis key throughout
	raw   []byte    // the SignedSnapshot encoding, as made or received
	chain []Hash    // h(WindowBase)..h(Head.Seq), once Verify computed them
}

// Bytes returns the encoding that was signed or decoded.
func (s *SealedSnapshot) Bytes() []byte { return s.raw }

// Seq returns the snapshot's seq.
func (s *SealedSnapshot) Seq() uint64 { return s.Head.Seq }

func bodyAAD(h Head, epoch uint64, maker MemberID) []byte {
	return canon(nil).fixed([]byte(tagSnapshotBody)).fixed(h.Doc[:]).u64(h.Seq).
		fixed(h.ChainHash[:]).u64(epoch).fixed(maker[:])
}

func snapshotSigningBytes(header []byte) []byte {
	return append([]byte(tagSnapshot), header...)
}

// header encodes the fields covered by the maker's signature.
func (s *SealedSnapshot) header() ([]byte, error) {
	m := logMeta{epoch: s.Epoch, members: s.Members, wraps: s.Wraps, prevKeys: s.PrevKeys, counters: s.Counters}.toWire()
	w := &wire.SnapshotHeader{Head: s.Head.toWire(), Epoch: s.Epoch, Members: m.members, Wraps: m.wraps,
		PrevKeys: m.prevKeys, Counters: m.counters, WindowBase: s.WindowBase,
		WindowBaseHash: s.WindowBaseHash[:], Nonce: s.Nonce, Body: s.Body}
	sw, err := spansToWire(s.spans)
	if err != nil {
		return nil, err
	}
	w.Sequencers = sw
	w.WindowDigests = make([]byte, 0, 32*len(s.WindowDigests))
	for _, d := range s.WindowDigests {
		w.WindowDigests = append(w.WindowDigests, d[:]...)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(w)
}

// sign encodes the header, signs it with the maker's key and keeps the result.
func (s *SealedSnapshot) sign(priv ed25519.PrivateKey) error {
	hb, err := s.header()
	if err != nil {
		return err
	}
	b, err := proto.Marshal(&wire.SignedSnapshot{Maker: s.Maker[:], Header: hb,
		Sig: ed25519.Sign(priv, snapshotSigningBytes(hb))})
	if err != nil {
		return err
	}
	if len(b) > MaxSnapshotBytes {
		return fmt.Errorf("%w: snapshot is %d bytes, cap %d", ErrTooLarge, len(b), MaxSnapshotBytes)
	}
	s.raw = b
	return nil
}

// DecodeSealedSnapshot decodes a snapshot, checks its maker's signature
// over the header bytes as received, then the header's shape. The caller
// checks it against the chain with Verify before trusting anything in it.
func DecodeSealedSnapshot(b []byte) (*SealedSnapshot, error) {
	var sw wire.SignedSnapshot
	if err := unmarshal(b, MaxSnapshotBytes, &sw, "snapshot"); err != nil {
		return nil, err
	}
	s := &SealedSnapshot{raw: append([]byte(nil), b...)}
	if err := copy32((*[32]byte)(&s.Maker), sw.Maker, "snapshot maker"); err != nil {
		return nil, err
	}
	if err := checkSig(sw.Sig, "snapshot signature"); err != nil {
		return nil, err
	}
	if !ed25519.Verify(s.Maker.PublicKey(), snapshotSigningBytes(sw.Header), sw.Sig) {
		return nil, fmt.Errorf("%w: by %v", ErrSnapshotSignature, s.Maker)
	}
	var w wire.SnapshotHeader
	if err := unmarshal(sw.Header, MaxSnapshotBytes, &w, "snapshot header"); err != nil {
		return nil, err
	}
	if err := s.fromHeader(&w); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SealedSnapshot) fromHeader(w *wire.SnapshotHeader) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: snapshot "+format, append([]any{ErrMalformed}, a...)...)
	}
	h, err := headFromWire(w.Head)
	if err != nil {
		return err
	}
	if h.Seq == 0 {
		return bad("at seq 0")
	}
	m, err := metaFromWire(w.Epoch, metaWire{w.Members, w.Wraps, w.PrevKeys, w.Counters}, "snapshot")
	if err != nil {
		return err
	}
	s.Head, s.Epoch, s.Members, s.Wraps, s.PrevKeys, s.Counters = h, m.epoch, m.members, m.wraps, m.prevKeys, m.counters
	if w.WindowBase >= h.Seq || h.Seq-w.WindowBase > MaxSnapshotWindow ||
		uint64(len(w.WindowDigests)) != 32*(h.Seq-w.WindowBase) {
		return bad("window %d..%d with %d digest bytes", w.WindowBase, h.Seq, len(w.WindowDigests))
	}
	if err := copy32((*[32]byte)(&s.WindowBaseHash), w.WindowBaseHash, "window base hash"); err != nil {
		return err
	}
	s.WindowBase = w.WindowBase
	s.WindowDigests = make([]Hash, len(w.WindowDigests)/32)
	for i := range s.WindowDigests {
		copy(s.WindowDigests[i][:], w.WindowDigests[32*i:])
	}
	if len(w.Nonce) != NonceSize || len(w.Body) > MaxSnapshotBytes {
		return bad("body nonce of %d bytes", len(w.Nonce))
	}
	s.Nonce, s.Body = append([]byte(nil), w.Nonce...), append([]byte(nil), w.Body...)
	s.spans, err = spansFromWire(h.Doc, w.Sequencers, h.Seq, true)
	return err
}

// keyAt is the key the snapshot's schedule says signs seq, given the
// genesis key first.
func (s *SealedSnapshot) keyAt(seq uint64, first ed25519.PublicKey) ed25519.PublicKey {
	key := first
	for _, sp := range s.spans {
		if seq >= sp.from {
			key = sp.key
		}
	}
	return key
}

func (s *SealedSnapshot) isMember(id MemberID) bool { return isMemberOf(s.Members, id) }

// Verify checks the snapshot against the chain of doc whose genesis
// sequencer key is seqPub: that its key schedule starts with that key
// (each later span was checked against its signed move when it was
// decoded), the head's signature by the key the schedule names for it, that the window's
// digests chain from the window base hash to the head's chain hash, that
// the base is the genesis hash when the window starts at seq 0, and that
// the maker is a member at the head. It does not open the body.
func (s *SealedSnapshot) Verify(doc DocID, seqPub ed25519.PublicKey) error {
	if s.Head.Doc != doc {
		return fmt.Errorf("%w: snapshot of %v", ErrWrongDoc, s.Head.Doc)
	}
	if len(s.spans) > 0 && !bytes.Equal(s.spans[0].key, seqPub) {
		return fmt.Errorf("%w: its key schedule starts with another sequencer", ErrSnapshotChain)
	}
	if err := s.Head.Verify(s.keyAt(s.Head.Seq, seqPub)); err != nil {
		return err
	}
	if s.WindowBase == 0 && s.WindowBaseHash != GenesisHash(doc) {
		return fmt.Errorf("%w: window from seq 0 does not start at the genesis hash", ErrSnapshotChain)
	}
	chain := make([]Hash, 1, len(s.WindowDigests)+1)
	chain[0] = s.WindowBaseHash
	for _, d := range s.WindowDigests {
		chain = append(chain, ChainHash(chain[len(chain)-1], d))
	}
	if chain[len(chain)-1] != s.Head.ChainHash {
		return fmt.Errorf("%w: window %d..%d does not chain to the signed head", ErrSnapshotChain, s.WindowBase, s.Head.Seq)
	}
	if !s.isMember(s.Maker) {
		return fmt.Errorf("%w: snapshot maker %v is not a member at seq %d", ErrNotMember, s.Maker, s.Head.Seq)
	}
	s.chain = chain[:len(chain):len(chain)] // full: a log that appends copies it
	return nil
}

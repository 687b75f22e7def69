package replication

import (
	"crypto/ed25519"
	"fmt"
)

// Offer is the device's answer to a resync request: frozen, it names the
// last batch it closed, the chain and positions through it, its state hash
// and every app's manifest, signed by the device key. The mirror fetches the
// chunks of the manifests it lacks; each chunk verifies against its hash,
// each manifest against the state hash, the state hash against the signature.
//
// Encoding (format 0xC1): 0xC1 device[32] epoch number chain[32] nextSeq
// lastNet stateHash[32] nApps (nChunks chunk[32]...)... causeBatch nCause
// root[32]... sig[64].
type Offer struct {
	Device    DeviceID
	Epoch     uint64
	Number    uint64 // the last batch the device closed (0: none yet)
	Chain     Hash   // the chain hash through Number
	NextSeq   uint64 // the position of the device's next input
	LastNet   uint64 // the last network input the device consumed
	StateHash Hash
	Apps      []Manifest // one per app of the epoch, in name order
	// CauseRoots are the apps' roots after batch CauseBatch, the one the
	// mirror diverged at, when the device still knows them (else none).
	CauseBatch uint64
	CauseRoots []Hash
	Sig        []byte

	raw []byte
}

func (o *Offer) encodeBody() []byte {
	p := make([]byte, 0, 160+32*o.chunks())
	p = append(p, formatOffer)
	p = append(p, o.Device[:]...)
	p = putUvarint(p, o.Epoch)
	p = putUvarint(p, o.Number)
	p = append(p, o.Chain[:]...)
	p = putUvarint(p, o.NextSeq)
	p = putUvarint(p, o.LastNet)
	p = append(p, o.StateHash[:]...)
	p = putUvarint(p, uint64(len(o.Apps)))
	for _, m := range o.Apps {
		p = putManifest(p, m)
	}
	p = putUvarint(p, o.CauseBatch)
	return putManifest(p, o.CauseRoots)
}

func (o *Offer) chunks() int {
	n := 0
	for _, m := range o.Apps {
		n += len(m)
	}
	return n
}

func (o *Offer) seal(priv ed25519.PrivateKey) {
	body := o.encodeBody()
	o.Sig = sign(priv, tagOffer, body)
	o.raw = append(body, o.Sig...)
}

// Marshal returns the offer's encoding (set by sealing or decoding).
func (o *Offer) Marshal() []byte { return o.raw }

// VerifySig checks the signature by the device key pub.
func (o *Offer) VerifySig(pub ed25519.PublicKey) error {
	return verifySig(pub, tagOffer, o.raw[:len(o.raw)-ed25519.SignatureSize], o.Sig, "offer")
}

// DecodeOffer decodes and validates an offer's structure (not its
// signature). Errors wrap ErrTooLarge, ErrTruncated, ErrNonCanonical or
// ErrMalformed.
func DecodeOffer(p []byte) (*Offer, error) {
	r := open(p, MaxOfferBytes, formatOffer, "offer")
	o := &Offer{raw: p}
	copy(o.Device[:], r.bytes(32, "device"))
	o.Epoch = r.uvarint("epoch")
	o.Number = r.uvarint("number")
	o.Chain = r.hash("chain")
	o.NextSeq = r.uvarint("next seq")
	o.LastNet = r.uvarint("last net")
	o.StateHash = r.hash("state hash")
	n := r.count("apps", MaxApps, 1)
	for i := 0; i < n && r.err == nil; i++ {
		o.Apps = append(o.Apps, r.manifest("manifest"))
	}
	o.CauseBatch = r.uvarint("cause batch")
	o.CauseRoots = r.manifest("cause roots")
	o.Sig = r.sig("offer")
	if r.err != nil {
		return nil, r.err
	}
	if o.NextSeq == 0 || n == 0 {
		return nil, fmt.Errorf("%w: offer with next seq 0 or no apps", ErrMalformed)
	}
	if len(o.CauseRoots) != 0 && len(o.CauseRoots) != n {
		return nil, fmt.Errorf("%w: %d cause roots for %d apps", ErrMalformed, len(o.CauseRoots), n)
	}
	return o, nil
}

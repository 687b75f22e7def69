package presence

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/internal/wirebytes"
	"golang.org/x/crypto/chacha20poly1305"
)

// Errors.
var (
	// ErrMalformed: the bytes are not a presence message.
	ErrMalformed = errors.New("presence: malformed message")
	// ErrSignature: the member's signature does not verify.
	ErrSignature = errors.New("presence: bad signature")
	// ErrDecrypt: the body does not open under the epoch's key.
	ErrDecrypt = errors.New("presence: cannot decrypt")
)

// Update is one member device's caret as it travels between clones.
type Update struct {
	Doc    docsync.DocID
	Member docsync.MemberID // the sending clone, which signs
	Epoch  uint64           // the key epoch the body is sealed under
	// Stamp is the sender's clock in milliseconds since the Unix epoch,
	// strictly increasing per member: receivers refuse replays and stale
	// messages by it.
	Stamp uint64

	// Sealed under the epoch key:
	Device string // the member's device name
	Name   string // a display name the member gives (may be empty)
	Seq    uint64 // the committed seq the positions refer to
	Anchor int    // code points of the committed text at Seq
	Head   int
	Leave  bool // the device left: drop its caret now
}

// Limits.
const (
	Version    = 1
	MaxMessage = 512 // bytes of one message: a stranger's costs no more
	MaxName    = 64  // bytes of Device and of Name
	maxPos     = 1 << 31
	nonceSize  = chacha20poly1305.NonceSizeX
)

// Domain separation of what is signed, authenticated and derived.
const (
	tagSig = "c2c/presence/sig/v1"
	tagAAD = "c2c/presence/aad/v1"
	tagKey = "c2c/presence/key/v1"
)

// Sealed is a parsed message whose signature verified; Open decrypts it.
type Sealed struct {
	Doc    docsync.DocID
	Member docsync.MemberID
	Epoch  uint64
	Stamp  uint64
	nonce  []byte
	ct     []byte
}

func header(doc docsync.DocID, member docsync.MemberID, epoch, stamp uint64) []byte {
	b := make([]byte, 0, 96)
	b = append(b, doc[:]...)
	b = append(b, member[:]...)
	b = binary.BigEndian.AppendUint64(b, epoch)
	return binary.BigEndian.AppendUint64(b, stamp)
}

func signingBytes(s *Sealed) []byte {
	b := append([]byte(tagSig), header(s.Doc, s.Member, s.Epoch, s.Stamp)...)
	b = append(b, s.nonce...)
	return append(b, s.ct...)
}

// key derives the presence key of an epoch: never the edits' key itself.
func key(k docsync.EpochKey, doc docsync.DocID, epoch uint64) ([]byte, error) {
	info := append([]byte(tagKey), doc[:]...)
	return hkdf.Key(sha256.New, k[:], nil, string(binary.BigEndian.AppendUint64(info, epoch)), chacha20poly1305.KeySize)
}

// Seal encrypts u's body under the epoch key, signs the message with the
// member's key (priv, whose public key is u.Member) and encodes it.
func Seal(u *Update, k docsync.EpochKey, priv ed25519.PrivateKey, rand io.Reader) ([]byte, error) {
	if len(u.Device) > MaxName || len(u.Name) > MaxName || u.Anchor < 0 || u.Head < 0 || u.Anchor >= maxPos || u.Head >= maxPos {
		return nil, fmt.Errorf("%w: fields out of range", ErrMalformed)
	}
	w := wirebytes.NewWriter(nil)
	var flags byte
	if u.Leave {
		flags = 1
	}
	w.Byte(flags)
	w.String(u.Device)
	w.String(u.Name)
	w.Uvarint(u.Seq)
	w.Uvarint(uint64(u.Anchor))
	w.Uvarint(uint64(u.Head))
	pt, err := w.Result()
	if err != nil {
		return nil, err
	}
	pk, err := key(k, u.Doc, u.Epoch)
	if err != nil {
		return nil, err
	}
	a, err := chacha20poly1305.NewX(pk)
	if err != nil {
		return nil, err
	}
	s := &Sealed{Doc: u.Doc, Member: u.Member, Epoch: u.Epoch, Stamp: u.Stamp, nonce: make([]byte, nonceSize)}
	if _, err := io.ReadFull(rand, s.nonce); err != nil {
		return nil, fmt.Errorf("presence: nonce: %w", err)
	}
	s.ct = a.Seal(nil, s.nonce, pt, append([]byte(tagAAD), header(s.Doc, s.Member, s.Epoch, s.Stamp)...))
	sig := ed25519.Sign(priv, signingBytes(s))
	out := wirebytes.NewWriter([]byte{Version})
	out.Raw(s.Doc[:])
	out.Raw(s.Member[:])
	out.Uvarint(s.Epoch)
	out.Uvarint(s.Stamp)
	out.Raw(s.nonce)
	out.Bytes(s.ct)
	out.Raw(sig)
	b, err := out.Result()
	if err == nil && len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	return b, err
}

// Parse decodes a message and verifies its signature by the member it
// names (a MemberID is an Ed25519 public key). Whether that member may
// send, and under which epoch, is the caller's check.
func Parse(b []byte) (*Sealed, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if len(b) == 0 || b[0] != Version {
		return nil, fmt.Errorf("%w: version", ErrMalformed)
	}
	r := wirebytes.NewReader(b[1:], ErrMalformed)
	s := &Sealed{}
	copy(s.Doc[:], r.Fixed(len(s.Doc)))
	copy(s.Member[:], r.Fixed(len(s.Member)))
	s.Epoch, s.Stamp = r.Uvarint(), r.Uvarint()
	s.nonce = r.Fixed(nonceSize)
	s.ct = r.Bytes()
	sig := r.Fixed(ed25519.SignatureSize)
	if err := r.End(); err != nil {
		return nil, err
	}
	if !ed25519.Verify(ed25519.PublicKey(s.Member[:]), signingBytes(s), sig) {
		return nil, ErrSignature
	}
	return s, nil
}

// Open decrypts the body with the epoch's document key.
func (s *Sealed) Open(k docsync.EpochKey) (*Update, error) {
	pk, err := key(k, s.Doc, s.Epoch)
	if err != nil {
		return nil, err
	}
	a, err := chacha20poly1305.NewX(pk)
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, s.nonce, s.ct, append([]byte(tagAAD), header(s.Doc, s.Member, s.Epoch, s.Stamp)...))
	if err != nil {
		return nil, ErrDecrypt
	}
	u := &Update{Doc: s.Doc, Member: s.Member, Epoch: s.Epoch, Stamp: s.Stamp}
	r := wirebytes.NewReader(pt, ErrMalformed)
	flags := r.Byte()
	dev, name := r.Bytes(), r.Bytes()
	u.Seq = r.Uvarint()
	anchor, head := r.Uvarint(), r.Uvarint()
	if err := r.End(); err != nil {
		return nil, err
	}
	if flags > 1 || len(dev) > MaxName || len(name) > MaxName || !utf8.Valid(dev) || !utf8.Valid(name) ||
		anchor >= maxPos || head >= maxPos {
		return nil, fmt.Errorf("%w: body fields", ErrMalformed)
	}
	u.Leave, u.Device, u.Name, u.Anchor, u.Head = flags == 1, string(dev), string(name), int(anchor), int(head)
	return u, nil
}

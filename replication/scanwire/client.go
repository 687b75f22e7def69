package scanwire

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/scan"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A Scanner returns the verdict on a blob of the mirror's store. The
// clone's services (scan on arrival, download caching) call it.
type Scanner interface {
	ScanBlob(ctx context.Context, ref boxostore.Ref) (scan.Verdict, error)
}

var (
	clonePrefix   = datastore.NewKey("/scan/clone")
	versionKey    = clonePrefix.ChildString("version")
	verdictPrefix = clonePrefix.ChildString("verdicts")
)

// Client is the clone's side: it knows its provider's database version
// and asks the provider for verdicts, sending a blob's bytes only when
// the provider's shared cache has no verdict on it.
type Client struct {
	h        host.Host
	provider peer.ID
	ds       datastore.Batching
	blobs    *boxostore.Store

	mu      sync.Mutex
	version uint64 // the highest database version seen signed
}

var _ Scanner = (*Client)(nil)

// NewClient returns the clone's client of provider's scanner, with the
// highest version seen before read from ds.
func NewClient(ctx context.Context, h host.Host, provider peer.ID, ds datastore.Batching, blobs *boxostore.Store) (*Client, error) {
	if _, err := provider.ExtractPublicKey(); err != nil {
		return nil, fmt.Errorf("scanwire: provider %s: no public key in its ID: %w", provider, err)
	}
	c := &Client{h: h, provider: provider, ds: ds, blobs: blobs}
	b, err := ds.Get(ctx, versionKey)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: stored version", ErrMalformed)
		}
		c.version = v
	}
	return c, nil
}

// Provider is the provider this client asks.
func (c *Client) Provider() peer.ID { return c.provider }

// Version is the highest database version seen signed by the provider.
func (c *Client) Version() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// see records version as seen, durably, if it is higher, and refuses one
// lower than the highest seen.
func (c *Client) see(ctx context.Context, version uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case version < c.version:
		return fmt.Errorf("%w: %d after %d", ErrStale, version, c.version)
	case version == c.version:
		return nil
	}
	if err := c.ds.Put(ctx, versionKey, binary.AppendUvarint(nil, version)); err != nil {
		return err
	}
	if err := c.ds.Sync(ctx, versionKey); err != nil {
		return err
	}
	c.version = version
	return nil
}

// Sync fetches the provider's manifest, checks its signature and that its
// version does not go back, and records it.
func (c *Client) Sync(ctx context.Context) (*Manifest, error) {
	m, err := FetchManifest(ctx, c.h, c.provider)
	if err != nil {
		return nil, err
	}
	if err := c.see(ctx, m.Version); err != nil {
		return nil, err
	}
	return m, nil
}

// Stored returns the verdict kept for sum, if any (of any version).
func (c *Client) Stored(ctx context.Context, sum [32]byte) (*SignedVerdict, bool) {
	b, err := c.ds.Get(ctx, verdictPrefix.ChildString(hex.EncodeToString(sum[:])))
	if err != nil {
		return nil, false
	}
	v, err := UnmarshalVerdict(b)
	if err != nil || v.SHA256 != sum || v.Verify(c.provider) != nil {
		return nil, false
	}
	return v, true
}

// ScanBlob implements Scanner.
func (c *Client) ScanBlob(ctx context.Context, ref boxostore.Ref) (scan.Verdict, error) {
	v, err := c.Check(ctx, ref)
	if err != nil {
		return scan.Verdict{}, err
	}
	return v.Verdict, nil
}

// Check returns the signed verdict on ref under the current version: the
// one kept, or the provider's, which is checked (signature, blob, version)
// and kept.
func (c *Client) Check(ctx context.Context, ref boxostore.Ref) (*SignedVerdict, error) {
	if v, ok := c.Stored(ctx, ref.SHA256); ok && v.Size == ref.Size && v.Version >= c.Version() {
		return v, nil
	}
	v, err := c.ask(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(c.provider); err != nil {
		return nil, err
	}
	if v.SHA256 != ref.SHA256 || v.Size != ref.Size {
		return nil, fmt.Errorf("%w: a verdict on another blob", ErrMalformed)
	}
	if err := c.see(ctx, v.Version); err != nil {
		return nil, err
	}
	if err := c.ds.Put(ctx, verdictPrefix.ChildString(hex.EncodeToString(ref.SHA256[:])), v.Marshal()); err != nil {
		return nil, err
	}
	return v, nil
}

// askTimeout bounds one question to the provider, the blob's bytes
// included (the provider's own stream timeout is 2 minutes).
const askTimeout = 3 * time.Minute

func (c *Client) ask(ctx context.Context, ref boxostore.Ref) (*SignedVerdict, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	s, err := c.h.NewStream(ctx, c.provider, ScanProtocol)
	if err != nil {
		return nil, fmt.Errorf("scanner at %s: %w", c.provider, err)
	}
	defer s.Close()
	dl, _ := ctx.Deadline()
	_ = s.SetDeadline(dl)
	if _, err := bounded.WriteFrame(s, query{ref.SHA256, ref.Size}.marshal()); err != nil {
		s.Reset()
		return nil, err
	}
	br := bufio.NewReader(s)
	for sent := false; ; sent = true {
		b, _, err := bounded.ReadFrame(br, MaxVerdictBytes+1)
		if err != nil {
			s.Reset()
			return nil, fmt.Errorf("scanner at %s: %w", c.provider, err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: empty frame", ErrMalformed)
		}
		switch {
		case b[0] == tagVerdict:
			return UnmarshalVerdict(b[1:])
		case b[0] == tagRefuse:
			return nil, refusalErr(b)
		case b[0] == tagSend && !sent:
			r, err := openBlob(ctx, c.blobs, ref)
			if err != nil {
				s.Reset()
				return nil, err
			}
			if _, err := io.Copy(s, r); err != nil {
				s.Reset()
				return nil, fmt.Errorf("sending %v to the scanner: %w", ref.CID, err)
			}
		default:
			s.Reset()
			return nil, fmt.Errorf("%w: frame %q", ErrMalformed, b[0])
		}
	}
}

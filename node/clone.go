package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// cloneState is what a clone reads from its data dir at boot: its HPKE key,
// the owner certificate that enrolled it and, if enroll left one, the
// user's device index.
type cloneState struct {
	hpkePriv  []byte
	cert      *dht.OwnerCert
	index     *dht.DeviceIndex // optional
	published chan struct{}
}

// loadCloneState checks that dataDir holds a valid owner certificate for
// this very clone (its peer ID and its HPKE key).
func loadCloneState(dataDir string, self peer.ID, now time.Time) (*cloneState, error) {
	priv, pub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(dataDir, HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		return nil, fmt.Errorf("node: clone hpke key: %w", err)
	}
	cert, err := ReadOwnerCert(dataDir)
	if err != nil {
		return nil, err
	}
	if cert.Clone != self {
		return nil, fmt.Errorf("%w: it names clone %s, this clone is %s", ErrCertMismatch, cert.Clone, self)
	}
	if !bytes.Equal(cert.CloneHPKE, pub) {
		return nil, fmt.Errorf("%w: its HPKE key is not this clone's", ErrCertMismatch)
	}
	if err := cert.Verify(now); err != nil {
		return nil, fmt.Errorf("node: owner certificate %s: %w (re-run c2c enroll)", filepath.Join(dataDir, OwnerCertFile), err)
	}
	st := &cloneState{hpkePriv: priv, cert: cert, published: make(chan struct{})}
	idx, err := ReadDeviceIndex(dataDir)
	switch {
	case err == nil:
		if idx.User == cert.User && idx.Verify(now) == nil {
			st.index = idx
		}
	case !errors.Is(err, keystore.ErrNotFound):
		return nil, err
	}
	return st, nil
}

// ReadOwnerCert reads the owner certificate in a clone's data dir. A missing
// file is ErrNoOwnerCert.
func ReadOwnerCert(dataDir string) (*dht.OwnerCert, error) {
	path := filepath.Join(dataDir, OwnerCertFile)
	b, err := keystore.ReadFile(path)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, fmt.Errorf("%w in %s", ErrNoOwnerCert, dataDir)
	}
	if err != nil {
		return nil, err
	}
	cert, err := dht.UnmarshalOwnerCert(b)
	if err != nil {
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	return cert, nil
}

// WriteOwnerCert stores cert in a clone's data dir (c2c enroll).
func WriteOwnerCert(dataDir string, cert *dht.OwnerCert) error {
	b, err := cert.Marshal()
	if err != nil {
		return fmt.Errorf("node: marshal owner certificate: %w", err)
	}
	return keystore.WriteFile(filepath.Join(dataDir, OwnerCertFile), b)
}

// ReadDeviceIndex reads the device index in a clone's data dir; a missing
// file is keystore.ErrNotFound.
func ReadDeviceIndex(dataDir string) (*dht.DeviceIndex, error) {
	path := filepath.Join(dataDir, IndexFile)
	b, err := keystore.ReadFile(path)
	if err != nil {
		return nil, err
	}
	idx, err := dht.UnmarshalDeviceIndex(b)
	if err != nil {
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	return idx, nil
}

// WriteDeviceIndex stores idx in a clone's data dir (c2c enroll).
func WriteDeviceIndex(dataDir string, idx *dht.DeviceIndex) error {
	b, err := idx.Marshal()
	if err != nil {
		return fmt.Errorf("node: marshal device index: %w", err)
	}
	return keystore.WriteFile(filepath.Join(dataDir, IndexFile), b)
}

// OwnerCert is the certificate a clone runs under (nil for other roles).
func (n *Node) OwnerCert() *dht.OwnerCert {
	if n.clone == nil {
		return nil
	}
	return n.clone.cert
}

// DeviceIndex is the user's device index the clone publishes, if enroll
// left one (nil otherwise, and for other roles).
func (n *Node) DeviceIndex() *dht.DeviceIndex {
	if n.clone == nil {
		return nil
	}
	return n.clone.index
}

// Published is closed once a clone has published its owner certificate (and
// device index, if it has one) and verified it by a get. It is never closed
// for other roles.
func (n *Node) Published() <-chan struct{} {
	if n.clone == nil {
		return nil
	}
	return n.clone.published
}

// publishCert publishes the clone's records once joined, retrying with
// backoff until one publication is verified. The directory keeps them and
// republishes them from then on (Directory.Run).
func (n *Node) publishCert(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-n.boot.Joined():
	}
	p := n.cfg.Params
	retry := newBackoff(p.PublishRetryMin, p.PublishRetryMax, p.BackoffJitter)
	for {
		err := n.publishOnce(ctx)
		if err == nil {
			n.metrics.publishes.WithLabelValues("ok").Inc()
			n.log.Info("published owner certificate", "user", n.clone.cert.User, "device", n.clone.cert.Device)
			close(n.clone.published)
			return
		}
		n.metrics.publishes.WithLabelValues("error").Inc()
		delay := retry.next(n.opts.rand())
		n.log.Info("publish owner certificate failed; retrying", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (n *Node) publishOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Params.PublishTimeout)
	defer cancel()
	if err := n.dir.Publish(ctx, n.clone.cert); err != nil {
		return fmt.Errorf("owner certificate: %w", err)
	}
	if n.clone.index != nil {
		// Best effort: every clone of a user carries the index as of its
		// own enrollment, so an older clone's copy is legitimately
		// superseded by a newer one and must not keep it from running.
		if err := n.dir.PublishIndex(ctx, n.clone.index); err != nil {
			n.log.Info("device index not published", "seq", n.clone.index.Seq, "err", err)
		}
	}
	return nil
}

package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
)

// Datastore namespaces of the CloneDoc services inside a node's datastore.
const (
	DocsNamespace      = "/docs" // clone: cloneservice (logs, pending edits, fork proofs)
	SequencerNamespace = "/seq"  // sequencer: seqservice (ordered entries)
)

// ErrWrongRole is returned when a service is started on a node of another role.
var ErrWrongRole = errors.New("node: wrong role for this service")

// StartDocs starts the clone's CloneDoc service (cloneservice) on this node:
// its document identity is the node's identity key and HPKE key, it finds
// other clones through the node's directory, keeps its state under
// DocsNamespace and is closed by Close, before the host. It sends its owner
// certificate with its invitations and accepts invitations by
// ContactPolicy over <data>/contacts (opts may replace it). Call it once,
// right after New, on a clone.
func (n *Node) StartDocs(opts ...cloneservice.Option) (*cloneservice.Service, error) {
	if n.clone == nil {
		return nil, fmt.Errorf("%w: StartDocs needs a clone, this node is a %s", ErrWrongRole, n.cfg.Role)
	}
	key := n.host.Peerstore().PrivKey(n.host.ID())
	if key == nil {
		return nil, fmt.Errorf("node: no private key for %s in the peerstore", n.host.ID())
	}
	id, err := cloneservice.IdentityFromKeys(key, n.clone.hpkePriv)
	if err != nil {
		return nil, fmt.Errorf("node: document identity: %w", err)
	}
	cred, err := n.clone.cert.Marshal()
	if err != nil {
		return nil, fmt.Errorf("node: owner certificate: %w", err)
	}
	contacts := OpenContacts(filepath.Join(n.cfg.DataDir, ContactsFile))
	all := []cloneservice.Option{cloneservice.WithLogger(n.log), cloneservice.WithDirectory(n.dir),
		cloneservice.WithCredential(cred),
		cloneservice.WithInvitePolicy(ContactPolicy(contacts, n.clone.cert.User, time.Now))}
	if n.opts.registerer != nil {
		all = append(all, cloneservice.WithMetrics(n.opts.registerer))
	}
	svc, err := cloneservice.New(n.host, n.ps, namespace.Wrap(n.ds, datastore.NewKey(DocsNamespace)), id, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("node: docs service: %w", err)
	}
	n.closers = append(n.closers, svc.Close)
	return svc, nil
}

// StartSequencer starts the CloneDoc sequencer service (seqservice) on this
// node: it signs entries with the node's identity key (so clones know the
// sequencer key from its peer ID), keeps its log under SequencerNamespace
// and is closed by Close, before the host. Call it once, right after New,
// on a sequencer.
func (n *Node) StartSequencer(opts ...seqservice.Option) (*seqservice.Service, error) {
	if n.cfg.Role != RoleSequencer {
		return nil, fmt.Errorf("%w: StartSequencer needs a sequencer, this node is a %s", ErrWrongRole, n.cfg.Role)
	}
	key := n.host.Peerstore().PrivKey(n.host.ID())
	if key == nil {
		return nil, fmt.Errorf("node: no private key for %s in the peerstore", n.host.ID())
	}
	all := []seqservice.Option{seqservice.WithLogger(n.log)}
	if n.opts.registerer != nil {
		all = append(all, seqservice.WithMetrics(n.opts.registerer))
	}
	svc, err := seqservice.New(n.host, n.ps, namespace.Wrap(n.ds, datastore.NewKey(SequencerNamespace)), key, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("node: sequencer service: %w", err)
	}
	n.closers = append(n.closers, svc.Close)
	return svc, nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/clone2clone/c2c/control"
	deviceserver "github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/libp2p/go-libp2p/core/peer"
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
	all := []cloneservice.Option{cloneservice.WithLogger(n.log), cloneservice.WithDirectory(cloneDirectory{n.dir}),
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

// CloneDirectory adapts a dht directory to cloneservice.Directory (what
// StartDocs passes).
func CloneDirectory(d *dht.Directory) cloneservice.Directory { return cloneDirectory{d} }

type cloneDirectory struct{ *dht.Directory }

// LookupClone implements cloneservice.Directory.
func (d cloneDirectory) LookupClone(ctx context.Context, user peer.ID, device string) (cloneservice.Clone, error) {
	c, err := d.Lookup(ctx, user, device)
	if err != nil {
		return cloneservice.Clone{}, err
	}
	return cloneservice.Clone{Peer: c.Clone, HPKE: c.CloneHPKE, Addrs: c.Addrs}, nil
}

// CloneServices are the services of a clone, as StartCloneServices starts
// them.
type CloneServices struct {
	Docs    *cloneservice.Service // the documents (StartDocs)
	Link    *deviceserver.Server  // the device link, for the device the owner certificate names
	Control *control.Server       // the owner's control socket (nil without one)
}

// StartCloneServices starts every service of a clone, in one place: the
// document service (StartDocs, with opts), the device link for the device
// its owner certificate names, and, when socket is not empty, the control
// socket at that path. Close stops them, in reverse order, before the host.
// Call it once, right after New, on a clone.
func (n *Node) StartCloneServices(socket string, opts ...cloneservice.Option) (*CloneServices, error) {
	svc, err := n.StartDocs(opts...)
	if err != nil {
		return nil, err
	}
	cs := &CloneServices{Docs: svc}
	// The device link: the enrolled phone connects here (and only here).
	linkOpts := []deviceserver.Option{deviceserver.WithLogger(n.log)}
	if n.opts.registerer != nil {
		linkOpts = append(linkOpts, deviceserver.WithMetrics(n.opts.registerer))
	}
	if cs.Link, err = deviceserver.New(n.host, svc, n.clone.cert, linkOpts...); err != nil {
		return nil, fmt.Errorf("node: device link: %w", err)
	}
	n.closers = append(n.closers, cs.Link.Close)
	if socket == "" {
		return cs, nil
	}
	kad := n.kad
	cs.Control = control.NewServer(svc, n.ID(), control.WithLogger(n.log),
		control.WithResolver(func(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
			return kad.FindPeer(ctx, id)
		}))
	if err := cs.Control.Listen(socket); err != nil {
		return nil, fmt.Errorf("node: control socket: %w", err)
	}
	n.closers = append(n.closers, cs.Control.Close)
	return cs, nil
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

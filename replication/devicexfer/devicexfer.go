// Package devicexfer is the device's side of big files (issue 15): a file
// over InlineMax is uploaded to the device's own clone once (blobxfer.Push:
// the clone first says which blocks it lacks, none if it holds the file)
// and then put in the files app by reference (files.PutRef), so its bytes
// never ride in a batch; Send records an outbox request that names files
// by reference, which the clone delivers; Pull gets a blob the device's
// apps name (an inbox attachment, a file) from its clone, verified and
// resumable.
//
// The order is what keeps the mirror's replay deterministic: the upload
// is complete and verified by the clone before the input that names the
// blob is made, so when the mirror replays it the blocks are there.
package devicexfer

import (
	"context"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/blobxfer"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/files"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/clone2clone/c2c/replication/outbox"
	"github.com/clone2clone/c2c/replication/syncclient"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// InlineMax is the largest file put inline: one user input carries it
// (the payload cap, less room for the operation's header). Larger files
// are uploaded and put by reference.
const InlineMax = 1<<20 - 4<<10

// ErrNotNamed: no app of the device names that CID.
var ErrNotNamed = errors.New("devicexfer: no file or attachment has that CID")

// Device is a device's mirror client, its host and its blob store (the
// one its apps keep their blobs in).
type Device struct {
	Client *syncclient.Client
	Host   host.Host
	Clone  peer.ID
	Store  *boxostore.Store
}

// Put is what putting one file did.
type Put struct {
	Ref    boxostore.Ref
	ByRef  bool           // uploaded and put by reference
	Upload blobxfer.Stats // the upload (giver's side): blocks and bytes sent
	Inputs int            // user inputs made
}

// PutFile stores content at path in the files app: inline (a put, then
// writes at growing offsets) when it is at most InlineMax or offline,
// else uploaded to the clone and put by reference. progress hears the
// upload's bytes.
func (d *Device) PutFile(ctx context.Context, path string, content []byte, offline bool, progress func(done, total uint64)) (Put, error) {
	if len(content) <= InlineMax || offline {
		n, err := d.putInline(ctx, path, content)
		return Put{Inputs: n}, err
	}
	if len(content) > files.MaxFileBytes {
		return Put{}, fmt.Errorf("devicexfer: %s is %d bytes, the files app's cap is %d", path, len(content), files.MaxFileBytes)
	}
	ref, err := d.Store.Add(content)
	if err != nil {
		return Put{}, err
	}
	st, err := blobxfer.Push(ctx, d.Host, d.Clone, ref, d.Store, progress)
	if err != nil {
		return Put{Ref: ref}, fmt.Errorf("upload %s to the clone: %w", path, err)
	}
	if _, err := d.Client.Input(ctx, files.Name, files.PutRef(path, ref)); err != nil {
		return Put{Ref: ref}, err
	}
	return Put{Ref: ref, ByRef: true, Upload: st, Inputs: 1}, nil
}

func (d *Device) putInline(ctx context.Context, path string, content []byte) (int, error) {
	first := content[:min(len(content), InlineMax)]
	if _, err := d.Client.Input(ctx, files.Name, files.Put(path, first)); err != nil {
		return 0, err
	}
	n := 1
	for off := len(first); off < len(content); off += InlineMax {
		end := min(len(content), off+InlineMax)
		if _, err := d.Client.Input(ctx, files.Name, files.Write(path, uint64(off), content[off:end])); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Stat returns the files app's entry at path.
func (d *Device) Stat(ctx context.Context, path string) (files.Entry, bool) {
	var e files.Entry
	var ok bool
	_ = d.Client.View(ctx, func(s *replication.AppSet) {
		if a, found := s.App(files.Name); found {
			e, ok = a.(*files.App).Stat(path)
		}
	})
	return e, ok
}

// Send records "send these files to these recipients" in the outbox: the
// files by reference (they are the files app's, which the mirror holds).
// It returns the request's ID.
func (d *Device) Send(ctx context.Context, q *outbox.Request) ([32]byte, error) {
	outs, err := d.Client.Input(ctx, outbox.Name, q.Marshal())
	if err != nil {
		return [32]byte{}, err
	}
	for _, o := range outs {
		if o.Kind == outbox.OutputSend && len(o.Data) == 32 {
			return [32]byte(o.Data), nil
		}
	}
	return [32]byte{}, errors.New("devicexfer: the outbox did not record the request")
}

// Find returns the Ref that a file or an inbox attachment of the device
// names by root CID c.
func (d *Device) Find(ctx context.Context, c cid.Cid) (boxostore.Ref, error) {
	var ref boxostore.Ref
	found := false
	_ = d.Client.View(ctx, func(s *replication.AppSet) {
		if a, ok := s.App(inbox.Name); ok {
			for _, it := range a.(*inbox.App).List() {
				for _, f := range it.Files {
					if f.Ref.CID == c {
						ref, found = f.Ref, true
						return
					}
				}
			}
		}
		if a, ok := s.App(files.Name); ok {
			for _, l := range a.(*files.App).List() {
				if !l.Dir && l.Ref.CID == c {
					ref, found = l.Ref, true
					return
				}
			}
		}
	})
	if !found {
		return ref, fmt.Errorf("%w: %v", ErrNotNamed, c)
	}
	return ref, nil
}

// Pull gets ref's blocks from the clone into the device's store (nothing
// moves if it holds them all) and returns the content, checked against
// the Ref's SHA-256 and size.
func (d *Device) Pull(ctx context.Context, ref boxostore.Ref, progress func(done, total uint64)) ([]byte, blobxfer.Stats, error) {
	var st blobxfer.Stats
	if d.Store.Complete(ref) != nil {
		var err error
		if st, err = blobxfer.Pull(ctx, d.Host, d.Clone, ref, d.Store, progress); err != nil {
			return nil, st, fmt.Errorf("pull %v from the clone: %w", ref.CID, err)
		}
	}
	b, err := d.Store.Read(ref)
	return b, st, err
}

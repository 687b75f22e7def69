package scanwire

import (
	"context"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/replication/boxostore"
	blockservice "github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
)

// openBlob streams ref's content from the store's blocks, a chunk at a
// time, instead of reading it whole: a blob may be as large as the
// provider's cap. The bytes are not checked here against ref's SHA-256:
// the provider hashes what it receives and refuses a mismatch.
func openBlob(ctx context.Context, s *boxostore.Store, ref boxostore.Ref) (io.Reader, error) {
	dag := merkledag.NewDAGService(blockservice.New(s.Blockstore(), nil))
	nd, err := dag.Get(ctx, ref.CID)
	if err != nil {
		return nil, fmt.Errorf("blob %v: %w", ref.CID, err)
	}
	r, err := uio.NewDagReader(ctx, nd, dag)
	if err != nil {
		return nil, fmt.Errorf("blob %v: %w", ref.CID, err)
	}
	if r.Size() != ref.Size {
		return nil, fmt.Errorf("blob %v is %d bytes, its ref says %d", ref.CID, r.Size(), ref.Size)
	}
	return r, nil
}

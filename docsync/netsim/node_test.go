package netsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/seqservice"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/clone2clone/c2c/internal/simquic"
	"github.com/clone2clone/c2c/node"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// startNode runs a node of role on the simulated network (as node's own
// sim tests do).
func (n *Net) startNode(role node.Role, dir, ip string, boot []peer.AddrInfo) *node.Node {
	t := n.T
	t.Helper()
	cfg := node.DefaultConfig(role, dir)
	cfg.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/" + ip + "/udp/8000/quic-v1")}
	cfg.Bootstrap = boot
	nd, err := node.New(context.Background(), cfg, node.WithLogger(n.Log), node.WithDatastore(MemDatastore()),
		node.WithLibp2pOptions(simquic.Transport(n.SN, n.Link), libp2p.DisableIdentifyAddressDiscovery()))
	if err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	t.Cleanup(func() { _ = nd.Close() })
	return nd
}

// enroll writes what `c2c enroll` writes into a clone's data dir.
func enroll(t testing.TB, dir string, user crypto.PrivKey, device string) {
	t.Helper()
	key, _, err := keystore.LoadOrCreatePrivKey(filepath.Join(dir, node.IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	_, pub, _, err := keystore.LoadOrCreateHPKEKey(filepath.Join(dir, node.HPKEKeyFile), dht.GenerateHPKEKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: device, DeviceKey: id, Clone: id, CloneHPKE: pub,
		Seq: 1, EOL: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WriteOwnerCert(dir, cert); err != nil {
		t.Fatal(err)
	}
}

// docDatastore is the namespace the services keep their records in.
func docDatastore(nd *node.Node) datastore.Batching {
	return namespace.Wrap(nd.Datastore(), datastore.NewKey("/docsync"))
}

// The services on full nodes (node.New: kad-dht, gossipsub, directory): 3
// providers, a sequencer node and 16 enrolled clones (4 with -short); the
// creator invites the others by (user, device) through the real directory
// (DHT lookup, peer routing), every clone edits concurrently, and all
// converge to the same text and chain head. (TestConverge16Clones covers 16
// clones under -race.)
func TestOnNodesInviteThroughDirectory(t *testing.T) {
	nClones := 16
	if testing.Short() || raceEnabled {
		nClones = 4
	}
	synctest.Test(t, func(t *testing.T) {
		n := New(t, 20*time.Millisecond)
		var boot []peer.AddrInfo
		for i := range 3 {
			prov := n.startNode(node.RoleProvider, t.TempDir(), fmt.Sprintf("2.0.0.%d", 10+i), boot)
			boot = append(boot, prov.AddrInfo())
		}
		seqDir := t.TempDir()
		seqNode := n.startNode(node.RoleSequencer, seqDir, "2.0.0.2", boot)
		seqKey, err := keystore.ReadPrivKey(filepath.Join(seqDir, node.IdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		seq, err := seqservice.New(seqNode.Host(), seqNode.PubSub(), docDatastore(seqNode), seqKey, seqservice.WithLogger(n.Log))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = seq.Close() })

		type clone struct {
			nd   *node.Node
			svc  *cloneservice.Service
			user peer.ID
		}
		var clones []clone
		for i := range nClones {
			dir := t.TempDir()
			user, _ := dht.GenerateUserKey()
			enroll(t, dir, user, "phone")
			nd := n.startNode(node.RoleClone, dir, fmt.Sprintf("2.0.1.%d", 10+i), boot)
			key, err := keystore.ReadPrivKey(filepath.Join(dir, node.IdentityFile))
			if err != nil {
				t.Fatal(err)
			}
			hpkePriv, _, err := keystore.ReadHPKEKey(filepath.Join(dir, node.HPKEKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			id, err := cloneservice.IdentityFromKeys(key, hpkePriv)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := cloneservice.New(nd.Host(), nd.PubSub(), docDatastore(nd), id,
				cloneservice.WithDirectory(node.CloneDirectory(nd.Directory())), cloneservice.WithLogger(n.Log),
				cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Close() })
			uid, _ := peer.IDFromPrivateKey(user)
			clones = append(clones, clone{nd, svc, uid})
		}
		for _, c := range clones {
			select {
			case <-c.nd.Published():
			case <-time.After(time.Minute):
				t.Fatal("clone did not publish its certificate")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		doc, err := clones[0].svc.Create(ctx, peer.AddrInfo{ID: seqNode.ID(), Addrs: seqNode.Host().Addrs()})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clones[1:] {
			if _, err := clones[0].svc.Invite(ctx, doc, c.user, "phone", docsync.RoleWriter); err != nil {
				t.Fatalf("invite through the directory: %v", err)
			}
		}
		WaitUntil(t, time.Minute, "invited clones hold the key", func() bool {
			for _, c := range clones {
				in, err := c.svc.Info(doc)
				if err != nil || in.Role < docsync.RoleWriter || in.Applied != in.Seq {
					return false
				}
			}
			return true
		})
		var wg sync.WaitGroup
		for i, c := range clones {
			rng := rand.New(rand.NewPCG(21, uint64(i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if err := c.svc.EditFunc(ctx, doc, RandomEdit(rng)); err != nil {
						t.Errorf("clone %d edit: %v", i, err)
						return
					}
					time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		WaitUntil(t, time.Minute, "convergence on nodes", func() bool {
			h, err := seq.Head(doc, docsync.MemberID{})
			if err != nil {
				return false
			}
			var text string
			for i, c := range clones {
				in, err := c.svc.Info(doc)
				tx, _ := c.svc.Text(doc)
				if err != nil || in.Pending || in.Seq != h.Seq || in.Head != h.ChainHash {
					return false
				}
				if i > 0 && tx != text {
					return false
				}
				text = tx
			}
			return true
		})
		tx, _ := clones[1].svc.Text(doc)
		in, _ := clones[1].svc.Info(doc)
		var invitations uint64
		for _, c := range clones {
			invitations += c.svc.Stats().Invitations
		}
		t.Logf("%d clones on full nodes (3 providers) converged at seq %d (%d runes); %d invitations accepted",
			nClones, in.Seq, Runes(tx), invitations)
		if invitations != uint64(nClones-1) {
			t.Fatalf("%d invitations accepted, want %d", invitations, nClones-1)
		}
	})
}

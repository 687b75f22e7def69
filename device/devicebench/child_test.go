package devicebench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/direct"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const childEnv = "C2C_DEVICEBENCH_CHILD"

// report is what a device process measured between GO and the final text.
type report struct {
	Mode      device.Mode   `json:"mode"`
	Edits     int           `json:"edits"`
	BytesIn   int64         `json:"bytes_in"`
	BytesOut  int64         `json:"bytes_out"`
	CPU       time.Duration `json:"cpu_ns"`
	Crypto    device.Crypto `json:"crypto"`
	Protocols []device.Traffic
}

func textHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func addrInfo(s string) (peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	return *ai, nil
}

// child runs one device process. Protocol on stdin/stdout: it prints
// READY once the document is open, edits on GO, prints EDITED once its
// edits are acknowledged, waits for the text whose hash follows FINAL, and
// prints its report as JSON.
func child() error {
	mode := device.Mode(os.Getenv(childEnv))
	key, err := keystore.ReadPrivKey(os.Getenv("KEY_FILE"))
	if err != nil {
		return err
	}
	meter := device.NewMeter(mode)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), meter.Option())
	if err != nil {
		return err
	}
	defer h.Close()
	var doc docsync.DocID
	if _, err := hex.Decode(doc[:], []byte(os.Getenv("DOC"))); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var d device.Doc
	var wait func(cond func(string) bool) error
	switch mode {
	case device.ModeClone:
		clone, err := addrInfo(os.Getenv("CLONE_ADDR"))
		if err != nil {
			return err
		}
		user, err := peer.Decode(os.Getenv("USER_ID"))
		if err != nil {
			return err
		}
		c, err := client.New(h, clone, user, os.Getenv("NAME"))
		if err != nil {
			return err
		}
		cd, err := c.Open(ctx, doc)
		if err != nil {
			return err
		}
		d = cd
		wait = func(cond func(string) bool) error { return cd.WaitText(ctx, cond) }
	case device.ModeDirect:
		svc, dd, err := startEngine(ctx, h, doc)
		if err != nil {
			return err
		}
		defer svc.Close()
		meter.CountEngine(svc.Stats)
		d = dd
		wait = func(cond func(string) bool) error {
			for !cond(dd.Text()) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-dd.Updates():
				case <-time.After(100 * time.Millisecond): // updates may have been coalesced
				}
			}
			return nil
		}
	default:
		return fmt.Errorf("mode %q", mode)
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("READY")
	if line, err := in.ReadString('\n'); err != nil || strings.TrimSpace(line) != "GO" {
		return fmt.Errorf("want GO, got %q %v", line, err)
	}
	edits, _ := strconv.Atoi(os.Getenv("EDITS"))
	seed, _ := strconv.ParseUint(os.Getenv("SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	before := meter.Snapshot()
	for range edits {
		if err := d.EditFunc(netsim.RandomEdit(rng)); err != nil {
			return err
		}
		time.Sleep(time.Duration(5+rng.IntN(10)) * time.Millisecond) // typing pace
	}
	if err := d.WaitSynced(ctx); err != nil {
		return err
	}
	fmt.Println("EDITED")
	line, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	want, ok := strings.CutPrefix(strings.TrimSpace(line), "FINAL ")
	if !ok {
		return fmt.Errorf("want FINAL, got %q", line)
	}
	if err := wait(func(s string) bool { return textHash(s) == want }); err != nil {
		return err
	}
	after := meter.Snapshot()
	r := report{Mode: mode, Edits: edits, BytesIn: after.TotalIn - before.TotalIn, BytesOut: after.TotalOut - before.TotalOut,
		CPU: after.CPUUser + after.CPUSystem - before.CPUUser - before.CPUSystem,
		Crypto: device.Crypto{Signs: after.Crypto.Signs - before.Crypto.Signs, Verifies: after.Crypto.Verifies - before.Crypto.Verifies,
			AEADSeals: after.Crypto.AEADSeals - before.Crypto.AEADSeals, AEADOpens: after.Crypto.AEADOpens - before.Crypto.AEADOpens},
		Protocols: after.Protocols}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	d.Close()
	return nil
}

// startEngine runs the clone engine on the device (direct mode): it dials
// the sequencer and the admin clone, waits for the invitation and until it
// holds the document key.
func startEngine(ctx context.Context, h host.Host, doc docsync.DocID) (*cloneservice.Service, *direct.Doc, error) {
	key, err := keystore.ReadPrivKey(os.Getenv("KEY_FILE"))
	if err != nil {
		return nil, nil, err
	}
	_, hpkePriv, err := readHPKE(os.Getenv("HPKE_FILE"))
	if err != nil {
		return nil, nil, err
	}
	id, err := cloneservice.IdentityFromKeys(key, hpkePriv)
	if err != nil {
		return nil, nil, err
	}
	ps, err := pubsub.NewGossipSub(ctx, h, netproto.GossipOptions()...)
	if err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := cloneservice.New(h, ps, netsim.MemDatastore(), id, cloneservice.WithLogger(quiet),
		cloneservice.WithInvitePolicy(cloneservice.AcceptAll))
	if err != nil {
		return nil, nil, err
	}
	for _, a := range strings.Split(os.Getenv("PEERS"), ",") {
		ai, err := addrInfo(a)
		if err != nil {
			return nil, nil, err
		}
		if err := h.Connect(ctx, ai); err != nil {
			return nil, nil, err
		}
	}
	fmt.Println("ENGINE")
	for {
		in, err := svc.Info(doc)
		if err == nil && in.Role != 0 && in.Missing == [2]uint64{} && in.Seq > 0 {
			break
		}
		if err != nil && !errors.Is(err, cloneservice.ErrUnknownDoc) {
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	dd, err := direct.Open(svc, doc)
	if err != nil {
		return nil, nil, err
	}
	return svc, dd, nil
}

// readHPKE reads an HPKE key pair written by the parent.
func readHPKE(path string) (pub, priv []byte, err error) {
	priv, pub, err = keystore.ReadHPKEKey(path)
	return pub, priv, err
}

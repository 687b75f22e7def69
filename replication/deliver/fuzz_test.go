package deliver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/inbox"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

type nopMirror struct{ n int }

func (m *nopMirror) Relay(context.Context, string, []byte) error { m.n++; return nil }
func (m *nopMirror) View(_ context.Context, f func(*replication.AppSet)) error {
	f(nil)
	return nil
}

func fuzzCert(f *testing.F) (*dht.OwnerCert, []byte) {
	user, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	dev, _, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	devID, _ := peer.IDFromPrivateKey(dev)
	_, hpke, _ := dht.GenerateHPKEKey()
	c, err := dht.SignOwnerCert(user, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: devID, CloneHPKE: hpke,
		Seq: 1, EOL: time.Unix(4e9, 0)})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := c.Marshal()
	return c, raw
}

// FuzzReceive: whatever a stranger sends, the recipient refuses or takes
// it without panicking, and relays only what passed every check.
func FuzzReceive(f *testing.F) {
	cert, raw := fuzzCert(f)
	msg := (&inbox.Message{ID: [32]byte{1}, From: []byte(cert.User), To: []byte(cert.User), Text: "x"}).Marshal()
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	f.Add(append(frame(raw), frame(msg)...))
	f.Add(frame(raw))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		m := &nopMirror{}
		s := &Service{cert: cert, ds: dssync.MutexWrap(datastore.NewMapDatastore()), clock: func() time.Time { return time.Unix(1e9, 0) },
			mirror: m, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		_, err := s.receive(context.Background(), cert.Clone, bufio.NewReader(bytes.NewReader(p)))
		if err != nil && m.n != 0 {
			t.Fatal("relayed a refused message")
		}
	})
}

func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{3, 2, 'n', 'o'})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = readAnswer(bufio.NewReader(bytes.NewReader(p)))
	})
}

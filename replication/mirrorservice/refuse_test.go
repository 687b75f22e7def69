package mirrorservice_test

import (
	"bufio"
	"crypto/ed25519"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
	"github.com/clone2clone/c2c/replication/syncclient"
	"github.com/clone2clone/c2c/replication/syncwire"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// exchange opens a raw stream from h to the clone, writes frames, and
// returns the first answer (or the read error).
func (r *rig) exchange(t *testing.T, h host.Host, frames ...*syncwire.Message) (*syncwire.Message, error) {
	ctx := ctxT(t, 10*time.Second)
	h.Peerstore().AddAddrs(r.clone.ID(), r.clone.Addrs(), time.Hour)
	st, err := h.NewStream(ctx, r.clone.ID(), syncwire.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	for _, m := range frames {
		if _, err := syncwire.WriteFrame(st, m); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(st)
	for {
		m, _, err := syncwire.ReadFrame(br, syncwire.MaxFrame)
		if err != nil || m.Kind == syncwire.KindRefuse || len(frames) == 1 {
			return m, err
		}
		if m.Kind != syncwire.KindWelcome && m.Kind != syncwire.KindNet {
			return m, nil
		}
	}
}

func (r *rig) hello(mut func(*syncwire.Hello)) *syncwire.Message {
	user, _ := peer.IDFromPrivateKey(r.user)
	h := &syncwire.Hello{User: []byte(user), Device: "phone", Epoch: 1, SyncMs: 50, MaxDelay: 20,
		Apps: []string{notes.Name}, NextSeq: 1}
	if mut != nil {
		mut(h)
	}
	return &syncwire.Message{Kind: syncwire.KindHello, Hello: h}
}

// TestRefusals: each bad Hello or batch is refused with its own code.
func TestRefusals(t *testing.T) {
	r := newRig(t)
	cds, dds := openStore(t, r.cloneDir), openStore(t, r.deviceDir)
	defer cds.Close()
	defer dds.Close()
	srv := r.server(cds)
	defer srv.Close()
	ctx := ctxT(t, 30*time.Second)
	c := r.clientT(dds, 50*time.Millisecond, 20*time.Millisecond)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Input(ctx, notes.Name, notes.Put("a", []byte("b"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, syncclient.Synced); err != nil {
		t.Fatal(err)
	}
	c.Close()

	otherUser, _, _ := crypto.GenerateEd25519Key(nil)
	otherID, _ := peer.IDFromPrivateKey(otherUser)
	strangerKey, _, _ := crypto.GenerateEd25519Key(nil)
	stranger := r.host(strangerKey, "")
	// A batch signed by a key that is not the device's.
	_, forger, _ := ed25519.GenerateKey(nil)
	fset, _ := replication.NewAppSet(registry(t), notes.Name)
	fd, _ := replication.NewDevice(replication.DeviceConfig{Key: forger, Epoch: 1, Apps: fset, Start: 0,
		Params: syncwire.Params(50, 20)})
	_, _ = fd.Input(1, notes.Name, notes.Put("x", nil))
	fd.Tick(100)
	forged := fd.Ready().Send[0].Data

	for _, tc := range []struct {
		name   string
		from   host.Host
		frames []*syncwire.Message
		code   syncwire.RefuseCode
		reason string
	}{
		{"another user's device", r.device, []*syncwire.Message{r.hello(func(h *syncwire.Hello) { h.User = []byte(otherID) })}, syncwire.RefuseOtherUser, "another user"},
		{"unenrolled device name", r.device, []*syncwire.Message{r.hello(func(h *syncwire.Hello) { h.Device = "tablet" })}, syncwire.RefuseUnenrolled, "not enrolled"},
		{"wrong device key", stranger, []*syncwire.Message{r.hello(nil)}, syncwire.RefuseWrongKey, "not the key"},
		{"other t_syn_int", r.device, []*syncwire.Message{r.hello(func(h *syncwire.Hello) { h.Number, h.NextSeq, h.SyncMs = 1, 2, 60 })}, syncwire.RefuseParams, "t_syn_int"},
		{"device lost state", r.device, []*syncwire.Message{r.hello(nil)}, syncwire.RefuseState, "lost state"},
		{"forged batch", r.device, []*syncwire.Message{r.hello(func(h *syncwire.Hello) { h.Number, h.NextSeq = 1, 2 }),
			{Kind: syncwire.KindBatch, Data: forged}}, syncwire.RefuseBatch, "another device"},
	} {
		m, err := r.exchange(t, tc.from, tc.frames...)
		if err != nil || m.Kind != syncwire.KindRefuse || m.Code != tc.code || !strings.Contains(m.Reason, tc.reason) {
			t.Errorf("%s: got %+v, err %v; want code %d with %q", tc.name, m, err, tc.code, tc.reason)
		}
	}
	// A Hello frame over the pre-authorization cap gets no answer at all.
	st, err := stranger.NewStream(ctx, r.clone.ID(), syncwire.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	big := append(binary.AppendUvarint(nil, syncwire.HelloFrame+1), byte(syncwire.KindHello))
	_, _ = st.Write(append(big, make([]byte, syncwire.HelloFrame)...))
	if m, _, err := syncwire.ReadFrame(bufio.NewReader(st), syncwire.MaxFrame); err == nil {
		t.Errorf("oversized hello answered with %+v", m)
	}
	_ = st.Reset()
}

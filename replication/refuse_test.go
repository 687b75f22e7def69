package replication_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

var (
	deviceKey = ed25519.NewKeyFromSeed([]byte("device key of the phone: 32 byte"))
	otherKey  = ed25519.NewKeyFromSeed([]byte("another phone's device key: 32 b"))
	t0        = replication.Time(1_700_000_000_000)
)

func deviceID(k ed25519.PrivateKey) replication.DeviceID {
	id, _ := replication.DeviceIDOf(k.Public().(ed25519.PublicKey))
	return id
}

type devOpts struct {
	key    ed25519.PrivateKey
	epoch  uint64
	params replication.Params
	apps   []string
}

func newDevice(t testing.TB, o devOpts) *replication.Device {
	if o.key == nil {
		o.key = deviceKey
	}
	if o.epoch == 0 {
		o.epoch = 1
	}
	if o.apps == nil {
		o.apps = []string{"inbox", "notes"}
	}
	reg := notesRegistry(t)
	_ = reg.Register("zzz", func() replication.App { return notes.New() })
	set, err := replication.NewAppSet(reg, o.apps...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := replication.NewDevice(replication.DeviceConfig{Key: o.key, Epoch: o.epoch, Apps: set, Start: t0, Params: o.params})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newMirror(t testing.TB) *replication.Mirror {
	m, err := replication.NewMirror(replication.MirrorConfig{Device: deviceID(deviceKey), Epoch: 1, Apps: mustSet(t, notesRegistry(t))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// batches makes the device close n batches of a few keystrokes each, in
// windows of one second, and returns their encodings.
func batches(t testing.TB, d *replication.Device, n int, app string) [][]byte {
	var out [][]byte
	for i := range n {
		at := t0 + replication.Time(i*1000)
		for k := range 3 {
			if _, err := d.Input(at+replication.Time(k*10), app, notes.Insert("n", 0, []byte{'a' + byte(k)})); err != nil {
				t.Fatal(err)
			}
		}
		d.Tick(at + 1000)
		for _, m := range d.Ready().Send {
			if m.Kind == replication.MsgBatch {
				out = append(out, m.Data)
			}
		}
		d.Advance()
	}
	return out
}

// TestRefusedBatches: every kind of bad batch is refused with its own
// error, and none of them changes what the mirror then takes.
func TestRefusedBatches(t *testing.T) {
	good := batches(t, newDevice(t, devOpts{}), 3, "notes")
	long := replication.DefaultParams()
	long.SyncInterval = 2 * time.Second
	big := replication.DefaultParams()
	big.MaxBatchInputs = 1 << 15

	forged := append([]byte(nil), good[0]...)
	forged[bytes.Index(forged, notes.Insert("n", 0, []byte("a")))+4] ^= 1 // a keystroke, under the signature
	oversized := make([]byte, replication.MaxBatchBytes+1)
	copy(oversized, good[0])

	fork := newDevice(t, devOpts{}) // the same key with another history
	forkBatches := batches(t, fork, 2, "inbox")

	tooMany := newDevice(t, devOpts{params: big})
	for k := range replication.DefaultParams().MaxBatchInputs + 1 {
		if _, err := tooMany.Input(t0, "notes", notes.Put("k", []byte{byte(k)})); err != nil {
			t.Fatal(err)
		}
	}
	tooMany.Tick(t0 + 1000)
	longDev := newDevice(t, devOpts{params: long})
	batches(t, longDev, 1, "notes") // the 2 s window is still open
	longDev.Tick(t0 + 2000)
	unknownNet := newDevice(t, devOpts{})
	if _, err := unknownNet.Network(t0, replication.NetInput{NetSeq: 1, App: "inbox", Payload: notes.Put("x", nil)}); err != nil {
		t.Fatal(err)
	}
	unknownNet.Tick(t0 + 1000)

	cases := []struct {
		name  string
		setup [][]byte // taken first
		batch []byte
		want  error
	}{
		{"forged", nil, forged, replication.ErrSignature},
		{"another device's", nil, batches(t, newDevice(t, devOpts{key: otherKey}), 1, "notes")[0], replication.ErrWrongDevice},
		{"another epoch", nil, batches(t, newDevice(t, devOpts{epoch: 2}), 1, "notes")[0], replication.ErrEpoch},
		{"reordered", nil, good[1], replication.ErrBatchGap},
		{"replayed", good[:2], good[0], replication.ErrReplay},
		{"truncated", nil, good[0][:len(good[0])-1], replication.ErrTruncated},
		{"oversized", nil, oversized, replication.ErrTooLarge},
		{"too many inputs", nil, tooMany.Ready().Send[0].Data, replication.ErrTooLarge},
		{"forked chain", good[:1], forkBatches[1], replication.ErrChain},
		{"window over t_syn_int", nil, longDev.Ready().Send[0].Data, replication.ErrWindow},
		{"unrelayed network input", nil, unknownNet.Ready().Send[0].Data, replication.ErrUnknownNet},
		{"unknown app", nil, batches(t, newDevice(t, devOpts{apps: []string{"inbox", "notes", "zzz"}}), 1, "zzz")[0], replication.ErrUnknownApp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMirror(t)
			for i, b := range c.setup {
				if err := m.HandleBatch(t0, b); err != nil {
					t.Fatalf("setup batch %d: %v", i, err)
				}
			}
			err := m.HandleBatch(t0+5000, c.batch)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, other := range cases {
				if other.want != c.want && errors.Is(err, other.want) {
					t.Fatalf("%v also matches %v", err, other.want)
				}
			}
			r := m.Ready()
			if len(r.Notices) == 0 || r.Notices[0].Kind != replication.NoticeRefused || !errors.Is(r.Notices[0].Err, c.want) {
				t.Fatalf("no refusal notice: %+v", r.Notices)
			}
			if c.want == replication.ErrBatchGap {
				if r.Resync == nil || !m.Resyncing() {
					t.Fatal("a gap did not start a resync")
				}
				return
			}
			// The mirror still takes the good batches that follow and replays them matching.
			m.Advance()
			for _, b := range good[len(c.setup):] {
				if err := m.HandleBatch(t0, b); err != nil {
					t.Fatalf("good batch after the refusal: %v", err)
				}
			}
			m.Tick(t0 + 10_000)
			rep := m.Ready().Replayed
			if len(rep) != len(good) || !rep[len(rep)-1].Match {
				t.Fatalf("replayed %+v", rep)
			}
		})
	}
}

// TestTruncatedEverywhere: every strict prefix of a batch, an offer and a
// template is refused as truncated.
func TestTruncatedEverywhere(t *testing.T) {
	d := newDevice(t, devOpts{})
	b := batches(t, d, 1, "notes")[0]
	if err := d.HandleResync(t0+5000, replication.ResyncRequest{Number: 1}); err != nil {
		t.Fatal(err)
	}
	offer := d.Ready().Send[len(d.Ready().Send)-1].Data
	tmpl, _ := factory(t)
	for name, msg := range map[string][]byte{"batch": b, "offer": offer, "template": tmpl.Marshal()} {
		decode := map[string]func([]byte) error{
			"batch":    func(p []byte) error { _, err := replication.DecodeBatch(p); return err },
			"offer":    func(p []byte) error { _, err := replication.DecodeOffer(p); return err },
			"template": func(p []byte) error { _, err := replication.DecodeTemplate(p); return err },
		}[name]
		if err := decode(msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for n := 0; n < len(msg); n++ {
			if err := decode(msg[:n]); !errors.Is(err, replication.ErrTruncated) {
				t.Fatalf("%s cut at %d of %d: %v", name, n, len(msg), err)
			}
		}
		if err := decode(append(append([]byte(nil), msg...), 0)); !errors.Is(err, replication.ErrMalformed) {
			t.Fatalf("%s with a trailing byte: %v", name, err)
		}
	}
}

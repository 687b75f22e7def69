package replication_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication"
	"github.com/clone2clone/c2c/replication/notes"
)

// typing records keystrokes on a device: each appends one byte to a note
// and a new note starts every 10 KB, gap ms apart, and returns the batches'
// encodings with the total payload and sync bytes.
func typing(b testing.TB, d *replication.Device, keystrokes int, gap replication.Time) (msgs [][]byte, payload, sync, batches int) {
	now := t0
	size := 0
	key := ""
	for i := range keystrokes {
		if i%10240 == 0 {
			key, size = fmt.Sprintf("note-%04d", i/10240), 0
		}
		p := notes.Insert(key, size, []byte{'a' + byte(i%26)})
		if _, err := d.Input(now, "notes", p); err != nil {
			b.Fatal(err)
		}
		payload += len(p)
		size++
		now += gap
	}
	d.Tick(now + replication.Time(time.Hour/time.Millisecond))
	for _, m := range d.Ready().Send {
		sync += len(m.Data)
		if m.Kind == replication.MsgBatch {
			msgs = append(msgs, m.Data)
			batches++
		}
	}
	d.Advance()
	return msgs, payload, sync, batches
}

func benchMirror(b *testing.B, params replication.Params) *replication.Mirror {
	m, err := replication.NewMirror(replication.MirrorConfig{Device: deviceID(deviceKey), Epoch: 1,
		Apps: mustSet(b, notesRegistry(b)), Params: params})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkReplay measures the pure core's replay: merging and applying
// taken batches (1000 keystrokes each into the notes app) and hashing the
// state after each batch. Decoding and verifying happen outside the timer.
func BenchmarkReplay(b *testing.B) {
	params := replication.DefaultParams()
	params.SyncInterval = 10 * time.Second
	const events = 200_000
	batches, _, _, _ := typing(b, newDevice(b, devOpts{params: params}), events, 10) // 100 keystrokes a second
	for b.Loop() {
		b.StopTimer()
		m := benchMirror(b, params)
		for _, p := range batches {
			if err := m.HandleBatch(t0, p); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		m.Tick(t0 + replication.Time(10*time.Hour/time.Millisecond))
		if st := m.Stats(); st.Events != events || st.Divergences != 0 {
			b.Fatalf("replayed %d events, %d divergences", st.Events, st.Divergences)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTakeAndReplay adds decoding, the signature and the checks of
// each batch to the replay: the mirror's whole cost per event.
func BenchmarkTakeAndReplay(b *testing.B) {
	params := replication.DefaultParams()
	params.SyncInterval = 10 * time.Second
	const events = 200_000
	batches, _, _, _ := typing(b, newDevice(b, devOpts{params: params}), events, 10)
	for b.Loop() {
		b.StopTimer()
		m := benchMirror(b, params)
		b.StartTimer()
		for _, p := range batches {
			if err := m.HandleBatch(t0, p); err != nil {
				b.Fatal(err)
			}
		}
		m.Tick(t0 + replication.Time(10*time.Hour/time.Millisecond))
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDeviceSync types a 10 KB note keystroke by keystroke, 5
// keystrokes a second, for each t_syn_int, and reports the sync bytes per
// event beside its payload, and the device's cost per batch (applying,
// hashing, encoding, signing).
func BenchmarkDeviceSync(b *testing.B) {
	for _, syn := range []time.Duration{time.Second, 10 * time.Second, time.Minute} {
		b.Run(fmt.Sprintf("t_syn_int=%v", syn), func(b *testing.B) {
			params := replication.DefaultParams()
			params.SyncInterval = syn
			const keys = 10240
			var payload, sync, batches int
			for b.Loop() {
				_, payload, sync, batches = typing(b, newDevice(b, devOpts{params: params}), keys, 200)
			}
			b.ReportMetric(float64(sync-payload)/keys, "overhead_bytes/event")
			b.ReportMetric(float64(sync)/keys, "bytes/event")
			b.ReportMetric(float64(payload)/keys, "payload_bytes/event")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batches), "device_us/batch")
			b.ReportMetric(0, "ns/op")
		})
	}
}

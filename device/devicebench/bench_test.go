package devicebench

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/server"
	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netsim"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, "device process:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is one device process.
type proc struct {
	cmd *exec.Cmd
	in  *os.File
	out *bufio.Reader
}

func startProc(tb testing.TB, env []string) *proc {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r.Close()
	p := &proc{cmd: cmd, in: w, out: bufio.NewReader(out)}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func (p *proc) expect(tb testing.TB, want string) string {
	tb.Helper()
	line, err := p.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, want) {
		tb.Fatalf("device process said %q (%v), want %s", line, err, want)
	}
	return strings.TrimSpace(line)
}

func (p *proc) say(tb testing.TB, s string) {
	if _, err := fmt.Fprintln(p.in, s); err != nil {
		tb.Fatal(err)
	}
}

// keyFile writes a fresh device key.
func keyFile(tb testing.TB, dir, name string) (string, peer.ID) {
	k := netsim.NewKey(tb)
	path := filepath.Join(dir, name+".key")
	if err := keystore.WritePrivKey(path, k); err != nil {
		tb.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return path, id
}

func multiaddr(c *netsim.Peer) string { return fmt.Sprintf("%s/p2p/%s", c.H.Addrs()[0], c.H.ID()) }

// run drives the processes through GO, EDITED, FINAL and collects reports.
func run(tb testing.TB, procs []*proc, final func() string) []report {
	for _, p := range procs {
		p.say(tb, "GO")
	}
	for _, p := range procs {
		p.expect(tb, "EDITED")
	}
	h := final()
	var out []report
	for _, p := range procs {
		p.say(tb, "FINAL "+h)
	}
	for _, p := range procs {
		var r report
		if err := json.Unmarshal([]byte(p.expect(tb, "{")), &r); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

const devices, editsEach = 16, 63 // 1,008 edits in the document

// summarize reports per device per 1,000 document edits.
func summarize(b *testing.B, rs []report) {
	total := 0
	var bytes, cpu float64
	var cr device.Crypto
	for _, r := range rs {
		total += r.Edits
		bytes += float64(r.BytesIn + r.BytesOut)
		cpu += float64(r.CPU)
		cr.Signs += r.Crypto.Signs
		cr.Verifies += r.Crypto.Verifies
		cr.AEADSeals += r.Crypto.AEADSeals
		cr.AEADOpens += r.Crypto.AEADOpens
	}
	n := float64(len(rs))
	per := 1000 / float64(total)
	b.ReportMetric(bytes/n*per, "device-B/1k-edits")
	b.ReportMetric(cpu/n*per/1e6, "device-cpu-ms/1k-edits")
	b.ReportMetric(float64(cr.Verifies)/n*per, "verifies/1k-edits")
	b.ReportMetric(float64(cr.AEADOpens)/n*per, "aead-opens/1k-edits")
	b.ReportMetric(float64(cr.Signs)/n*per, "signs/1k-edits")
	b.Logf("%s mode, %d device processes, %d edits in the document; device 0 protocols: %+v",
		rs[0].Mode, len(rs), total, rs[0].Protocols)
}

// BenchmarkDevicesCloneMode: 16 clone-mode device processes, each the
// thin client of its own clone (the clones and the sequencer run in the
// benchmark process).
func BenchmarkDevicesCloneMode(b *testing.B) {
	for range b.N {
		n := netsim.NewLoopback(b)
		seq := n.AddSequencer()
		var clones []*netsim.Clone
		for range devices {
			clones = append(clones, n.AddClone())
		}
		d := n.NewDoc(seq, clones...)
		dir := b.TempDir()
		var procs []*proc
		for i, c := range clones {
			userKey, _ := dht.GenerateUserKey()
			user, _ := peer.IDFromPrivateKey(userKey)
			kf, devID := keyFile(b, dir, fmt.Sprint("dev", i))
			dirCert, err := n.Dir.Lookup(context.Background(), c.User, c.Device)
			if err != nil {
				b.Fatal(err)
			}
			cert, err := dht.SignOwnerCert(userKey, dht.OwnerCert{Device: "phone", DeviceKey: devID, Clone: c.H.ID(),
				CloneHPKE: dirCert.CloneHPKE, Seq: 1, EOL: time.Now().Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			srv, err := server.New(c.H, c.Svc, cert, server.WithLogger(n.Log))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { srv.Close() })
			procs = append(procs, startProc(b, []string{childEnv + "=clone", "KEY_FILE=" + kf, "USER_ID=" + user.String(),
				"NAME=phone", "CLONE_ADDR=" + multiaddr(c.Peer), "DOC=" + hex.EncodeToString(d.ID[:]),
				fmt.Sprint("EDITS=", editsEach), fmt.Sprint("SEED=", i+1)}))
		}
		for _, p := range procs {
			p.expect(b, "READY")
		}
		b.ResetTimer()
		rs := run(b, procs, func() string {
			d.WaitConverged(5 * time.Minute)
			t, _ := clones[0].Svc.Text(d.ID)
			return textHash(t)
		})
		b.StopTimer()
		summarize(b, rs)
	}
}

// BenchmarkDevicesDirectMode: 16 direct-mode device processes, each
// running the clone engine itself; one admin clone in the benchmark
// process creates the document and invites them.
func BenchmarkDevicesDirectMode(b *testing.B) {
	for range b.N {
		n := netsim.NewLoopback(b)
		seq := n.AddSequencer()
		admin := n.AddClone()
		d := n.NewDoc(seq, admin)
		dir := b.TempDir()
		var procs []*proc
		for i := range devices {
			kf, devID := keyFile(b, dir, fmt.Sprint("dev", i))
			hf := filepath.Join(dir, fmt.Sprint("dev", i, ".hpke"))
			_, pub, _, err := keystore.LoadOrCreateHPKEKey(hf, dht.GenerateHPKEKey)
			if err != nil {
				b.Fatal(err)
			}
			user := n.Dir.Enroll(b, devID, pub, "phone")
			p := startProc(b, []string{childEnv + "=direct", "KEY_FILE=" + kf, "HPKE_FILE=" + hf,
				"PEERS=" + multiaddr(seq.Peer) + "," + multiaddr(admin.Peer), "DOC=" + hex.EncodeToString(d.ID[:]),
				fmt.Sprint("EDITS=", editsEach), fmt.Sprint("SEED=", i+1)})
			p.expect(b, "ENGINE")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := admin.Svc.Invite(ctx, d.ID, user, "phone", docsync.RoleWriter); err != nil {
				b.Fatal(err)
			}
			cancel()
			procs = append(procs, p)
		}
		for _, p := range procs {
			p.expect(b, "READY")
		}
		b.ResetTimer()
		rs := run(b, procs, func() string {
			d.WaitConverged(5 * time.Minute)
			t, _ := admin.Svc.Text(d.ID)
			return textHash(t)
		})
		b.StopTimer()
		summarize(b, rs)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/node"
)

// c2c runs the CLI in-process and returns its exit code, stdout and stderr.
func c2c(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestEnvVarsSetFlagsAndFlagsWin(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	t.Setenv("C2C_DATA", envDir)
	if code, _, errOut := c2c(t, "keygen"); code != 0 {
		t.Fatalf("keygen: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(envDir, "user.key")); err != nil {
		t.Fatalf("C2C_DATA not used: %v", err)
	}
	if code, _, errOut := c2c(t, "keygen", "--data", flagDir); code != 0 {
		t.Fatalf("keygen --data: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(flagDir, "user.key")); err != nil {
		t.Fatalf("--data did not win over C2C_DATA: %v", err)
	}
	t.Setenv("C2C_LOG_LEVEL", "loud")
	if code, _, errOut := c2c(t, "keygen", "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "log-level") {
		t.Fatalf("bad C2C_LOG_LEVEL accepted: %d %q", code, errOut)
	}
}

func TestKeygenNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := c2c(t, "keygen", "--data", dir)
	if code != 0 || field(out, "user ID") == "" {
		t.Fatalf("keygen: %d %q", code, out)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "user.key"))
	code, _, errOut := c2c(t, "keygen", "--data", dir)
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second keygen: %d %q", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "user.key"))
	if !bytes.Equal(before, after) {
		t.Fatal("key file changed")
	}
}

func TestEnrollRaisesSeqAndKeepsDeviceIndex(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "user.key")
	if code, _, errOut := c2c(t, "keygen", "--out", key); code != 0 {
		t.Fatal(errOut)
	}
	phone, laptop := filepath.Join(dir, "clone-phone"), filepath.Join(dir, "clone-laptop")
	enroll := func(device, cloneDir string) string {
		code, out, errOut := c2c(t, "enroll", "--key", key, "--device", device, "--clone-data", cloneDir)
		if code != 0 {
			t.Fatalf("enroll %s: %s", device, errOut)
		}
		return out
	}
	out1 := enroll("phone", phone)
	out2 := enroll("phone", phone)
	if field(out1, "seq") != "1" || field(out2, "seq") != "2" || field(out1, "clone") != field(out2, "clone") {
		t.Fatalf("re-enrollment:\n%s\n%s", out1, out2)
	}
	enroll("laptop", laptop)
	idx, err := node.ReadDeviceIndex(laptop)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(idx.Devices, ",") != "laptop,phone" {
		t.Fatalf("device index %v, want laptop and phone", idx.Devices)
	}
	cert, err := node.ReadOwnerCert(phone)
	if err != nil || cert.Device != "phone" || cert.Seq != 2 {
		t.Fatalf("phone cert: %+v %v", cert, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "devices", "phone.key")); err != nil {
		t.Fatalf("device key not created next to the user key: %v", err)
	}
	if code, _, errOut := c2c(t, "enroll", "--key", filepath.Join(dir, "nokey"), "--device", "x", "--clone-data", phone); code == 0 || !strings.Contains(errOut, "c2c keygen") {
		t.Fatalf("enroll without a user key: %d %q", code, errOut)
	}
}

func TestCloneWithoutCertSaysWhatToRun(t *testing.T) {
	dir := t.TempDir()
	boot := "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRiRdCTLVV2geYEVfT9AQ5Evqxk54nzFNyMEkBdLzbWuq"
	code, _, errOut := c2c(t, "clone", "--data", dir, "--bootstrap", boot)
	if code == 0 || !strings.Contains(errOut, "c2c enroll") || !strings.Contains(errOut, dir) {
		t.Fatalf("unenrolled clone: %d %q", code, errOut)
	}
	code, _, errOut = c2c(t, "clone", "--data", dir)
	if code == 0 || !strings.Contains(errOut, "--bootstrap") {
		t.Fatalf("clone without bootstrap: %d %q", code, errOut)
	}
}

func TestHelpExplainsEnvAndData(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"provider", "--help"}, {"clone", "--help"}, {"enroll", "--help"}, {"dir", "lookup", "--help"}, {"demo", "--help"}, {"keygen", "--help"}, {"sequencer", "--help"}, {"doc", "--help"}, {"bench", "--help"}, {"bench", "abuse", "--help"},
		{"provider", "sigs", "--help"}, {"provider", "clones", "--help"}, {"device", "scan", "--help"}} {
		code, out, _ := c2c(t, cmd...)
		if code != 0 || !strings.Contains(out, "C2C_DATA") || !strings.Contains(out, "--data") || !strings.Contains(out, "--metrics") {
			t.Errorf("%v: code %d, help lacks env/data/metrics:\n%s", cmd, code, out)
		}
	}
}

func TestDemoFindsEveryRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real nodes on loopback")
	}
	t.Setenv("C2C_LOG_LEVEL", "") // restored afterwards; the test wants it unset
	os.Unsetenv("C2C_LOG_LEVEL")
	dir := t.TempDir()
	code, out, errOut := c2c(t, "demo", "--providers", "2", "--clones", "6", "--duration", "1s", "--data", dir)
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", code, out, errOut)
	}
	// Without --log-level, the nodes log to the file only.
	logs, err := os.ReadFile(filepath.Join(dir, demoLogFile))
	if err != nil || !strings.Contains(string(logs), "node started") {
		t.Fatalf("demo.log (%v):\n%s", err, logs)
	}
	if errOut != "" || strings.Contains(out, "level=") || !strings.Contains(out, "the nodes log to "+filepath.Join(dir, demoLogFile)) {
		t.Fatalf("demo not quiet: stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if !strings.Contains(out, "records found") || !strings.Contains(out, "6/6") ||
		!strings.Contains(out, "converged                    yes") || !strings.Contains(out, "fork alarm raised by         6/6 clones") ||
		!strings.Contains(out, "recovered onto the standby") || !strings.Contains(out, "none missing") ||
		!strings.Contains(out, "SHA-256 matches") || !strings.Contains(out, "hashes match again") || !strings.Contains(out, "t_syn_int + t_max = 350ms") ||
		!strings.Contains(out, "dl/game.apk: Eicar-Test-Signature") || !strings.Contains(out, "from the cache the provider shares") ||
		!strings.Contains(out, "dormant when idle") || !strings.Contains(out, "woke them and was at every member") {
		t.Fatalf("demo output:\n%s", out)
	}
}

func TestDemoLoggerShowsLogsOnlyWhenAsked(t *testing.T) {
	for _, set := range []bool{false, true} {
		var stderr bytes.Buffer
		g := &globals{logLevel: "warn", logLevelSet: set, stderr: &stderr}
		path := filepath.Join(t.TempDir(), demoLogFile)
		log, f, err := g.demoLogger(path)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("too low")
		log.Warn("shown")
		f.Close()
		inFile, _ := os.ReadFile(path)
		if strings.Contains(string(inFile), "too low") || !strings.Contains(string(inFile), "msg=shown") {
			t.Errorf("set=%v: file %q", set, inFile)
		}
		if got := stderr.String(); got != map[bool]string{false: "", true: string(inFile)}[set] {
			t.Errorf("set=%v: stderr %q, file %q", set, got, inFile)
		}
	}
}

func TestPercentile(t *testing.T) {
	var in []time.Duration
	for _, d := range []int{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} {
		in = append(in, time.Duration(d)*time.Millisecond)
	}
	if got := percentile(in, 0.5); got != 5*time.Millisecond {
		t.Fatalf("p50 = %v", got)
	}
	if got := percentile(in, 0.99); got != 10*time.Millisecond {
		t.Fatalf("p99 = %v", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Fatalf("empty = %v", got)
	}
}

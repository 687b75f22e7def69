package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clone2clone/c2c/replication/scan"
)

// Antivirus on the mirror as a person runs it, with real processes: the
// provider's operator adds signature files (a bad one is refused and
// nothing changes; more are added while the provider runs), the phone
// stores files in its mirror, and c2c device scan returns the
// clone-signed report, which verify-scan-report checks offline and
// refuses once changed.
func TestScanCLIProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the c2c binary")
	}
	bin := c2cBinary(t)
	root := t.TempDir()
	const ready = 60 * time.Second
	run := mustRunC2C(t, bin)
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	user := field(run("keygen", "--data", filepath.Join(root, "user")), "user ID")
	pDir := filepath.Join(root, "p")
	p := startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, p, filepath.Join(pDir, readyFile), ready)
	p.stop(t)

	if ls := run("provider", "sigs", "--data", pDir, "ls"); !strings.Contains(ls, "version 0") {
		t.Fatalf("sigs ls before any add:\n%s", ls)
	}
	known := bytes.Repeat([]byte("a file the operator knows is bad\n"), 100)
	hsb := write("known.hsb", fmt.Appendf(nil, "%x:%d:Test.Known.Bad\n", sha256.Sum256(known), len(known)))
	// A body signature with only a 2-byte anchor, ClamAV style.
	// Forms the scanner does not implement, and another target type, are
	// skipped and counted.
	ndb := write("short.ndb", []byte("Test.Short.Anchor:0:*:c2c2{2-4}6d6972726f72\nTest.Neg:0:*:41424344!(aa|bb)\nTest.PE:1:EP+0:41424344\n"))
	if out := run("provider", "sigs", "--data", pDir, "add", hsb, ndb); !strings.Contains(out, "version 1: 1 hash and 2 body signatures") ||
		!strings.Contains(out, "skipped 1 body signatures of other target types") || !strings.Contains(out, "short.ndb: line 2: scan: unsupported") {
		t.Fatalf("sigs add:\n%s", out)
	}
	bad := write("bad.ndb", []byte("Bad:0:*:4142zz\n"))
	if out, errOut, err := runC2C(bin, nil, "provider", "sigs", "--data", pDir, "add", bad); err == nil || !strings.Contains(errOut, "bad.ndb: line 1") {
		t.Fatalf("a bad file was not refused: %v\n%s\n%s", err, out, errOut)
	}
	if ls := run("provider", "sigs", "--data", pDir, "ls"); !strings.Contains(ls, "version 1") || !strings.Contains(ls, "known.hsb") || strings.Contains(ls, "bad.ndb") {
		t.Fatalf("sigs ls after the refused add:\n%s", ls)
	}

	p = startProc(t, bin, "provider", nil, "provider", "--data", pDir, "--listen", loopback)
	waitFile(t, p, filepath.Join(pDir, readyFile), ready)
	boot := strings.Fields(waitFile(t, p, filepath.Join(pDir, addrsFile), ready))[0]
	cDir := filepath.Join(root, "clone")
	run("enroll", "--key", filepath.Join(root, "user", "user.key"), "--device", "phone", "--clone-data", cDir)
	c := startProc(t, bin, "clone", nil, "clone", "--data", cDir, "--listen", loopback, "--bootstrap", boot)
	waitFile(t, c, filepath.Join(cDir, readyFile), ready)
	phone := filepath.Join(root, "phone")
	run("device", "connect", "--data", phone, "--provider", boot, "--user", user,
		"--name", "phone", "--key", filepath.Join(root, "user", "devices", "phone.key"))

	eicarAtEnd := append(bytes.Repeat([]byte("x"), 200_000), scan.EICAR()...)
	run("device", "files", "--data", phone, "put", write("eicar-at-end.bin", eicarAtEnd))
	run("device", "files", "--data", phone, "put", write("known.txt", known))
	run("device", "files", "--data", phone, "put", write("short.bin", []byte("....\xc2\xc2..\x00mirror....")))
	run("device", "files", "--data", phone, "put", write("clean.txt", []byte("nothing to see here\n")))
	run("device", "files", "--data", phone, "put", write("later.txt", []byte("found bad later\n")))

	// Signatures added while the provider runs: it takes them through its
	// spool, and the clone sees the new version at the scan.
	later := []byte("found bad later\n")
	lhsb := write("later.hsb", fmt.Appendf(nil, "%x:%d:Test.Later.Bad\n", sha256.Sum256(later), len(later)))
	if out := run("provider", "sigs", "--data", pDir, "add", lhsb); !strings.Contains(out, "version 2: 2 hash and 2 body signatures") || !strings.Contains(out, "loaded by the running provider") {
		t.Fatalf("sigs add while running:\n%s", out)
	}
	if ls := run("provider", "sigs", "--data", pDir, "ls"); !strings.Contains(ls, "version 2") || !strings.Contains(ls, "later.hsb") {
		t.Fatalf("sigs ls while running:\n%s", ls)
	}

	report := filepath.Join(root, "report.json")
	out := run("device", "scan", "--data", phone, "--out", report)
	for _, want := range []string{"eicar-at-end.bin", "INFECTED " + scan.EICARName, "INFECTED Test.Known.Bad",
		"INFECTED Test.Short.Anchor", "INFECTED Test.Later.Bad", "5 files, 4 infected, 0 errors; signature database version 2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("device scan lacks %q:\n%s", want, out)
		}
	}
	if v := run("verify-scan-report", report); !strings.Contains(v, "OK: signed by clone") {
		t.Fatalf("verify-scan-report:\n%s", v)
	}
	// Pinned to a key that did not sign it (the user key, as a clone):
	// refused; unpinned, the success says so.
	if !strings.Contains(run("verify-scan-report", report), "not pinned") {
		t.Fatal("an unpinned check did not say it is unpinned")
	}
	if _, errOut, err := runC2C(bin, nil, "verify-scan-report", report, "--clone", user); err == nil || !strings.Contains(errOut, "signed by") {
		t.Fatalf("a report pinned to another clone verified: %v\n%s", err, errOut)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	forged := write("forged.json", bytes.Replace(b, []byte(`"infected": true`), []byte(`"infected": false`), 1))
	if _, errOut, err := runC2C(bin, nil, "verify-scan-report", forged); err == nil || !strings.Contains(errOut, "bad signature") {
		t.Fatalf("a changed report verified: %v\n%s", err, errOut)
	}

	// The same on the phone's page (c2c device web).
	checkWebMirror(t, bin, phone, []string{"eicar-at-end.bin | 200068", "clean.txt | 20"},
		[]string{"eicar-at-end.bin | INFECTED " + scan.EICARName, "known.txt | INFECTED Test.Known.Bad", "clean.txt | clean",
			"5 files, 4 infected, 0 errors; signature database version 2"})
}

package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// testOrSim matches what the daemon must not link: package testing and its
// sub-packages, and go-libp2p's simulated network (c2c-sim links them).
var testOrSim = regexp.MustCompile(`^testing$|^testing/|simnet|simlibp2p|simquic`)

// kadDHTImportsTesting is the one importer of testing allowed: the
// go-libp2p-kad-dht root package declares two unexported test-only options
// that take a *testing.T (dht_options.go; upstream's master too), so
// package testing's init is in every libp2p DHT node. None of its functions
// are linked.
const kadDHTImportsTesting = "github.com/libp2p/go-libp2p-kad-dht"

func TestDaemonLinksNoTestOrSimPackage(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		for imp := range strings.FieldsSeq(imports) {
			if !testOrSim.MatchString(imp) || (imp == "testing" && pkg == kadDHTImportsTesting) {
				continue
			}
			t.Errorf("c2c links %s (imported by %s)", imp, pkg)
		}
	}
}

package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestEnvName(t *testing.T) {
	if got := EnvName("log-level"); got != "C2C_LOG_LEVEL" {
		t.Fatalf("EnvName(log-level) = %q", got)
	}
}

func TestApplyEnvFlagsWin(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	data := fs.String("data", "", "")
	n := fs.Int("instances", 1, "")
	t.Setenv("C2C_DATA", "/from/env")
	t.Setenv("C2C_INSTANCES", "7")
	if err := fs.Parse([]string{"--data", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *data != "/from/flag" || *n != 7 || !fs.Changed("instances") {
		t.Fatalf("data %q, instances %d (changed %v)", *data, *n, fs.Changed("instances"))
	}
	t.Setenv("C2C_INSTANCES", "many")
	fs2 := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs2.Int("instances", 1, "")
	if err := ApplyEnv(fs2); err == nil || !strings.Contains(err.Error(), "C2C_INSTANCES") {
		t.Fatalf("bad C2C_INSTANCES: %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger("warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown") {
		t.Fatalf("log output %q", out)
	}
	if _, err := NewLogger("loud", &buf); err == nil {
		t.Fatal("level loud accepted")
	}
}

func TestProgress(t *testing.T) {
	if got := Bar("scan", 1, 3); got != "scan [##########....................] 1/3" {
		t.Fatalf("Bar: %q", got)
	}
	if got := Bar("scan", 0, 0); got != "scan [##############################] 0/0" {
		t.Fatalf("Bar of nothing: %q", got)
	}
	var b bytes.Buffer
	p := NewProgress(&b, "scan")
	p.Update(0, 2)
	p.Update(0, 2)
	p.Update(2, 2)
	p.Done()
	if got := b.String(); got != "\rscan [..............................] 0/2\rscan [##############################] 2/2\n" {
		t.Fatalf("drawn: %q", got)
	}
}

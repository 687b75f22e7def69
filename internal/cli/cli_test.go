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

func TestProgressQuietOffTerminal(t *testing.T) {
	var buf strings.Builder
	p := NewProgress(&buf, "pull", false)
	p.Update(1, 2)
	p.Done()
	if buf.Len() != 0 {
		t.Fatalf("a bar on a non-terminal: %q", buf.String())
	}
}

func TestProgressDrawn(t *testing.T) {
	var b strings.Builder
	p := NewCounter(&b, "scan", "files", false)
	p.on = true // a terminal, as far as the bar knows
	p.Update(0, 2)
	p.Update(0, 2)
	p.Update(2, 2)
	p.Done()
	want := "\rscan [                              ] 0/2 files   0.0%\rscan [==============================] 2/2 files 100.0%\n"
	if got := b.String(); got != want {
		t.Fatalf("drawn: %q, want %q", got, want)
	}
}

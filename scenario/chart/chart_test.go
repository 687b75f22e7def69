package chart

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clone2clone/c2c/scenario"
)

func TestWritePNG(t *testing.T) {
	s := &scenario.Summary{Case: scenario.CaseDirectory, Runner: "in-process",
		Params:  scenario.DefaultParams(scenario.CaseDirectory),
		Samples: scenario.Samples{LookupMs: []float64{42, 40, 161, 0, 5083}}}
	path := filepath.Join(t.TempDir(), "latency.png")
	if err := WritePNG(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Fatalf("image %v, want a readable size", b)
	}
}

func TestWritePNGNoSamples(t *testing.T) {
	s := &scenario.Summary{Case: scenario.CaseDocsync}
	err := WritePNG(filepath.Join(t.TempDir(), "x.png"), s)
	if !errors.Is(err, ErrNoSamples) {
		t.Fatalf("err %v, want ErrNoSamples", err)
	}
}

func TestCDF(t *testing.T) {
	pts := CDF([]float64{3, 1, 2, 0})
	want := []struct{ x, y float64 }{{0.001, 0.25}, {1, 0.5}, {2, 0.75}, {3, 1}}
	for i, w := range want {
		if pts[i].X != w.x || pts[i].Y != w.y {
			t.Fatalf("point %d = %v, want %v", i, pts[i], w)
		}
	}
}

func TestTicks125(t *testing.T) {
	var got []string
	for _, tk := range (Ticks125{}).Ticks(40, 5083) {
		got = append(got, tk.Label)
	}
	want := "50 100 200 500 1000 2000 5000"
	if strings.Join(got, " ") != want {
		t.Fatalf("ticks %v, want %s", got, want)
	}
}

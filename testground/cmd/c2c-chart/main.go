// Command c2c-chart draws the latency distributions of one or more scenario
// summaries (the JSON `c2c sim` and the Testground plan write) as empirical
// CDFs on a log-scaled time axis, into one PNG:
//
//	go run ./cmd/c2c-chart -o latency.png sim-directory-n100.json sim-docsync-n100.json
//
// It lives in the testground module so gonum/plot stays out of the root
// module's go.mod.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"os"
	"slices"

	"github.com/clone2clone/c2c/scenario"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// errNoSamples is returned when no summary holds a latency sample.
var errNoSamples = errors.New("c2c-chart: no latency samples in the summaries")

func main() {
	out := flag.String("o", "latency.png", "PNG file to write")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: c2c-chart [-o latency.png] SUMMARY.json...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// series is one line of the chart.
type series struct {
	label string
	ms    []float64
}

func run(out string, paths []string) error {
	var all []series
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var s scenario.Summary
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("c2c-chart: %s: %w", path, err)
		}
		name := fmt.Sprintf("%s n=%d (%s)", s.Case, s.Params.Instances, s.Runner)
		for _, c := range []series{
			{name + ": lookup", s.Samples.LookupMs},
			{name + ": edit delivery", s.Samples.EditMs},
			{name + ": fork detection", s.Samples.ForkMs},
		} {
			if len(c.ms) > 0 {
				all = append(all, c)
			}
		}
	}
	if len(all) == 0 {
		return errNoSamples
	}
	p := plot.New()
	p.Title.Text = "c2c latency distributions (empirical CDF)"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of samples <= latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	for i, s := range all {
		line, err := plotter.NewLine(cdf(s.ms))
		if err != nil {
			return err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (%d)", s.label, len(s.ms)), line)
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, out)
}

// cdf turns samples into the points of their empirical CDF; samples <= 0
// are lifted to 0.001 ms so the log axis can show them.
func cdf(ms []float64) plotter.XYs {
	s := slices.Clone(ms)
	slices.Sort(s)
	pts := make(plotter.XYs, len(s))
	for i, v := range s {
		pts[i].X = max(v, 0.001)
		pts[i].Y = float64(i+1) / float64(len(s))
	}
	return pts
}

var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

// Package chart draws the latency distributions of scenario summaries
// (lookup, edit delivery, fork detection) as empirical CDFs on a
// log-scaled time axis, into one PNG. `c2c-sim` and the Testground plan
// call it after every run; `c2c chart` overlays several runs.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/clone2clone/c2c/scenario"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ErrNoSamples is returned when no summary holds a latency sample.
var ErrNoSamples = errors.New("chart: no latency samples in the summaries")

// series is one line of the chart.
type series struct {
	label string
	ms    []float64
}

// WritePNG draws every latency sample of sums into the PNG file path.
func WritePNG(path string, sums ...*scenario.Summary) error {
	var all []series
	for _, s := range sums {
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
		return ErrNoSamples
	}
	p := plot.New()
	p.Title.Text = "c2c latency distributions (empirical CDF)"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of samples <= latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = Ticks125{}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	for i, s := range all {
		line, err := plotter.NewLine(CDF(s.ms))
		if err != nil {
			return fmt.Errorf("chart: %s: %w", s.label, err)
		}
		line.Color = Palette[i%len(Palette)]
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (%d)", s.label, len(s.ms)), line)
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// CDF turns samples into the points of their empirical CDF; samples <= 0
// are lifted to 0.001 ms so the log axis can show them.
func CDF(ms []float64) plotter.XYs {
	s := slices.Clone(ms)
	slices.Sort(s)
	pts := make(plotter.XYs, len(s))
	for i, v := range s {
		pts[i].X = max(v, 0.001)
		pts[i].Y = float64(i+1) / float64(len(s))
	}
	return pts
}

// Ticks125 labels 1, 2 and 5 times each power of ten (a run's samples often
// span less than one decade, where plain log ticks label nothing).
type Ticks125 struct{}

// Ticks implements plot.Ticker.
func (Ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := m * d; v >= lo && v <= hi {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return out
}

// Palette is the charts' line and bar colours.
var Palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

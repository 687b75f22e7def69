package paperbench

import (
	"fmt"
	"path/filepath"

	"github.com/clone2clone/c2c/scenario/chart"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart files WriteCharts writes into its directory.
const (
	EnergyChart  = "paper-energy.png"  // per-phase energy, the paper's Table 3
	BytesChart   = "paper-bytes.png"   // per-phase device bytes, its Figure 3
	LatencyChart = "paper-latency.png" // phase 1 delivery latency CDF
)

// WriteCharts draws the result's charts into dir and returns their paths.
func WriteCharts(res *Result, dir string) ([]string, error) {
	energy := func(e Entry) float64 { return e.EnergyMJ / 1000 }
	kb := func(e Entry) float64 { return (e.BytesUp + e.BytesDown) / 1000 }
	var out []string
	for _, c := range []struct {
		file, title, y string
		v              func(Entry) float64
	}{
		{EnergyChart, fmt.Sprintf("Estimated device energy per phase (%s, %s; mean of %d runs)", res.Link, res.Profile.Phone, res.Runs), "J per device", energy},
		{BytesChart, fmt.Sprintf("Device traffic per phase (stream bytes up + down; mean of %d runs)", res.Runs), "KB per device", kb},
	} {
		path := filepath.Join(dir, c.file)
		if err := bars(res, path, c.title, c.y, c.v); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	path := filepath.Join(dir, LatencyChart)
	if err := latencyCDF(res, path); err != nil {
		return nil, err
	}
	return append(out, path), nil
}

// bars draws clone and direct mode side by side for each phase, each bar
// labelled with its value.
func bars(res *Result, path, title, ylabel string, value func(Entry) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	w := vg.Points(28)
	var top float64
	for i, mode := range Modes {
		vals := make(plotter.Values, len(Phases))
		for j, ph := range Phases {
			vals[j] = value(res.Phases[ph][string(mode)])
			top = max(top, vals[j])
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		b.Color = chart.Palette[i]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(2*i-1) / 2
		p.Add(b)
		p.Legend.Add(string(mode)+" mode", b)
		labels := plotter.XYLabels{}
		for j, v := range vals {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: v})
			labels.Labels = append(labels.Labels, short(v))
		}
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range l.TextStyle {
			l.TextStyle[k].XAlign = -0.5
			l.TextStyle[k].Font.Size = vg.Points(9)
		}
		l.Offset = vg.Point{X: b.Offset, Y: vg.Points(2)}
		p.Add(l)
	}
	p.Y.Max = top * 1.3 // room for the labels and the legend
	p.NominalX(Phases...)
	p.X.Min, p.X.Max = -0.6, float64(len(Phases))-0.4
	p.Legend.Top = true
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

func short(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// latencyCDF draws phase 1's delivery latencies, one line per mode.
func latencyCDF(res *Result, path string) error {
	p := plot.New()
	p.Title.Text = "Phase 1: keystroke at its author to another device's text (empirical CDF)"
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction of deliveries <= latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = chart.Ticks125{}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	for i, mode := range Modes {
		s := res.samples[string(mode)]
		if len(s) == 0 {
			continue
		}
		line, err := plotter.NewLine(chart.CDF(s))
		if err != nil {
			return err
		}
		line.Color = chart.Palette[i]
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s mode (%d deliveries)", mode, len(s)), line)
	}
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

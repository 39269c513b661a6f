package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The files WritePlots writes.
const (
	PlotLearning   = "learning.png"   // loss and accuracy per epoch, loss per step
	PlotThroughput = "throughput.png" // samples/s over time
	PlotResources  = "resources.png"  // CPU, RSS, GPU utilisation and memory over time
)

// WritePlots renders the report's plots as PNGs into dir (created when
// missing) and returns the paths written. A plot without data is left
// out: learning curves need an epoch or a recorded step, throughput a
// recorded step, resources a reading.
func WritePlots(r *Report, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	var written []string
	for _, pl := range []struct {
		name   string
		panels func(*Report) ([]*plot.Plot, error)
	}{{PlotLearning, learningPanels}, {PlotThroughput, throughputPanels}, {PlotResources, resourcePanels}} {
		ps, err := pl.panels(r)
		if err != nil {
			return written, fmt.Errorf("plot %s: %w", pl.name, err)
		}
		if len(ps) == 0 {
			continue
		}
		path := filepath.Join(dir, pl.name)
		if err := savePanels(path, ps); err != nil {
			return written, fmt.Errorf("plot %s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}

// series is one named line.
type series struct {
	name string
	xy   plotter.XYs
}

// add appends a point, skipping values plotter cannot draw (a diverged
// loss is NaN or infinite).
func (s *series) add(x, y float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return
	}
	s.xy = append(s.xy, plotter.XY{X: x, Y: y})
}

// panel builds one plot of the non-empty series, or nil when all are
// empty.
func panel(title, xLabel, yLabel string, ss ...*series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	n := 0
	for _, s := range ss {
		if len(s.xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return nil, err
		}
		c := plotutil.Color(n)
		l.Color, pts.Color = c, c
		pts.Radius = vg.Points(1.5)
		if len(s.xy) > 200 { // dense series read better as a line alone
			pts.Radius = 0
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l)
		n++
	}
	if n == 0 {
		return nil, nil
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// fromZero makes a panel's y axis start at 0 (rates and sizes, whose
// changes read wrongly on a cut axis).
func fromZero(p *plot.Plot, err error) (*plot.Plot, error) {
	if p != nil {
		p.Y.Min = 0
	}
	return p, err
}

// wholeX labels the x axis with integers only (epochs).
func wholeX(p *plot.Plot, err error) (*plot.Plot, error) {
	if p != nil {
		p.X.Tick.Marker = integerTicks{}
	}
	return p, err
}

// integerTicks marks about ten integers across the axis.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := max(1, math.Ceil((hi-lo)/10))
	var ts []plot.Tick
	// At most 11 ticks, and none twice: where float64 no longer moves by
	// step (integers past 2^53, as a report's epoch numbers may be) adding
	// it would loop forever.
	for v := math.Ceil(lo); v <= hi && len(ts) <= 10; v += step {
		if len(ts) > 0 && v <= ts[len(ts)-1].Value {
			break
		}
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
	}
	return ts
}

func appendPanel(ps []*plot.Plot, p *plot.Plot, err error) ([]*plot.Plot, error) {
	if err != nil || p == nil {
		return ps, err
	}
	return append(ps, p), nil
}

func learningPanels(r *Report) ([]*plot.Plot, error) {
	var heldKeys []string
	seen := map[string]bool{}
	for _, e := range r.Epochs {
		for k := range e.HeldOut {
			if !seen[k] {
				seen[k] = true
				heldKeys = append(heldKeys, k)
			}
		}
	}
	sort.Strings(heldKeys)
	loss := []*series{{name: "training loss"}}
	acc := []*series{{name: "training accuracy"}}
	held := map[string]*series{}
	for _, k := range heldKeys {
		s := &series{name: "held-out " + k}
		held[k] = s
		if strings.Contains(k, "loss") {
			loss = append(loss, s)
		} else {
			acc = append(acc, s)
		}
	}
	for _, e := range r.Epochs {
		x := float64(e.Epoch)
		if e.Steps > 0 {
			loss[0].add(x, float64(e.Loss))
		}
		if e.Accuracy != nil {
			acc[0].add(x, *e.Accuracy)
		}
		for k, v := range e.HeldOut {
			held[k].add(x, float64(v))
		}
	}
	var ps []*plot.Plot
	p, err := wholeX(panel("loss per epoch", "epoch", "loss", loss...))
	if ps, err = appendPanel(ps, p, err); err != nil {
		return nil, err
	}
	p, err = wholeX(panel("accuracy per epoch", "epoch", "fraction", acc...))
	if ps, err = appendPanel(ps, p, err); err != nil {
		return nil, err
	}
	step := &series{name: "training loss"}
	for _, s := range r.Steps.Series.Entries() {
		step.add(float64(s.Step), float64(s.Loss))
	}
	title := "loss per step"
	if st := r.Steps.Series.Stride(); st > 1 {
		title += fmt.Sprintf(" (every %d steps)", st)
	}
	p, err = panel(title, "step", "loss", step)
	return appendPanel(ps, p, err)
}

func throughputPanels(r *Report) ([]*plot.Plot, error) {
	s := &series{name: "samples/s"}
	pts := r.Steps.Series.Entries()
	for i, pt := range pts {
		// Between two kept steps: every sample trained over the wall time
		// (what the run delivered, pauses included); the first kept step
		// on its own.
		if i == 0 {
			if pt.Seconds > 0 && len(pts) == 1 {
				s.add(pt.T, float64(pt.Samples)/pt.Seconds)
			}
			continue
		}
		if dt := pt.T - pts[i-1].T; dt > 0 {
			s.add(pt.T, float64(pt.Samples-pts[i-1].Samples)/dt)
		}
	}
	ep := &series{name: "epoch mean"}
	for _, e := range r.Epochs {
		if e.SamplesPerSecond > 0 {
			// An epoch's end, in seconds since the start.
			ep.add(epochEnd(r, e), e.SamplesPerSecond)
		}
	}
	p, err := fromZero(panel("throughput", "seconds since start", "samples/s", s, ep))
	return appendPanel(nil, p, err)
}

// epochEnd is the seconds from the run's start to e's end.
func epochEnd(r *Report, e Epoch) float64 {
	var t float64
	for _, x := range r.Epochs {
		t += x.Seconds
		if x.Epoch == e.Epoch {
			break
		}
	}
	return t
}

func resourcePanels(r *Report) ([]*plot.Plot, error) {
	hs := r.Resources.History.Entries()
	if len(hs) == 0 {
		return nil, nil
	}
	t0 := r.StartedAt
	if t0.IsZero() {
		t0 = hs[0].Time
	}
	cpu, proc := &series{name: "machine CPU %"}, &series{name: "process CPU %"}
	rss := &series{name: "process RSS (MiB)"}
	gpuUtil, gpuMem := map[int]*series{}, map[int]*series{}
	var gpuIdx []int
	for _, h := range hs {
		x := h.Time.Sub(t0).Seconds()
		cpu.add(x, h.CPUTotalPercent)
		proc.add(x, h.ProcessCPUPercent)
		rss.add(x, float64(h.ProcessRSSBytes)/(1<<20))
		for _, g := range h.GPUs {
			if gpuUtil[g.Index] == nil {
				gpuIdx = append(gpuIdx, g.Index)
				gpuUtil[g.Index] = &series{name: fmt.Sprintf("gpu%d util %%", g.Index)}
				gpuMem[g.Index] = &series{name: fmt.Sprintf("gpu%d memory (MiB)", g.Index)}
			}
			gpuUtil[g.Index].add(x, float64(g.UtilPercent))
			gpuMem[g.Index].add(x, float64(g.MemUsedBytes)/(1<<20))
		}
	}
	sort.Ints(gpuIdx)
	var ps []*plot.Plot
	const xl = "seconds since start"
	p, err := fromZero(panel("CPU utilisation", xl, "percent", cpu, proc))
	if ps, err = appendPanel(ps, p, err); err != nil {
		return nil, err
	}
	p, err = fromZero(panel("resident memory", xl, "MiB", rss))
	if ps, err = appendPanel(ps, p, err); err != nil {
		return nil, err
	}
	if len(gpuIdx) > 0 {
		var us, ms []*series
		for _, i := range gpuIdx {
			us, ms = append(us, gpuUtil[i]), append(ms, gpuMem[i])
		}
		p, err = fromZero(panel("GPU utilisation", xl, "percent", us...))
		if ps, err = appendPanel(ps, p, err); err != nil {
			return nil, err
		}
		p, err = fromZero(panel("GPU memory used", xl, "MiB", ms...))
		if ps, err = appendPanel(ps, p, err); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// savePanels draws the panels one above the other into a PNG at path,
// atomically (a temporary file renamed).
func savePanels(path string, ps []*plot.Plot) error {
	const width, panelHeight = 900, 280
	img := vgimg.New(vg.Points(width), vg.Points(float64(panelHeight*len(ps))))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	grid := make([][]*plot.Plot, len(ps))
	for i, p := range ps {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[i][0])
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*.png")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

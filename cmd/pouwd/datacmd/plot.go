package datacmd

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/pouw/pouwd/ml/cv"
)

// meanStd is plotter data for the error bars.
type meanStd struct{ c []cv.ConfigResult }

func (m meanStd) Len() int                    { return len(m.c) }
func (m meanStd) XY(i int) (float64, float64) { return float64(i), m.c[i].Mean }
func (m meanStd) YError(i int) (float64, float64) {
	return m.c[i].Std, m.c[i].Std
}

// confusionGrid is a row-normalised confusion matrix for the heat map
// (row r = true class, drawn top to bottom).
type confusionGrid struct{ c cv.Confusion }

func (g confusionGrid) Dims() (int, int) { return g.c.K, g.c.K }
func (g confusionGrid) X(c int) float64  { return float64(c) }
func (g confusionGrid) Y(r int) float64  { return float64(r) }
func (g confusionGrid) Z(c, r int) float64 {
	k := g.c.K
	t := k - 1 - r
	var n int64
	for p := 0; p < k; p++ {
		n += g.c.M[t*k+p]
	}
	if n == 0 {
		return 0
	}
	return float64(g.c.M[t*k+c]) / float64(n)
}

// writePlot draws mean ± std of every configuration (in configuration
// order) and the best configuration's confusion matrix side by side.
func writePlot(path string, rep *cv.Report, classNames []string) error {
	p1 := plot.New()
	p1.Title.Text = fmt.Sprintf("CV %s (mean ± std, %s)", rep.Metric, foldDesc(rep.Folds))
	p1.Y.Label.Text = string(rep.Metric)
	vals := make(plotter.Values, len(rep.Configs))
	names := make([]string, len(rep.Configs))
	for i, c := range rep.Configs {
		vals[i] = c.Mean
		names[i] = fmt.Sprintf("#%d %s", c.Rank, c.Name)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(36))
	if err != nil {
		return err
	}
	bars.Color = color.RGBA{R: 70, G: 130, B: 180, A: 255}
	eb, err := plotter.NewYErrorBars(meanStd{rep.Configs})
	if err != nil {
		return err
	}
	p1.Add(bars, eb)
	p1.NominalX(names...)
	p1.X.Tick.Label.Rotation = 0.6
	p1.X.Tick.Label.XAlign = draw.XRight
	p1.X.Tick.Label.Font.Size = vg.Points(8)

	best := rep.Configs[rep.Best]
	p2 := plot.New()
	p2.Title.Text = "confusion (row-normalised): " + best.Name
	p2.X.Label.Text = "predicted"
	p2.Y.Label.Text = "true"
	hm := plotter.NewHeatMap(confusionGrid{best.Confusion}, palette.Heat(64, 1))
	hm.Min, hm.Max = 0, 1
	p2.Add(hm)
	k := best.Confusion.K
	if len(classNames) == k && k <= 20 {
		xs := make([]string, k)
		ys := make([]string, k)
		for i := 0; i < k; i++ {
			xs[i] = classNames[i]
			ys[k-1-i] = classNames[i]
		}
		p2.NominalX(xs...)
		p2.NominalY(ys...)
		p2.X.Tick.Label.Rotation = 0.6
		p2.X.Tick.Label.XAlign = draw.XRight
	}

	img := vgimg.New(vg.Points(1100), vg.Points(480))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{p1, p2}}, tiles, dc)
	p1.Draw(canvases[0][0])
	p2.Draw(canvases[0][1])

	tmp, err := os.CreateTemp(filepath.Dir(path), ".cvplot-*.png")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

package report

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pouw/pouwd/monitor"
)

// checkPNGs decodes every file as a PNG of nonzero size.
func checkPNGs(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", p, err)
		}
		if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
			t.Fatalf("%s: empty image %v", p, b)
		}
		if st, _ := os.Stat(p); st.Size() == 0 {
			t.Fatalf("%s: empty file", p)
		}
	}
}

// TestWritePlots: the real run's report gives the three plots.
func TestWritePlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots")
	paths, err := WritePlots(sample(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, PlotLearning), filepath.Join(dir, PlotThroughput), filepath.Join(dir, PlotResources)}
	if len(paths) != 3 || paths[0] != want[0] || paths[1] != want[1] || paths[2] != want[2] {
		t.Fatalf("wrote %v, expected %v", paths, want)
	}
	checkPNGs(t, paths)
	if dir := os.Getenv("POUWD_REPORT_PLOTS"); dir != "" { // to look at them
		if _, err := WritePlots(sample(t), dir); err != nil {
			t.Fatal(err)
		}
		if err := sample(t).Write(filepath.Join(dir, "report.json")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWritePlotsGPUAndEmpty: GPU readings add their panels; a report with
// no data writes nothing.
func TestWritePlotsGPUAndEmpty(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	r := &Report{SchemaVersion: SchemaVersion, Kind: KindMinerJob, StartedAt: start}
	for i := 0; i < 20; i++ {
		r.Resources.History.Add(monitor.Resources{Time: start.Add(time.Duration(i) * 5 * time.Second), CPUTotalPercent: 30, ProcessRSSBytes: 1 << 30,
			GPUs: []monitor.GPUStats{{Index: 0, Name: "H100", UtilPercent: uint32(40 + i), MemUsedBytes: 10 << 30, MemTotalBytes: 80 << 30},
				{Index: 1, Name: "H100", UtilPercent: 90, MemUsedBytes: 20 << 30, MemTotalBytes: 80 << 30}}})
	}
	dir := t.TempDir()
	paths, err := WritePlots(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || filepath.Base(paths[0]) != PlotResources {
		t.Fatalf("wrote %v, expected only %s", paths, PlotResources)
	}
	checkPNGs(t, paths)
	paths, err = WritePlots(&Report{SchemaVersion: SchemaVersion, Kind: KindTrain}, t.TempDir())
	if err != nil || len(paths) != 0 {
		t.Fatalf("an empty report: wrote %v (%v), expected nothing", paths, err)
	}
}

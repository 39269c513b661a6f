package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pouw/pouwd/monitor"
)

// Fuzz targets of the run report reader: `pouwd ml report FILE` reads
// reports written elsewhere (a miner's job reports, a shared run).
// Committed seeds: testdata/fuzz/<target>/; regenerate them with
// POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteReportFuzzSeeds ./monitor/report

// FuzzDecode: whatever the bytes, Decode never panics and refuses with an
// error naming the report ("report NAME: ..."); a report it accepts
// re-encodes stably (encode, decode, encode gives the same bytes and
// decodes again), prints, and gets advice without a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range reportFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "report fuzz.json: ") {
				t.Fatalf("error %q does not name the report", err)
			}
			return
		}
		var b1, b2 bytes.Buffer
		if err := r.Encode(&b1); err != nil {
			t.Fatalf("an accepted report does not encode: %v", err)
		}
		r2, err := Decode(b1.Bytes(), "re-encoded")
		if err != nil {
			t.Fatalf("re-encoded report refused: %v\n%s", err, b1.Bytes())
		}
		if err := r2.Encode(&b2); err != nil || !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("re-encoding not stable (%v):\n%s\n%s", err, b1.Bytes(), b2.Bytes())
		}
		if err := Print(io.Discard, r); err != nil {
			t.Fatalf("print: %v", err)
		}
		for _, est := range []Estimator{fakeEstimator{fixed: 1 << 20, perSample: 4096}, fakeEstimator{noResidual: true}} {
			for _, fd := range Advise(r, est) {
				if fd.Rule == "" {
					t.Fatalf("a finding without a rule: %+v", fd)
				}
			}
		}
	})
}

// FuzzWritePlots: any report Decode accepts is drawn (`pouwd ml report
// --plot`) without a panic or a hang, into PNG files or an error naming
// the plot. Slow per input (it renders PNGs): CI gives it a few seconds.
func FuzzWritePlots(f *testing.F) {
	for _, s := range reportFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b, "fuzz.json")
		if err != nil || len(r.Epochs)+len(r.Steps.Series.Entries())+len(r.Resources.History.Entries()) > 400 {
			return
		}
		done := make(chan error, 1)
		dir := t.TempDir()
		go func() {
			_, err := WritePlots(r, dir)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !strings.HasPrefix(err.Error(), "plot") {
				t.Fatalf("error %q does not name the plot", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("plots of a %d-byte report not drawn in 20 s", len(b))
		}
	})
}

// reportFuzzSeeds: a report with every section filled (the advice tests'
// base run, epochs, steps and readings), a minimal one, and near misses.
func reportFuzzSeeds(tb testing.TB) [][]byte {
	r := baseReport()
	start := time.Unix(1_800_000_000, 0).UTC()
	r.StartedAt, r.FinishedAt, r.DurationSeconds = start, start.Add(90*time.Second), 90
	acc := 0.9
	r.Epochs = []Epoch{{Epoch: 1, Steps: 10, EndStep: 10, Loss: 0.5, Accuracy: &acc, HeldOut: map[string]Float{"loss": 0.6}, Seconds: 40, SamplesPerSecond: 16},
		{Epoch: 2, Steps: 5, EndStep: 15, Loss: Float(math.NaN()), Seconds: 20, SamplesPerSecond: 16, Partial: true}}
	r.Steps.Series = *NewHistory[StepPoint](4)
	for i := uint64(0); i < 6; i++ {
		r.Steps.Series.Add(StepPoint{Step: i, T: float64(i), Seconds: 0.5, Loss: Float(1 / float64(i+1)), Samples: 64})
	}
	r.Resources.History = *NewHistory[monitor.Resources](4)
	for i := 0; i < 3; i++ {
		r.Resources.History.Add(monitor.Resources{Time: start.Add(time.Duration(i) * time.Second), CPUTotalPercent: 50, ProcessRSSBytes: 1 << 30,
			GPUs: []monitor.GPUStats{{Index: 0, Name: "H100", UtilPercent: 40, MemUsedBytes: 10 << 30, MemTotalBytes: 80 << 30}}})
	}
	var full bytes.Buffer
	if err := r.Encode(&full); err != nil {
		tb.Fatal(err)
	}
	minimal := fmt.Sprintf(`{"schema_version": %d, "kind": "cv"}`, SchemaVersion)
	huge := strings.Replace(full.String(), `"epoch": 1,`, `"epoch": 100000000000000000,`, 1)
	return [][]byte{full.Bytes(), []byte(minimal), []byte(huge), full.Bytes()[:full.Len()/2],
		[]byte(`{"schema_version": 2, "kind": "train"}`), []byte(`[1, 2]`),
		[]byte(fmt.Sprintf(`{"schema_version": %d, "kind": "train", "steps": {"series": {"cap": 1, "stride": 3, "offered": 0, "entries": []}}}`, SchemaVersion))}
}

func TestWriteReportFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for _, name := range []string{"FuzzDecode", "FuzzWritePlots"} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range reportFuzzSeeds(t) {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPlotsOfHugeEpochNumbers: epoch numbers where float64 steps of 1 no
// longer move (1e17) used to make the integer tick marker loop forever,
// appending ticks until memory ran out (found by FuzzWritePlots).
func TestPlotsOfHugeEpochNumbers(t *testing.T) {
	for _, lo := range []float64{1e17, -1e17, 9.2e18} {
		done := make(chan int, 1)
		go func() { done <- len(integerTicks{}.Ticks(lo, lo+5)) }()
		select {
		case n := <-done:
			if n > 12 {
				t.Fatalf("%d ticks on [%g, %g]", n, lo, lo+5)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ticks on [%g, %g] do not end", lo, lo+5)
		}
	}
	r := &Report{SchemaVersion: SchemaVersion, Kind: KindTrain, Epochs: []Epoch{{Epoch: 1e17, Loss: 1}, {Epoch: 1e17 + 3, Loss: 0.5}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	r, err = Decode(b, "huge-epochs.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WritePlots(r, t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

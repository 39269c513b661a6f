package datacmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/nvml"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/cv"
	"github.com/pouw/pouwd/ml/cv/engine"
	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/monitor/report"
)

// cvReports is `ml cv --report-dir DIR`: one run report per engine job
// (job-NNN.json, numbered in the order jobs start), each with the job's
// configuration (labels "config" and "job"), the dataset's canonical
// hash, its steps, epochs and resource readings. Jobs share one resource
// reader and one environment. Held-out fold metrics are in the CV table,
// not in the job reports: the runner measures them after Fit returns.
type cvReports struct {
	ctx     context.Context
	dir     string
	dataset report.Dataset
	env     report.Environment
	reader  *monitor.Reader
	stderr  io.Writer
	n       atomic.Int64

	mu   sync.Mutex
	errs []error
}

func newCVReports(ctx context.Context, dir string, ds report.Dataset, stderr io.Writer) (*cvReports, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--report-dir: %w", err)
	}
	return &cvReports{ctx: ctx, dir: dir, dataset: ds, stderr: stderr,
		env:    report.DetectEnvironment("", accel.Detect(ctx, nvml.Prober{}).GPUs, false),
		reader: monitor.NewReader(monitor.Options{DiskPaths: []string{dir}})}, nil
}

// observe is engine.Trainer.Observe.
func (r *cvReports) observe(c cv.Config, tr *ml.Trainer) engine.JobObserver {
	n := r.n.Add(1)
	cfg := report.ConfigFromTrainer(tr, 1)
	cfg.Labels = map[string]string{"config": c.String(), "job": fmt.Sprint(n)}
	ds := r.dataset
	ds.Samples = tr.StepsPerEpoch() * tr.Cfg.BatchSize
	rec := report.Start(r.ctx, report.Options{Kind: report.KindCV, ID: fmt.Sprintf("job-%03d", n), Config: cfg, Dataset: ds,
		Environment: r.env, Sample: r.reader.Read, Estimator: report.ModelEstimator(tr.Model, cfg)})
	return &cvJobReport{r: r, rec: rec, tr: tr, path: filepath.Join(r.dir, fmt.Sprintf("job-%03d.json", n))}
}

// close writes nothing more; it reports the first error of any job's
// report.
func (r *cvReports) close() error {
	r.reader.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		return r.errs[0]
	}
	fmt.Fprintf(r.stderr, "cv: %d job report(s) in %s (pouwd ml report FILE)\n", r.n.Load(), r.dir)
	return nil
}

type cvJobReport struct {
	r     *cvReports
	rec   *report.Recorder
	tr    *ml.Trainer
	path  string
	epoch int
}

func (j *cvJobReport) Step(d time.Duration, loss float32) {
	j.rec.Step(d, loss, j.tr.Cfg.BatchSize)
	if e := j.tr.Epoch(); e != j.epoch {
		j.epoch = e
		j.rec.EndEpoch(report.Epoch{})
	}
}

func (j *cvJobReport) Done(err error) {
	rep := j.rec.Finish()
	if err != nil {
		rep.Config.Labels["error"] = err.Error()
	}
	if werr := rep.Write(j.path); werr != nil {
		j.r.mu.Lock()
		j.r.errs = append(j.r.errs, fmt.Errorf("--report-dir: %w", werr))
		j.r.mu.Unlock()
	}
}

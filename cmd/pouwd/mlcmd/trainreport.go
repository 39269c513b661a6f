package mlcmd

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/nvml"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/monitor/report"
)

// runReport is `ml train --report FILE`: a report.Recorder fed by the
// training loop (every step's time and loss, the epochs, the held-out
// metrics at the end, the profile with --profile) and by a resource
// reader sampling this process and machine in the background. A nil
// *runReport does nothing, so the loop calls it unconditionally.
type runReport struct {
	path   string
	reader *monitor.Reader
	rec    *report.Recorder
	tr     *ml.Trainer
	epoch  int
}

// startRunReport starts recording when path is set. need is the memory
// estimator's predicted peak of one step.
func startRunReport(ctx context.Context, path string, f trainFlags, tr *ml.Trainer, devices int, train ml.Dataset, testN int, need uint64) *runReport {
	if path == "" {
		return nil
	}
	disk := []string{filepath.Dir(path)}
	if f.ckptDir != "" {
		disk = append(disk, f.ckptDir)
	}
	rd := monitor.NewReader(monitor.Options{DiskPaths: disk})
	cfg := report.ConfigFromTrainer(tr, devices)
	ds := report.DatasetFrom(f.dataset, report.Fingerprint(train), report.HashSamples, train, testN)
	if f.dataset != "mnist" {
		if m, err := data.ReadMeta(f.dataset); err == nil {
			ds.Hash, ds.HashOf = m.SHA256, report.HashCanonical
		}
	}
	rec := report.Start(ctx, report.Options{Kind: report.KindTrain, Config: cfg, Dataset: ds,
		Environment: report.DetectEnvironment("", accel.Detect(ctx, nvml.Prober{}).GPUs, false),
		Sample:      rd.Read, Memory: report.Memory{PredictedPeakBytes: need},
		Estimator: report.ModelEstimator(tr.Model, cfg), StartStep: tr.StepIndex(), StartEpoch: tr.Epoch()})
	return &runReport{path: path, reader: rd, rec: rec, tr: tr, epoch: tr.Epoch()}
}

// step records one training step of duration d.
func (r *runReport) step(d time.Duration, loss float32) {
	if r == nil {
		return
	}
	r.rec.Step(d, loss, r.tr.Cfg.BatchSize)
	if e := r.tr.Epoch(); e != r.epoch {
		r.epoch = e
		r.rec.EndEpoch(report.Epoch{})
	}
}

// finish records the held-out evaluation and the profile (nil without
// --profile), writes the report and returns its advice count.
func (r *runReport) finish(ev ml.EvalResult, prof *ml.Profiler) (int, error) {
	if r == nil {
		return 0, nil
	}
	defer r.reader.Close()
	spe := uint64(r.tr.StepsPerEpoch())
	r.rec.EndEpoch(report.Epoch{HeldOut: map[string]report.Float{"accuracy": report.Float(ev.Accuracy), "loss": report.Float(ev.Loss)},
		Partial: spe > 0 && r.tr.StepIndex()%spe != 0})
	if prof != nil {
		r.rec.SetProfile(prof.Report().Ops)
	}
	rep := r.rec.Finish()
	if err := rep.Write(r.path); err != nil {
		return 0, fmt.Errorf("--report %s: %w", r.path, err)
	}
	return len(rep.Advice), nil
}

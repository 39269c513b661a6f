package miner

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/monitor/report"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// A miner writes a run report per job (monitor/report, kind miner-job)
// when Config.ReportDir is set: the job's configuration (labels task and
// job), the chain's dataset hash, every step's time and loss, the epochs,
// the held-out metrics it claims, resource readings of this process and
// machine, the environment and the advice the rules give. The file is
// <ReportDir>/task-T-job-J.json, written when the job ends (also when it
// fails: labels "error"); the oldest are removed beyond ReportKeep.

// jobReport is one job's recording; nil when reports are off.
type jobReport struct {
	rec    *report.Recorder
	reader *monitor.Reader
	path   string
	epoch  int
}

// startReport begins the job's report once the trainer exists.
func (j *job) startReport(ctx context.Context, ds *types.Dataset) {
	dir := j.m.cfg.ReportDir
	if dir == "" || j.tr == nil {
		return
	}
	rd := monitor.NewReader(monitor.Options{DiskPaths: []string{dir}})
	cfg := report.ConfigFromTrainer(j.tr, 1)
	cfg.Labels = map[string]string{"task": fmt.Sprint(j.key.task), "job": fmt.Sprint(j.key.index)}
	rds := report.DatasetFrom(ds.Name, hex.EncodeToString(ds.Sha256), report.HashCanonical, j.spec.Train, j.spec.HeldOut.N)
	rec := report.Start(ctx, report.Options{Kind: report.KindMinerJob, ID: fmt.Sprintf("task-%d-job-%d", j.key.task, j.key.index),
		Config: cfg, Dataset: rds, Environment: report.DetectEnvironment("", nil, false), Sample: rd.Read,
		Estimator: report.ModelEstimator(j.tr.Model, cfg), StartStep: j.tr.StepIndex(), StartEpoch: j.tr.Epoch()})
	j.report = &jobReport{rec: rec, reader: rd, path: filepath.Join(dir, fmt.Sprintf("task-%d-job-%d.json", j.key.task, j.key.index)), epoch: j.tr.Epoch()}
}

// reportStep records one training step.
func (j *job) reportStep(d time.Duration, loss float32, samples uint64) {
	r := j.report
	if r == nil {
		return
	}
	r.rec.Step(d, loss, int(samples))
	if e := j.tr.Epoch(); e != r.epoch {
		r.epoch = e
		r.rec.EndEpoch(report.Epoch{})
	}
}

// reportHeldOut records the held-out metrics the result claims.
func (j *job) reportHeldOut(m types.FoldMetrics) {
	if j.report == nil {
		return
	}
	ppm := func(v uint32) report.Float { return report.Float(float64(v) / 1e6) }
	j.report.rec.EndEpoch(report.Epoch{HeldOut: map[string]report.Float{"accuracy": ppm(m.AccuracyPpm), "f1_macro": ppm(m.F1MacroPpm),
		"precision_macro": ppm(m.PrecisionMacroPpm), "recall_macro": ppm(m.RecallMacroPpm)}})
}

// finishReport writes the report (err, when not nil, is kept as the
// "error" label) and prunes old ones.
func (j *job) finishReport(err error) {
	r := j.report
	if r == nil {
		return
	}
	j.report = nil
	defer r.reader.Close()
	rep := r.rec.Finish()
	if err != nil {
		rep.Config.Labels["error"] = err.Error()
	}
	if werr := rep.Write(r.path); werr != nil {
		j.log.Warn("job report not written", "path", r.path, "err", werr)
		return
	}
	j.log.Info("job report", "path", r.path, "advice", len(rep.Advice))
	pruneReports(filepath.Dir(r.path), j.m.cfg.ReportKeep)
}

// pruneReports keeps the newest keep job reports of dir (keep <= 0: all).
func pruneReports(dir string, keep int) {
	if keep <= 0 {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), "task-") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		if info, err := e.Info(); err == nil {
			files = append(files, file{e.Name(), info.ModTime()})
		}
	}
	if len(files) <= keep {
		return
	}
	slices.SortFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files[:len(files)-keep] {
		_ = os.Remove(filepath.Join(dir, f.name))
	}
}

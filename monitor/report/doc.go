// Package report records a training run (pouwd ml train, one job of
// pouwd ml cv, a miner's job) into a run report: what ran, on what data
// and machine, how it learned, how fast its steps were, what resources it
// used, where its time went, how much memory it needed against the
// estimator's prediction, and advice backed by the numbers that triggered
// it. `pouwd ml report FILE` prints one, plots it (WritePlots) and
// re-emits it as JSON.
//
// A run uses a Recorder: Start(ctx, Options{Kind, Config, Dataset,
// Environment, Sample, Memory, Estimator, ...}); Step(duration, loss,
// samples) after every training step; EndEpoch(Epoch{Accuracy, HeldOut})
// at every epoch's end; SetProfile(rows) when a profile exists; Finish()
// returns the Report with its advice, and Report.Write(path) saves it.
// ConfigFromTrainer / ConfigFrom and DatasetFrom build the Config and
// Dataset sections from the engine's types; DetectEnvironment the
// Environment; ModelEstimator gives the advice rules the run's model.
// Read(path) reads a report back and validates it.
//
// # The report (JSON, schema_version 1)
//
// Durations are seconds (float), sizes bytes, percentages 0-100 unless a
// field says "share" (0-1), times RFC 3339. A loss or held-out metric is a
// number, or the string "NaN", "+Inf" or "-Inf" when the run diverged
// (type Float).
//
//	schema_version    1. A reader refuses any other value: renaming,
//	                  removing or changing the meaning of a field bumps it;
//	                  adding an optional field does not.
//	kind              "train", "cv" or "miner-job".
//	id                the run's name (a miner's job id, a CV job); optional.
//	started_at, finished_at, duration_seconds
//	                  when the recording began and ended, and the span.
//	config            the training configuration:
//	  model             the model spec (ml.ParseSpec's grammar);
//	  params            trainable parameters;
//	  flops_per_sample  one sample's forward pass (ml.Model.FLOPs; a step
//	                    costs about 3x per sample); optional;
//	  batch, micro_batch  batch size, micro-batch size (omitted: whole
//	                    batches);
//	  epochs, steps     epochs asked for, total steps planned;
//	  optimizer, lr, momentum, weight_decay
//	                    sgd, adam or adamw and its hyperparameters (zero
//	                    ones omitted);
//	  precision         fp32, bf16 or fp16;
//	  threads, devices, backend
//	                    CPU threads per device, devices running
//	                    micro-batches, the backend's name (cpu/avx512,
//	                    cuda/auto (NVIDIA H100), ...);
//	  recompute         recomputation segment in residual blocks (omitted:
//	                    off);
//	  seed              the training seed;
//	  labels            string pairs only one kind of run has: a CV job's
//	                    "config" and "fold", a miner job's "job" and "task".
//	dataset           name; hash (hex SHA-256) and hash_of ("canonical": the
//	                  prepared dataset's canonical file, the chain's hash;
//	                  "samples": Fingerprint of the loaded samples);
//	                  samples (training), test_samples (held out), shape
//	                  (per sample), classes.
//	epochs            one object per epoch: epoch (from 1; a resumed run
//	                  continues its numbering), steps (recorded in it),
//	                  end_step (the global step count at its end), loss
//	                  (mean training loss of its steps), accuracy (training
//	                  accuracy, when measured), held_out (metric name to
//	                  value, measured at its end: "accuracy", "loss",
//	                  "f1_macro", ...), seconds (wall time since the
//	                  previous epoch's end), samples_per_second, partial
//	                  (true for an epoch the run stopped inside).
//	steps             step-time statistics over every recorded step: count,
//	                  samples, total_seconds, mean_seconds, min_seconds,
//	                  p50_seconds, p90_seconds, p99_seconds, max_seconds
//	                  (percentiles from a histogram of 1%-wide logarithmic
//	                  buckets: within 1% of the exact value, in constant
//	                  memory), samples_per_second (samples over the time in
//	                  steps); series: a bounded history (below) of steps,
//	                  each {step (global index), t (seconds from the start
//	                  to its end), seconds (its duration), loss, samples
//	                  (trained since the recording began, it included)}.
//	resources         interval_seconds (0: not sampled); summary, over
//	                  every reading: readings, errors and last_error
//	                  (failed readings), mean_cpu_percent and
//	                  peak_cpu_percent (the machine, 100 = every core
//	                  busy), mean_process_cpu_percent (this process, 100 =
//	                  one core busy), cores, peak_rss_bytes,
//	                  mean_rss_bytes, mem_total_bytes,
//	                  min_mem_available_bytes, peak_swap_used_bytes,
//	                  peak_process_threads, gpus (per GPU: index, name,
//	                  readings, mean_util_percent, peak_util_percent,
//	                  mean_mem_util_percent, peak_mem_used_bytes,
//	                  mem_total_bytes, mean_power_watts,
//	                  peak_temperature_c, throttled_readings, ecc_errors);
//	                  history: a bounded history of monitor.Resources
//	                  readings (their JSON as package monitor defines it).
//	profile           rows {op, calls, seconds, bytes, flops, share (of the
//	                  profiled time, 0-1), gflops}; omitted without a
//	                  profile.
//	environment       go_version, os, arch, cpu_model, cpu_cores (logical),
//	                  cpu_features, memory_total_bytes, gpus ({index, name,
//	                  memory_total_bytes, driver}), pouwd_version,
//	                  hostname (only when asked for).
//	memory            predicted_peak_bytes (ml.EstimateTraining's live peak
//	                  of a step), measured_peak_rss_bytes and
//	                  measured_peak_heap_bytes (the largest process RSS and
//	                  Go heap among the readings: sampled, so a peak
//	                  between readings is missed), available_bytes (the
//	                  machine's available memory at the start plus the
//	                  process's RSS then, or what the caller set).
//	advice            findings {rule, severity ("info" or "warning"),
//	                  message, suggestion (the flags to try; optional),
//	                  evidence: [{name, value, unit, op, threshold}]}: op
//	                  and threshold are set on the numbers that triggered
//	                  the rule (value op threshold held), absent on
//	                  context numbers. An empty list: nothing to advise.
//
// A bounded history is {cap, stride, offered, entries}. It keeps the
// offered values whose number (0, 1, 2, ... in order) is a multiple of
// stride, at most cap of them (default 1000). When a value is to be kept
// into a full history, every second entry is dropped (the 1st, 3rd, ...
// stay) and the stride doubles; the value is kept if its number is a
// multiple of the new stride. A long run's history thus covers the whole
// run with evenly spaced entries, between cap/2 and cap of them, the last
// less than one stride from the end.
//
// # Advice
//
// Each rule (Rules) is a small function of the report and the memory
// estimator; the thresholds are DefaultThresholds:
//
//	threads-over-cores  threads x devices above the logical cores.
//	small-batch         a CPU run with several threads: fewer than 8
//	                    samples per thread per step while a thread's share
//	                    of the step is under 1e8 FLOP (3 x forward FLOPs),
//	                    or a mean machine CPU use under half of what the
//	                    threads could use.
//	data-loading        the profile's data-loading ops (DataOps) above 10%
//	                    of the profiled time.
//	recompute           the peak (measured RSS, else predicted) at 90% or
//	                    more of the available memory: --recompute N with the
//	                    N of the lowest predicted peak and its saving, or
//	                    micro-batches for a model without residual blocks.
//	larger-batch        the largest batch (x2, x4, ...; leaving 16 steps
//	                    or more per epoch) whose predicted growth, counted
//	                    twice for the collector's headroom, on top of the
//	                    measured RSS stays within 80% of the available
//	                    memory, when it is at least twice the current one.
//	bf16                an fp32 GPU run whose GEMM ops (GEMMOps) take 50%
//	                    or more of the profiled time, or whose model has
//	                    10M parameters or more; with the activation bytes
//	                    of both precisions. Never a CPU run: the CPU engine
//	                    keeps half values in float32 slices, so bf16 costs
//	                    there and saves nothing.
//	gpu-underutilised   a GPU's mean utilisation under 50% (over 2 readings
//	                    or more): during a GPU run, or idle beside a CPU run.
//
// This package reads the engine (the memory estimator, model specs) and
// package monitor's reading type; it never imports the chain, libp2p or
// cgo packages, and the engine never imports it.
package report

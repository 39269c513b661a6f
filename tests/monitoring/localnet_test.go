package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the end-to-end test.
const (
	envRun   = "POUWD_MONITORING_E2E"   // 1: run it (make test-monitoring)
	envShift = "POUWD_MONITORING_SHIFT" // port shift of its localnet (default 5000)
)

// TestLocalnetMonitoring runs scripts/demo.sh (a whole task on a
// 4-validator localnet with its storage peers, miners and verifiers, each
// a process) with the localnet's Prometheus started, and, once the task is
// paid and before the demo stops everything, reads back through
// Prometheus's HTTP query API what every part exported: the chain module's
// series from the validators' CometBFT listeners, the miners' and
// verifiers' counters, CometBFT's height and the system series of every
// process.
func TestLocalnetMonitoring(t *testing.T) {
	if os.Getenv(envRun) != "1" {
		t.Skipf("the localnet monitoring test runs a whole task on a real localnet (a few minutes); "+
			"set %s=1 or run `make test-monitoring`", envRun)
	}
	prom := prometheusBinary()
	if prom == "" {
		t.Skip("Prometheus is not installed (/usr/bin/prometheus; Debian: apt-get install prometheus); skipped")
	}
	for _, tool := range []string{"bash", "jq", "curl", "setsid", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; scripts/localnet.sh needs it", tool)
		}
	}
	shift := 5000
	if s := os.Getenv(envShift); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s=%q: not a number", envShift, s)
		}
		shift = n
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	start := time.Now()

	pouwd := filepath.Join(tmp, "pouwd")
	build := exec.Command("go", "build", "-o", pouwd, "./cmd/pouwd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("pouwd cannot be built here, so there is no localnet to monitor: %v\n%s", err, out)
	}
	t.Logf("built pouwd in %s", time.Since(start).Round(time.Second))

	// The demo runs the task; its DEMO_ON_DONE hook, run with the localnet
	// still up, tells this test it may query (file "ready") and holds the
	// demo until the test is done (file "release", holding the test's
	// verdict) or the test process is gone.
	demoHome := filepath.Join(tmp, "demo")
	ready, release := filepath.Join(tmp, "ready"), filepath.Join(tmp, "release")
	hook := fmt.Sprintf(`touch %q; for ((i = 0; i < 1800; i++)); do [[ -e %q ]] && exit 0; kill -0 %d 2>/dev/null || exit 1; sleep 0.5; done; exit 1`,
		ready, release, os.Getpid())
	logPath := filepath.Join(tmp, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	demo := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"))
	demo.Dir = root
	demo.Stdout, demo.Stderr = logFile, logFile
	demo.Env = append(os.Environ(),
		"DEMO_HOME="+demoHome, "DEMO_KEEP=1", "DEMO_PORT_SHIFT="+strconv.Itoa(shift), "POUWD="+pouwd,
		"DEMO_ON_DONE="+hook, "LOCALNET_PROMETHEUS=1", "LOCALNET_PROMETHEUS_BIN="+prom, "LOCALNET_PROMETHEUS_INTERVAL=2s")
	// Its own process group, so a signal to the test's terminal does not
	// skip the demo's cleanup; the demo traps TERM and stops the localnet.
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := demo.Start(); err != nil {
		t.Fatalf("starting scripts/demo.sh: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	demoDone := false
	defer func() {
		if !demoDone {
			_ = demo.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Errorf("scripts/demo.sh did not stop within 60 s of SIGTERM; stop its localnet by hand: LOCALNET_HOME=%s scripts/localnet.sh stop",
					filepath.Join(demoHome, "localnet"))
			}
		}
		if t.Failed() {
			dumpLogs(t, logPath, filepath.Join(demoHome, "localnet"))
		}
	}()

	// Wait for the task to be paid (the demo fails on its own after
	// DEMO_TIMEOUT, 600 s by default).
	deadline := time.After(15 * time.Minute)
	for waiting := true; waiting; {
		select {
		case err := <-exited:
			demoDone = true
			t.Fatalf("scripts/demo.sh exited (%v) before its task was done", err)
		case <-deadline:
			t.Fatal("scripts/demo.sh's task not done after 15 minutes")
		case <-time.After(time.Second):
			if _, err := os.Stat(ready); err == nil {
				waiting = false
			}
		}
	}
	t.Logf("task completed on the localnet after %s; querying Prometheus", time.Since(start).Round(time.Second))

	api := fmt.Sprintf("http://127.0.0.1:%d", 9091+shift)
	checkMonitoring(t, api)

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		demoDone = true
		if err != nil {
			t.Errorf("scripts/demo.sh failed after the checks: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Error("scripts/demo.sh did not finish within 3 minutes of the checks")
	}
	t.Logf("whole run %s", time.Since(start).Round(time.Second))
}

// checkMonitoring runs every assertion, reporting each that fails and
// logging each that passes. Series appear one scrape (2 s) after the fact
// at worst, so each is retried for a while before it counts as failed.
func checkMonitoring(t *testing.T, api string) {
	const patience = 45 * time.Second
	value := func(what, query string, ok func(float64) bool, want string) {
		t.Helper()
		var last string
		if err := eventually(patience, func() error {
			v, err := scalar(api, query)
			if err != nil {
				last = err.Error()
				return err
			}
			last = strconv.FormatFloat(v, 'g', -1, 64)
			if !ok(v) {
				return fmt.Errorf("got %s", last)
			}
			return nil
		}); err != nil {
			t.Errorf("FAIL %s: %s = %s through Prometheus, want %s", what, query, last, want)
			return
		}
		t.Logf("ok   %s: %s = %s", what, query, last)
	}
	atLeast := func(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
	positive := func(v float64) bool { return v > 0 }

	value("the chain module reports a completed task", `max(pouw_chain_tasks{status="completed"})`, atLeast(1), ">= 1")
	value("the miners trained", `sum(pouw_miner_steps_total)`, positive, "> 0")
	value("the miners submitted a work proof", `sum(pouw_miner_proofs_submitted_total)`, atLeast(1), ">= 1")
	value("the verifiers checked a proof", `sum(pouw_verifier_proofs_checked_total)`, atLeast(1), ">= 1")
	value("the chain paid proof rewards", `max(pouw_chain_rewards_paid_upouw)`, positive, "> 0")
	value("CometBFT's height is scraped from every validator", `count(cometbft_consensus_height)`, atLeast(4), "4 series")
	value("CometBFT's height rises on every validator", `min(delta(cometbft_consensus_height[30s]))`, positive, "> 0")

	// Every process serves the system series: each target that answers has
	// pouw_system_memory_total_bytes, and every job has a target that does.
	var missing []string
	if err := eventually(patience, func() error {
		up, err := vector(api, `up`)
		if err != nil {
			return err
		}
		mem, err := vector(api, `pouw_system_memory_total_bytes`)
		if err != nil {
			return err
		}
		has := map[string]bool{}
		for _, s := range mem {
			has[s.Metric["job"]+"/"+s.Metric["instance"]] = true
		}
		jobs := map[string]bool{"validator": false, "miner": false, "verifier": false, "storage": false}
		missing = missing[:0]
		for _, s := range up {
			key := s.Metric["job"] + "/" + s.Metric["instance"]
			switch {
			case s.Value != 1:
				missing = append(missing, key+" (down)")
			case !has[key]:
				missing = append(missing, key+" (no pouw_system_memory_total_bytes)")
			default:
				jobs[s.Metric["job"]] = true
			}
		}
		for job, seen := range jobs {
			if !seen {
				missing = append(missing, job+" (no target with the series)")
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			return errors.New(strings.Join(missing, ", "))
		}
		return nil
	}); err != nil {
		t.Errorf("FAIL pouw_system_memory_total_bytes for every job: missing for %v", err)
	} else {
		t.Logf("ok   pouw_system_memory_total_bytes served by every target of every job")
	}
}

// eventually retries f every second until it succeeds or d has passed,
// returning its last error.
func eventually(d time.Duration, f func() error) error {
	end := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(time.Second)
	}
}

type sample struct {
	Metric map[string]string
	Value  float64
}

// vector runs an instant query and returns its samples.
func vector(api, query string) ([]sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying Prometheus at %s: %w", api, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("Prometheus answered %s with %q: %w", resp.Status, body, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("Prometheus refused %q: %s", query, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%q gave a %s, want a vector", query, r.Data.ResultType)
	}
	out := make([]sample, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: sample value %v: %w", query, s.Value[1], err)
		}
		out = append(out, sample{Metric: s.Metric, Value: v})
	}
	return out, nil
}

// scalar runs a query that must give exactly one sample.
func scalar(api, query string) (float64, error) {
	v, err := vector(api, query)
	if err != nil {
		return 0, err
	}
	switch len(v) {
	case 0:
		return 0, errors.New("no series (not exported, or not scraped yet)")
	case 1:
		return v[0].Value, nil
	default:
		return 0, fmt.Errorf("%d series, want one", len(v))
	}
}

func prometheusBinary() string {
	if fi, err := os.Stat("/usr/bin/prometheus"); err == nil && !fi.IsDir() {
		return "/usr/bin/prometheus"
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	return ""
}

// dumpLogs puts the end of the demo's output and of every process's log
// in the test output, so a CI failure can be read without the machine.
func dumpLogs(t *testing.T, demoLog, localnet string) {
	t.Helper()
	logs := []string{demoLog, filepath.Join(localnet, "prometheus", "log")}
	more, _ := filepath.Glob(filepath.Join(localnet, "node*", "pouwd.log"))
	logs = append(logs, more...)
	more, _ = filepath.Glob(filepath.Join(localnet, "workers", "*", "log"))
	logs = append(logs, more...)
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		t.Logf("--- last lines of %s:\n%s", p, strings.Join(lines, "\n"))
	}
}

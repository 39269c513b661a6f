package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository root (this file is tests/monitoring/...).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// --- the metrics catalogue ------------------------------------------------

// catalogue reads docs/MONITORING.md's tables: metric name -> type
// (gauge, counter, histogram). A row may name several metrics in its first
// cell.
func catalogue(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "MONITORING.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	tick := regexp.MustCompile("`([a-z_:][a-z0-9_:]*)`")
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.Contains(cells[1], "`pouw_") {
			continue
		}
		typ := strings.TrimSpace(cells[2])
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = typ
		}
	}
	if len(names) < 40 {
		t.Fatalf("found only %d metrics in docs/MONITORING.md's catalogue; has its table layout changed?", len(names))
	}
	return names
}

// cometNames lists CometBFT's series (namespace "cometbft", the default of
// instrumentation.namespace) from the metrics.gen.go files of the CometBFT
// module in use: name -> type.
func cometNames(t testing.TB) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cometbft/cometbft")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("locating the CometBFT module (go list -m): %v", err)
	}
	dir := strings.TrimSpace(string(out))
	files, err := filepath.Glob(filepath.Join(dir, "*", "metrics.gen.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no metrics.gen.go under %s (err %v)", dir, err)
	}
	metric := regexp.MustCompile(`(?s)New(Counter|Gauge|Histogram)From\(stdprometheus\.\w+Opts\{(.*?)\n\t\t\}`)
	field := func(body, key string) string {
		m := regexp.MustCompile(key + `:\s*("?[A-Za-z_]+"?)`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	names := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The subsystem constant lives in the package's metrics.go.
		sub := ""
		if mb, err := os.ReadFile(filepath.Join(filepath.Dir(f), "metrics.go")); err == nil {
			if m := regexp.MustCompile(`MetricsSubsystem\s*=\s*"([a-z_]+)"`).FindSubmatch(mb); m != nil {
				sub = string(m[1])
			}
		}
		for _, m := range metric.FindAllStringSubmatch(string(src), -1) {
			s, n := field(m[2], "Subsystem"), field(m[2], "Name")
			if s == "MetricsSubsystem" {
				s = sub
			}
			s, n = strings.Trim(s, `"`), strings.Trim(n, `"`)
			if s == "" || n == "" {
				continue
			}
			names["cometbft_"+s+"_"+n] = strings.ToLower(m[1])
		}
	}
	if _, ok := names["cometbft_consensus_height"]; !ok {
		t.Fatalf("cometbft_consensus_height not found in %s's metrics.gen.go files (found %d series)", dir, len(names))
	}
	return names
}

// known reports whether a series name exists: catalogued, CometBFT's, a
// histogram's _bucket/_sum/_count, or Prometheus's own `up`.
func known(name string, cat ...map[string]string) bool {
	if name == "up" {
		return true
	}
	for _, c := range cat {
		if _, ok := c[name]; ok {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && c[base] == "histogram" {
				return true
			}
		}
	}
	return false
}

// --- PromQL ---------------------------------------------------------------

var (
	grafanaVar = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	stringLit  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchers   = regexp.MustCompile(`\{[^}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\]]*\]`)
	labelLists = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	ident      = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	keywords   = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
)

// promqlInstant turns a dashboard expression into plain PromQL: Grafana's
// variables ($__rate_interval and the like) become a duration.
func promqlInstant(expr string) string { return grafanaVar.ReplaceAllString(expr, "1m") }

// metricNames returns the series names an expression reads: identifiers
// that are not functions, keywords, label names or numbers.
func metricNames(expr string) []string {
	s := promqlInstant(expr)
	s = stringLit.ReplaceAllString(s, `""`)
	s = matchers.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = labelLists.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if keywords[strings.ToLower(name)] {
			continue
		}
		if loc[0] > 0 && strings.ContainsRune("0123456789.", rune(s[loc[0]-1])) {
			continue // the exponent of 1e6, a duration's unit
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or aggregation
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`max by (status) (pouw_chain_tasks{status="completed"})`, []string{"pouw_chain_tasks"}},
		{`histogram_quantile(0.9, sum by (le, instance) (rate(pouw_miner_step_duration_seconds_bucket[$__rate_interval])))`,
			[]string{"pouw_miner_step_duration_seconds_bucket"}},
		{`max(pouw_chain_rewards_paid_upouw) / 1e6`, []string{"pouw_chain_rewards_paid_upouw"}},
		{`a / on (x) group_left (y) b offset 5m > bool 2`, []string{"a", "b"}},
		{`up == 0`, []string{"up"}},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

// --- the dashboard --------------------------------------------------------

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
}

// dashboardExprs reads the dashboard and returns "panel title" -> its
// PromQL expressions, rows' nested panels included.
func dashboardExprs(t testing.TB) map[string][]string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "scripts", "monitoring", "grafana-dashboard.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s does not parse as JSON: %v", path, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 || len(d.Panels) == 0 {
		t.Fatalf("%s: not a Grafana dashboard (title %q, uid %q, schemaVersion %d, %d panels)", path, d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.GridPos == nil {
				t.Errorf("panel %q has no gridPos", p.Title)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty expression", p.Title)
					continue
				}
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// alertExprs reads the alert rules' expressions (one line each).
func alertExprs(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "monitoring", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s*expr:\s*(.+)$`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	if len(out) == 0 {
		t.Fatal("no expr in scripts/monitoring/alerts.yml")
	}
	return out
}

// Every expression of the dashboard and the alert rules reads only series
// that exist: the catalogue's or CometBFT's.
func TestDashboardMetricsExist(t *testing.T) {
	cat, comet := catalogue(t), cometNames(t)
	exprs := dashboardExprs(t)
	exprs["alerts.yml"] = alertExprs(t)
	titles := make([]string, 0, len(exprs))
	for title := range exprs {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	used := map[string]bool{}
	for _, title := range titles {
		for _, e := range exprs[title] {
			names := metricNames(e)
			if len(names) == 0 {
				t.Errorf("%q: %q reads no series", title, e)
			}
			for _, n := range names {
				used[n] = true
				if !known(n, cat, comet) {
					t.Errorf("%q: %q reads %s, which is neither in docs/MONITORING.md's catalogue nor one of CometBFT's series", title, e, n)
				}
			}
		}
	}
	// What the dashboard is for: each of these must be on it.
	for _, n := range []string{
		"pouw_chain_tasks", "pouw_chain_jobs", "pouw_chain_proofs", "pouw_chain_workers", "pouw_chain_rewards_paid_upouw",
		"pouw_chain_reward_pool_upouw", "pouw_chain_difficulty",
		"cometbft_consensus_height", "cometbft_consensus_block_interval_seconds_sum",
		"pouw_miner_steps_per_second", "pouw_miner_samples_per_second", "pouw_miner_loss", "pouw_miner_step_duration_seconds_bucket",
		"pouw_miner_proofs_won_total", "pouw_miner_proofs_submitted_total", "pouw_miner_rewards_earned_upouw_total",
		"pouw_verifier_proofs_checked_total", "pouw_verifier_replay_duration_seconds_bucket",
		"pouw_storage_served_bytes_total", "pouw_storage_fetched_bytes_total",
		"pouw_system_cpu_usage_ratio", "pouw_system_memory_used_bytes", "pouw_system_disk_free_bytes",
		"pouw_gpu_utilization_ratio", "pouw_gpu_memory_used_bytes", "pouw_alert_active",
	} {
		if !used[n] {
			t.Errorf("the dashboard reads no %s", n)
		}
	}
}

// promtool finds promtool, or skips.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus); PromQL and configuration not checked by Prometheus itself")
	}
	return p
}

// Every dashboard expression is valid PromQL: promtool checks them as
// recording rules.
func TestDashboardPromQLParses(t *testing.T) {
	pt := promtool(t)
	exprs := dashboardExprs(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	titles := make([]string, 0, len(exprs))
	for title := range exprs {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	for _, title := range titles {
		for _, e := range exprs[title] {
			n++
			q, _ := json.Marshal(promqlInstant(e)) // a JSON string is a YAML string
			fmt.Fprintf(&b, "      - record: dashboard:expr_%d\n        expr: %s\n", n, q)
		}
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pt, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d expressions: %v\n%s", n, err, out)
	}
}

// localnetConfig runs scripts/localnet.sh prometheus-config.
func localnetConfig(t *testing.T, shift, rules string) []byte {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "localnet.sh"), "prometheus-config", rules)
	cmd.Env = append(os.Environ(), "LOCALNET_HOME="+filepath.Join(t.TempDir(), "localnet"), "LOCALNET_PORT_SHIFT="+shift)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, "LOCALNET_PROMETHEUS_INTERVAL=") })
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/localnet.sh prometheus-config: %v\n%s", err, stderr.String())
	}
	return out
}

// The committed prometheus.yml is what localnet.sh generates for the
// default ports, so the two cannot drift apart.
func TestPrometheusConfigCurrent(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "monitoring", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := localnetConfig(t, "0", "alerts.yml"); !bytes.Equal(got, committed) {
		t.Fatalf("scripts/monitoring/prometheus.yml is stale; regenerate it:\n"+
			"  scripts/localnet.sh prometheus-config alerts.yml > scripts/monitoring/prometheus.yml\n--- generated:\n%s", got)
	}
	for _, want := range []string{"127.0.0.1:26660", "127.0.0.1:26960", "instance: miner2", "instance: verifier3", "instance: storage5", "job_name: storage"} {
		if !bytes.Contains(committed, []byte(want)) {
			t.Errorf("scripts/monitoring/prometheus.yml has no %q", want)
		}
	}
}

// promtool accepts the committed configuration (with its alert rules) and
// one generated with shifted ports, as localnet.sh writes it.
func TestPrometheusConfigValid(t *testing.T) {
	pt := promtool(t)
	root := repoRoot(t)
	committed := filepath.Join(root, "scripts", "monitoring", "prometheus.yml")
	if out, err := exec.Command(pt, "check", "config", committed).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", committed, err, out)
	}
	shifted := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(shifted, localnetConfig(t, "5000", filepath.Join(root, "scripts", "monitoring", "alerts.yml")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pt, "check", "config", shifted).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config on a generated configuration (shift 5000): %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(shifted); !bytes.Contains(b, []byte("127.0.0.1:31660")) {
		t.Errorf("the shifted configuration does not scrape node0 at 31660:\n%s", b)
	}
}

package arch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/pouw/pouwd"

// A layer is a set of packages (patterns relative to the module: "ml" is
// that package alone, "ml/..." the package and everything below it) and
// the module packages its non-test files may import. The first layer whose
// patterns match a package is its layer; every module package must have
// one, so a new directory is placed in the stack before it lands.
type layer struct {
	name string
	pkgs []string
	// may lists what the layer's packages may import from the module,
	// besides each other (worker/workertest imports worker). Nil means
	// anything except what the global rules forbid.
	may []string
	// not is checked after may: patterns the layer must never import even
	// where may would allow them (nil: none).
	not []string
	// stdOnly: every dependency, direct or not, is in the standard library.
	stdOnly bool
	// noExt: external module path prefixes the layer must not depend on,
	// directly or not.
	noExt []string
}

// engine is what the training engine may import: itself and the devices.
var engine = []string{"ml/...", "accel/...", "pouw", "pouw/statehash"}

// The stack, bottom first. docs/ARCHITECTURE.md explains each layer; keep
// the two in step.
var layers = []layer{
	{name: "protocol rules", pkgs: []string{"pouw"}, may: []string{}, stdOnly: true},
	// The v2 state hash: BLAKE3 is its one dependency outside the standard
	// library; consensus code never hashes a state, so it stays out of pouw.
	{name: "state hash", pkgs: []string{"pouw/statehash"}, may: []string{"pouw"}},
	{name: "canonical arithmetic", pkgs: []string{"accel/canon"}, may: []string{}},
	// ml/rng (being created): the numpy-compatible generator that ml/data
	// and ml/cv share; a leaf like accel/canon.
	{name: "random numbers", pkgs: []string{"ml/rng"}, may: []string{}},
	{
		name: "devices", pkgs: []string{"accel/..."}, may: []string{"accel/...", "pouw", "pouw/statehash"},
		noExt: []string{"github.com/cosmos/", "cosmossdk.io/", "github.com/cometbft/", "github.com/libp2p/"},
	},
	{
		name: "fold rule and metrics", pkgs: []string{"ml/cv"}, may: engine,
		not: []string{"ml", "ml/data/...", "ml/mnist", "ml/cv/engine", "accel/cuda", "accel/nvml"},
	},
	{
		name: "datasets", pkgs: []string{"ml/data/..."}, may: engine,
		not: []string{"ml", "ml/cv/...", "ml/mnist", "accel/cuda", "accel/nvml"},
	},
	// Device training: the engine's steps resident on a CUDA device. It
	// sits above both ml and accel/cuda (whose tests import ml); ml
	// reaches it only through the ml.Resident interface, and commands
	// attach it.
	{
		name: "device training", pkgs: []string{"ml/devtrain"}, may: engine,
		not:   []string{"accel/nvml"},
		noExt: []string{"github.com/cosmos/", "cosmossdk.io/", "github.com/cometbft/", "github.com/libp2p/"},
	},
	{
		name: "engine", pkgs: []string{"ml/..."}, may: engine,
		// The engine builds with CGO_ENABLED=0: the cgo leaves are for cmd.
		not:   []string{"accel/cuda", "accel/nvml", "ml/devtrain"},
		noExt: []string{"github.com/cosmos/", "cosmossdk.io/", "github.com/cometbft/", "github.com/libp2p/"},
	},
	// Monitoring: system and GPU readings, metrics, health, run reports and
	// advice. It reads the engine (the memory estimator, profiles) and
	// NVML; the engine never imports it.
	{
		name: "monitoring", pkgs: []string{"monitor/..."}, may: append([]string{"monitor/..."}, engine...),
		not:   []string{"accel/cuda", "ml/devtrain"},
		noExt: []string{"github.com/cosmos/", "cosmossdk.io/", "github.com/cometbft/", "github.com/libp2p/"},
	},
	{name: "consensus", pkgs: []string{"x/pouwml/..."}, may: []string{"pouw", "x/pouwml/..."}},
	{name: "node wiring", pkgs: []string{"app"}, may: []string{"pouw", "x/pouwml/..."}},
	{
		name: "job semantics", pkgs: []string{"jobspec"},
		may: append([]string{"pouw", "x/pouwml/types"}, engine...),
		not: []string{"accel/cuda", "accel/nvml", "ml/devtrain"},
	},
	{name: "chain client", pkgs: []string{"chainclient"}, may: []string{"pouw", "x/pouwml/types"}},
	{name: "transport", pkgs: []string{"p2p"}, may: []string{"pouw", "x/pouwml/types"}},
	{name: "shared worker", pkgs: []string{"worker/..."}, may: workerMay()},
	{name: "miner", pkgs: []string{"miner/..."}, may: workerMay("worker/...")},
	{name: "verifier", pkgs: []string{"verifier/..."}, may: workerMay("worker/...")},
	{name: "commands", pkgs: []string{"cmd/..."}, not: []string{"tests/...", "scripts/..."}},
	{name: "tools", pkgs: []string{"scripts/..."}, not: []string{"cmd/...", "tests/..."}},
	{name: "tests", pkgs: []string{"tests/..."}},
}

// workerMay is what a worker process's library may import: everything
// below the workers (never another worker daemon, the node's wiring or
// the keeper).
func workerMay(extra ...string) []string {
	return append([]string{"pouw", "x/pouwml/types", "jobspec", "chainclient", "p2p", "ml/...", "accel/...", "monitor/..."}, extra...)
}

// Global rules, for every file, tests included: only commands and tests
// import cmd/..., only tests import tests/..., nothing imports scripts/...
var global = []struct {
	target, who []string
	why         string
}{
	{[]string{"cmd/..."}, []string{"cmd/...", "tests/..."}, "only commands and tests import cmd/..."},
	{[]string{"tests/..."}, []string{"tests/..."}, "only tests import tests/..."},
	{[]string{"scripts/..."}, []string{"scripts/..."}, "nothing outside scripts/ imports scripts/..."},
}

// fences are external packages only the named module packages may import
// (test files included): cu's init exits the process when cuInit fails,
// which only accel/cuda's link-time guard prevents; NVML is the cgo leaf.
var fences = []struct {
	ext  string
	only []string
}{
	{"gorgonia.org/cu", []string{"accel/cuda"}},
	{"github.com/NVIDIA/go-nvml", []string{"accel/nvml"}},
}

// allowed lists edges that may break the stack for a while, each
// "from -> to" (module-relative), while a move is under way. The test
// fails if one of them disappears or stops breaking a rule, so the list
// cannot go stale. It is empty: the stack holds everywhere.
var allowed = []string{}

// buildTags are the tag sets whose import graphs are checked: the default
// build and the two CUDA builds (their files import differently). A
// problem is reported once, whichever builds have it.
var buildTags = []string{"", "cuda", "cudaemu"}

type pkg struct {
	ImportPath   string
	Standard     bool
	Deps         []string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T, tags string) []pkg {
	t.Helper()
	args := []string{"list", "-e", "-deps=false", "-json=ImportPath,Standard,Deps,Imports,TestImports,XTestImports"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, module+"/...")
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// rel returns p relative to the module and whether p is in it.
func rel(p string) (string, bool) {
	if p == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(p, module+"/")
	return r, ok
}

func match(pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

func matchAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, p) })
}

func layerOf(p string) *layer {
	for i := range layers {
		if matchAny(layers[i].pkgs, p) {
			return &layers[i]
		}
	}
	return nil
}

// violation says why the edge from -> to (module-relative, to in the
// module) breaks a rule, or "" when it does not. test marks an import
// from a _test.go file, which only the global rules bind: a package's
// tests may drive the layers above it (a p2p test builds a real
// checkpoint, a verifier test runs a real miner).
func violation(from, to string, test bool) string {
	for _, g := range global {
		if matchAny(g.target, to) && !matchAny(g.who, from) {
			return g.why
		}
	}
	if test {
		return ""
	}
	l := layerOf(from)
	if l == nil {
		return ""
	}
	if l.may != nil && !matchAny(l.may, to) && !matchAny(l.pkgs, to) {
		return fmt.Sprintf("%s (%s) may import only %v", from, l.name, l.may)
	}
	if matchAny(l.not, to) {
		return fmt.Sprintf("%s (%s) must never import %v", from, l.name, l.not)
	}
	return ""
}

func TestImportGraph(t *testing.T) {
	exists := map[string]bool{} // "from -> to" seen in some build
	var problems []string
	report := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		if !slices.Contains(problems, s) {
			problems = append(problems, s)
		}
	}
	for _, tags := range buildTags {
		for _, p := range listPackages(t, tags) {
			from, ok := rel(p.ImportPath)
			if !ok {
				continue
			}
			l := layerOf(from)
			if l == nil {
				report("%s has no layer: add it to the stack in tests/arch/arch_test.go and docs/ARCHITECTURE.md", from)
				continue
			}
			check := func(imports []string, test bool) {
				for _, imp := range imports {
					to, ok := rel(imp)
					if !ok {
						for _, fc := range fences {
							if match(fc.ext+"/...", imp) && !matchAny(fc.only, from) {
								report("forbidden import %s -> %s: only %v import it", from, imp, fc.only)
							}
						}
						continue
					}
					edge := from + " -> " + to
					if !test {
						exists[edge] = true
					}
					why := violation(from, to, test)
					if why == "" || (!test && slices.Contains(allowed, edge)) {
						continue
					}
					where := ""
					if test {
						where = " (in a _test.go file)"
					}
					report("forbidden import %s%s: %s", edge, where, why)
				}
			}
			check(p.Imports, false)
			check(p.TestImports, true)
			check(p.XTestImports, true)
			for _, d := range p.Deps {
				if l.stdOnly && strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
					report("%s (%s) must depend on the standard library only, depends on %s", from, l.name, d)
				}
				for _, ext := range l.noExt {
					if strings.HasPrefix(d, ext) {
						report("%s (%s) must not depend on %s*, depends on %s", from, l.name, ext, d)
					}
				}
			}
		}
	}
	for _, edge := range allowed {
		from, to, _ := strings.Cut(edge, " -> ")
		switch {
		case !exists[edge]:
			report("allowed edge %q no longer exists: remove it from the allowed list", edge)
		case violation(from, to, false) == "":
			report("allowed edge %q breaks no rule: remove it from the allowed list", edge)
		}
	}
	sort.Strings(problems)
	for _, s := range problems {
		t.Error(s)
	}
}

// TestRules checks the rule engine itself on edges whose verdict is known,
// so a typo in a pattern cannot silently allow everything.
func TestRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		test     bool
		bad      bool
	}{
		{"x/pouwml/keeper", "pouw", false, false},
		{"x/pouwml/keeper", "ml", false, true},
		{"x/pouwml/types", "jobspec", false, true},
		{"x/pouwml/keeper", "ml", true, false},
		{"pouw", "x/pouwml/types", false, true},
		{"ml", "accel/cpu", false, false},
		{"ml", "p2p", false, true},
		{"ml", "accel/nvml", false, true},
		{"accel/cpu", "ml", false, true},
		{"ml/data", "ml/cv", false, true},
		{"ml/cv", "ml", false, true},
		{"ml/cv", "ml/rng", false, false},
		{"ml/data", "ml/rng", false, false},
		{"ml/rng", "ml/cv", false, true},
		{"ml/cv/engine", "ml/data", false, false},
		{"jobspec", "ml/cv", false, false},
		{"jobspec", "p2p", false, true},
		{"p2p", "ml", false, true},
		{"p2p", "x/pouwml/types", false, false},
		{"chainclient", "x/pouwml/keeper", false, true},
		{"worker", "miner", false, true},
		{"miner", "worker", false, false},
		{"miner", "verifier", false, true},
		{"verifier", "miner", false, true},
		{"verifier", "miner", true, false},
		{"miner", "app", false, true},
		{"app", "ml", false, true},
		{"ml", "cmd/pouwd/mlcmd", true, true},
		{"cmd/pouwd/cmd", "cmd/pouwd/mlcmd", false, false},
		{"tests/p2pe2e", "cmd/pouwd/p2pcmd", true, false},
		{"scripts/bench/loadgen", "cmd/pouwd/cmd", false, true},
		{"miner", "tests/integration", true, true},
		{"worker/workertest", "worker", false, false},
		{"miner/sub", "miner", false, false},
		{"miner/sub", "verifier", false, true},
	} {
		if got := violation(c.from, c.to, c.test) != ""; got != c.bad {
			t.Errorf("%s -> %s (test %v): forbidden = %v, want %v", c.from, c.to, c.test, got, c.bad)
		}
	}
}

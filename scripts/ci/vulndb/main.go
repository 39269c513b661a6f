// Command vulndb serves govulncheck in CI without vuln.go.dev
// (scripts/ci/govulncheck.sh):
//
//	vulndb build -src DIR -out DIR [-version VULNDB_VERSION]
//
// turns a directory of Go vulnerability reports in OSV JSON (the data/osv
// directory of the golang.org/x/vulndb module, which the Go module proxy
// serves) into a database in the layout govulncheck reads with
// -db file:///DIR (https://go.dev/security/vuln/database, API v1):
//
//	index/db.json       {"modified": T}, T the latest report time or the version's
//	index/modules.json  [{"path": MODULE, "vulns": [{"id", "modified", "fixed"}]}], by path then id
//	ID/<id>.json        each report, byte for byte
//
// where "fixed" is the latest fixed version of a SEMVER range unless a
// later version reintroduces the vulnerability (then empty): govulncheck
// skips a report for a module whose version is at or past it, and checks
// every other one against its full ranges.
//
//	vulndb check -allow FILE [-json FILE]
//
// reads govulncheck -format json output (stdin or -json) and fails when a
// vulnerability is reached from our code (a finding whose trace starts at
// a function) and FILE does not list its id. FILE has one id a line,
// then the reason; # starts a comment. Ids listed but no longer found are
// reported so the file does not go stale. Vulnerabilities in required
// modules or imported packages that nothing calls are listed, not failed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		fs := flag.NewFlagSet("build", flag.ExitOnError)
		src := fs.String("src", "", "directory of OSV reports (<id>.json)")
		out := fs.String("out", "", "database directory to write (replaced)")
		version := fs.String("version", "", "the golang.org/x/vulndb version the reports come from: a pseudo-version's time is the database's modified time when later than every report's")
		fs.Parse(os.Args[2:])
		if *src == "" || *out == "" {
			usage()
		}
		var n int
		n, err = build(*src, *out, pseudoTime(*version))
		if err == nil {
			fmt.Fprintf(os.Stderr, "vulndb: %d reports from %s into %s\n", n, *src, *out)
		}
	case "check":
		fs := flag.NewFlagSet("check", flag.ExitOnError)
		allow := fs.String("allow", "", "allow-list file: vulnerability ids (GO-YYYY-NNNN) with reasons")
		in := fs.String("json", "", "govulncheck -format json output (default stdin)")
		fs.Parse(os.Args[2:])
		r := io.Reader(os.Stdin)
		if *in != "" {
			f, ferr := os.Open(*in)
			if ferr != nil {
				fatal(ferr)
			}
			defer f.Close()
			r = f
		}
		err = check(r, *allow, os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fatal(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vulndb build -src DIR -out DIR | vulndb check -allow FILE [-json FILE]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "vulndb:", err)
	os.Exit(1)
}

// report is what the index needs of an OSV report.
type report struct {
	ID        string    `json:"id"`
	Modified  time.Time `json:"modified"`
	Published time.Time `json:"published"`
	Affected  []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type moduleEntry struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

// pseudoTime is the time of a pseudo-version (v0.0.0-20261105234957-e22db6528018),
// or zero.
func pseudoTime(v string) time.Time {
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return time.Time{}
	}
	ts := parts[len(parts)-2]
	if i := strings.LastIndex(ts, "."); i >= 0 { // vX.Y.Z-pre.0.TIME-HASH
		ts = ts[i+1:]
	}
	t, err := time.Parse("20060102150405", ts)
	if err != nil {
		return time.Time{}
	}
	return t
}

// build writes the database and returns the number of reports; the
// database's modified time is the latest of the reports' times and
// modified (the reports in golang.org/x/vulndb carry no modified times
// since 2023: its deployment sets them).
func build(src, out string, modified time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no OSV reports (*.json) in %s", src)
	}
	tmp := out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return 0, err
		}
	}
	modules := map[string]*moduleEntry{}
	latest := modified.UTC()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		if r.ID == "" || filepath.Base(f) != r.ID+".json" {
			return 0, fmt.Errorf("%s: report id %q does not name the file", f, r.ID)
		}
		for _, t := range []time.Time{r.Modified, r.Published} {
			if t.After(latest) {
				latest = t
			}
		}
		for _, a := range r.Affected {
			path := a.Package.Name
			if path == "" {
				return 0, fmt.Errorf("%s: an affected entry names no module", f)
			}
			m := modules[path]
			if m == nil {
				m = &moduleEntry{Path: path, Vulns: []moduleVuln{}}
				modules[path] = m
			}
			fixed := ""
			for _, rg := range a.Ranges {
				if rg.Type != "SEMVER" {
					continue
				}
				for _, e := range rg.Events {
					if e.Fixed != "" && semverLess(fixed, e.Fixed) {
						fixed = e.Fixed
					}
				}
				for _, e := range rg.Events {
					if e.Introduced != "" && e.Introduced != "0" && semverLess(fixed, e.Introduced) {
						fixed = "" // reintroduced after the latest fix
						break
					}
				}
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: r.ID, Modified: r.Modified, Fixed: fixed})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", r.ID+".json"), b, 0o644); err != nil {
			return 0, err
		}
	}
	index := make([]*moduleEntry, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		index = append(index, m)
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Path < index[j].Path })
	for name, v := range map[string]any{"db.json": map[string]time.Time{"modified": latest}, "modules.json": index} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name), b, 0o644); err != nil {
			return 0, err
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return 0, err
	}
	return len(files), os.Rename(tmp, out)
}

// semverLess reports a < b for the versions OSV reports carry (no "v"
// prefix: 1.2.3, 1.2.3-rc.1; "" is below everything), with semver's
// precedence: numeric major.minor.patch, then a pre-release below its
// release, its identifiers compared numerically when both are numbers.
func semverLess(a, b string) bool { return semverCompare(a, b) < 0 }

func semverCompare(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	split := func(v string) (core []string, pre string) {
		v = strings.TrimPrefix(strings.TrimPrefix(v, "v"), "go")
		v, _, _ = strings.Cut(v, "+") // build metadata does not order
		v, pre, _ = strings.Cut(v, "-")
		core = strings.Split(v, ".")
		for len(core) < 3 {
			core = append(core, "0")
		}
		return core, pre
	}
	ac, ap := split(a)
	bc, bp := split(b)
	for i := 0; i < max(len(ac), len(bc)); i++ {
		var x, y string
		if i < len(ac) {
			x = ac[i]
		}
		if i < len(bc) {
			y = bc[i]
		}
		if c := compareIdent(x, y); c != 0 {
			return c
		}
	}
	switch {
	case ap == bp:
		return 0
	case ap == "":
		return 1
	case bp == "":
		return -1
	}
	as, bs := strings.Split(ap, "."), strings.Split(bp, ".")
	for i := 0; i < min(len(as), len(bs)); i++ {
		if c := compareIdent(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return len(as) - len(bs)
}

// compareIdent compares two version identifiers: numerically when both
// are numbers, numbers below words, words by ASCII order.
func compareIdent(x, y string) int {
	xn, xerr := strconv.ParseUint(x, 10, 64)
	yn, yerr := strconv.ParseUint(y, 10, 64)
	switch {
	case xerr == nil && yerr == nil:
		switch {
		case xn < yn:
			return -1
		case xn > yn:
			return 1
		}
		return 0
	case xerr == nil:
		return -1
	case yerr == nil:
		return 1
	}
	return strings.Compare(x, y)
}

// finding is govulncheck's JSON finding (what check reads of it).
type finding struct {
	OSV          string `json:"osv"`
	FixedVersion string `json:"fixed_version"`
	Trace        []struct {
		Module   string `json:"module"`
		Version  string `json:"version"`
		Package  string `json:"package"`
		Function string `json:"function"`
		Receiver string `json:"receiver"`
	} `json:"trace"`
}

type message struct {
	Config *struct {
		DB             string     `json:"db"`
		DBLastModified *time.Time `json:"db_last_modified"`
		GoVersion      string     `json:"go_version"`
		ScannerVersion string     `json:"scanner_version"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

// readAllow reads an allow-list: the first word of each line is an id,
// the rest its reason; blank lines and # comments are skipped.
func readAllow(path string) (map[string]string, error) {
	allow := map[string]string{}
	if path == "" {
		return allow, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(id, "GO-") || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: expected \"GO-YYYY-NNNN reason\", got %q", path, n, line)
		}
		allow[id] = strings.TrimSpace(reason)
	}
	return allow, sc.Err()
}

// check reads govulncheck's JSON stream from r and reports to w; it
// fails when a called vulnerability is not on the allow-list.
func check(r io.Reader, allowPath string, w io.Writer) error {
	allow, err := readAllow(allowPath)
	if err != nil {
		return err
	}
	summary := map[string]string{}
	called := map[string][]string{} // id -> "module@version (fixed in X): pkg.Func" traces
	other := map[string]string{}    // id -> module@version, for module or package level findings
	dec := json.NewDecoder(r)
	sawConfig := false
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
			mod := "unknown"
			if m.Config.DBLastModified != nil {
				mod = m.Config.DBLastModified.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "govulncheck %s, %s, database %s (last modified %s)\n", m.Config.ScannerVersion, m.Config.GoVersion, m.Config.DB, mod)
		case m.OSV != nil:
			summary[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			top, root := f.Trace[0], f.Trace[len(f.Trace)-1]
			where := fmt.Sprintf("%s@%s", top.Module, top.Version)
			if f.FixedVersion != "" {
				where += " (fixed in " + f.FixedVersion + ")"
			} else {
				where += " (no fix)"
			}
			if top.Function == "" {
				if _, ok := other[f.OSV]; !ok {
					other[f.OSV] = where
				}
				continue
			}
			fn := top.Function
			if top.Receiver != "" {
				fn = top.Receiver + "." + fn
			}
			from := root.Function
			if root.Receiver != "" {
				from = root.Receiver + "." + from
			}
			t := fmt.Sprintf("%s: %s.%s, reached from %s.%s", where, top.Package, fn, root.Package, from)
			if !slices.Contains(called[f.OSV], t) {
				called[f.OSV] = append(called[f.OSV], t)
			}
		}
	}
	if !sawConfig {
		return errors.New("govulncheck output has no config message: not govulncheck -format json output")
	}
	var failed, explained []string
	for _, id := range slices.Sorted(maps.Keys(called)) {
		traces := slices.Clone(called[id])
		slices.SortFunc(traces, func(a, b string) int { return len(a) - len(b) }) // shortest paths first
		if len(traces) > 3 {
			traces = append(traces[:3], fmt.Sprintf("and %d more", len(called[id])-3))
		}
		line := fmt.Sprintf("%s %s\n    %s", id, summary[id], strings.Join(traces, "\n    "))
		if reason, ok := allow[id]; ok {
			explained = append(explained, line+"\n    allowed: "+reason)
		} else {
			failed = append(failed, line)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(other)) {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(w, "not called (module or package only): %s %s: %s\n", id, other[id], summary[id])
		}
	}
	for _, e := range explained {
		fmt.Fprintf(w, "called, explained in the allow-list: %s\n", e)
	}
	for _, id := range slices.Sorted(maps.Keys(allow)) {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(w, "allow-list entry %s is no longer reached from our code: remove it (%s)\n", id, allow[id])
		}
	}
	fmt.Fprintf(w, "govulncheck: %d vulnerabilities reached from our code (%d explained), %d more in required modules that nothing calls\n",
		len(called), len(explained), len(other)-countCalled(other, called))
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintf(w, "CALLED: %s\n", f)
		}
		return fmt.Errorf("%d vulnerabilities reached from our code are not explained: upgrade the module (when the fix is on the proxy and the tests pass) or add the id with the reason to %s", len(failed), allowPath)
	}
	return nil
}

func countCalled(other map[string]string, called map[string][]string) int {
	n := 0
	for id := range other {
		if _, ok := called[id]; ok {
			n++
		}
	}
	return n
}

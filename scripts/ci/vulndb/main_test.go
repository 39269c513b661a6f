package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSemverCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "0.0.1", -1}, {"1.2.3", "1.2.3", 0}, {"1.2.3", "1.10.0", -1}, {"1.10.0", "1.9.9", 1},
		{"1.2.3-rc.1", "1.2.3", -1}, {"1.2.3-rc.2", "1.2.3-rc.10", -1}, {"1.2.3-alpha", "1.2.3-1", 1},
		{"1.2.3-rc.1", "1.2.3-rc.1.1", -1}, {"0.0.0-20210101000000-abcdef", "0.0.0-20220101000000-000000", -1},
		{"2.0.0+incompatible", "2.0.0", 0}, {"1.21", "1.21.0", 0}, {"1.21.1", "1.21", 1},
	} {
		if got := semverCompare(tc.a, tc.b); sign(got) != tc.want {
			t.Errorf("compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := semverCompare(tc.b, tc.a); sign(got) != -tc.want {
			t.Errorf("compare(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func writeReport(t *testing.T, dir, id, mod string, events ...map[string]string) {
	t.Helper()
	r := map[string]any{"schema_version": "1.3.1", "id": id, "modified": "0001-01-01T00:00:00Z", "published": "2024-05-06T07:08:09Z",
		"details": "x", "affected": []any{map[string]any{"package": map[string]string{"name": mod, "ecosystem": "Go"},
			"ranges": []any{map[string]any{"type": "SEMVER", "events": events}}}}}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuild: the v1 layout, the latest non-superseded fix per report, and
// the reports byte for byte.
func TestBuild(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "db")
	writeReport(t, src, "GO-2024-0001", "example.com/a", map[string]string{"introduced": "0"}, map[string]string{"fixed": "1.2.0"},
		map[string]string{"introduced": "1.3.0"}, map[string]string{"fixed": "1.10.1"})
	writeReport(t, src, "GO-2024-0002", "example.com/a", map[string]string{"introduced": "0"}, map[string]string{"fixed": "1.2.0"},
		map[string]string{"introduced": "1.5.0"}) // reintroduced, not fixed
	writeReport(t, src, "GO-2024-0003", "stdlib", map[string]string{"introduced": "0"}, map[string]string{"fixed": "1.22.3"})
	n, err := build(src, out, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("build: %d reports, %v", n, err)
	}
	db, _ := os.ReadFile(filepath.Join(out, "index", "db.json"))
	if string(db) != `{"modified":"2024-05-06T07:08:09Z"}` {
		t.Fatalf("db.json %s", db)
	}
	// The vulndb version's time, when later, is the database's.
	if _, err := build(src, out, pseudoTime("v0.0.0-20261105234957-e22db6528018")); err != nil {
		t.Fatal(err)
	}
	if db, _ := os.ReadFile(filepath.Join(out, "index", "db.json")); string(db) != `{"modified":"2026-11-05T23:49:57Z"}` {
		t.Fatalf("db.json %s", db)
	}
	if !pseudoTime("v1.2.3").IsZero() || pseudoTime("v1.2.4-0.20240101000000-abcdef").Year() != 2024 {
		t.Fatal("pseudoTime")
	}
	mods, _ := os.ReadFile(filepath.Join(out, "index", "modules.json"))
	want := `[{"path":"example.com/a","vulns":[{"id":"GO-2024-0001","modified":"0001-01-01T00:00:00Z","fixed":"1.10.1"},` +
		`{"id":"GO-2024-0002","modified":"0001-01-01T00:00:00Z"}]},{"path":"stdlib","vulns":[{"id":"GO-2024-0003","modified":"0001-01-01T00:00:00Z","fixed":"1.22.3"}]}]`
	if string(mods) != want {
		t.Fatalf("modules.json\n%s\nexpected\n%s", mods, want)
	}
	a, _ := os.ReadFile(filepath.Join(src, "GO-2024-0002.json"))
	b, _ := os.ReadFile(filepath.Join(out, "ID", "GO-2024-0002.json"))
	if !bytes.Equal(a, b) {
		t.Fatal("report not copied byte for byte")
	}
	// A file whose name is not its id is refused.
	os.Rename(filepath.Join(src, "GO-2024-0003.json"), filepath.Join(src, "GO-2024-0009.json"))
	if _, err := build(src, out, time.Time{}); err == nil || !strings.Contains(err.Error(), "does not name the file") {
		t.Fatalf("misnamed report: %v", err)
	}
}

// TestCheck: called and unexplained fails; explained passes and stale
// allow-list entries are named; module-level findings are listed only.
func TestCheck(t *testing.T) {
	stream := `{"config":{"protocol_version":"v1.0.0","scanner_version":"v1.9.0","db":"file:///db","go_version":"go1.26.8"}}
{"osv":{"id":"GO-2024-0001","summary":"bad thing in a"}}
{"finding":{"osv":"GO-2024-0001","fixed_version":"v1.10.1","trace":[{"module":"example.com/a","version":"v1.4.0"}]}}
{"finding":{"osv":"GO-2024-0001","fixed_version":"v1.10.1","trace":[{"module":"example.com/a","version":"v1.4.0","package":"example.com/a/p","function":"Parse"},{"module":"github.com/pouw/pouwd","package":"github.com/pouw/pouwd/x","function":"Run"}]}}
{"finding":{"osv":"GO-2024-0002","trace":[{"module":"example.com/b","version":"v0.1.0"}]}}
`
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow.txt")
	os.WriteFile(allow, []byte("# reasons\n"), 0o644)
	var out bytes.Buffer
	err := check(strings.NewReader(stream), allow, &out)
	if err == nil || !strings.Contains(out.String(), "CALLED: GO-2024-0001 bad thing in a") ||
		!strings.Contains(out.String(), "example.com/a/p.Parse, reached from github.com/pouw/pouwd/x.Run") ||
		!strings.Contains(out.String(), "not called (module or package only): GO-2024-0002") {
		t.Fatalf("unexplained call: %v\n%s", err, out.String())
	}
	os.WriteFile(allow, []byte("GO-2024-0001 only in tests\nGO-2024-0777 gone\n"), 0o644)
	out.Reset()
	if err := check(strings.NewReader(stream), allow, &out); err != nil || !strings.Contains(out.String(), "allowed: only in tests") ||
		!strings.Contains(out.String(), "allow-list entry GO-2024-0777 is no longer reached") {
		t.Fatalf("explained call: %v\n%s", err, out.String())
	}
	os.WriteFile(allow, []byte("GO-2024-0001\n"), 0o644)
	if err := check(strings.NewReader(stream), allow, &out); err == nil {
		t.Fatal("an allow-list entry without a reason was accepted")
	}
	if err := check(strings.NewReader(`{"finding":{}}`), "", &out); err == nil {
		t.Fatal("a stream without config was accepted")
	}
}

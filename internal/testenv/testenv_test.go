package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of stopping
// the goroutine, so the test can look at what the helper did.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(args ...any)      { r.skipped = strings.TrimSpace(sprint(args)) }
func (r *recorder) Fatal(args ...any)     { r.failed = strings.TrimSpace(sprint(args)) }
func (r *recorder) Skipf(string, ...any)  { panic("unexpected Skipf") }
func (r *recorder) Fatalf(string, ...any) { panic("unexpected Fatalf") }

func sprint(args []any) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.(string))
	}
	return b.String()
}

func TestPostgresURL(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		requireAll string
		want       string
		wantSkip   bool
		wantFail   bool
	}{
		{name: "set", url: "postgres://x@127.0.0.1/db", want: "postgres://x@127.0.0.1/db"},
		{name: "set with require all", url: "postgres://x@127.0.0.1/db", requireAll: "1", want: "postgres://x@127.0.0.1/db"},
		{name: "unset skips", wantSkip: true},
		{name: "unset with require all fails", requireAll: "1", wantFail: true},
		{name: "require all other than 1 skips", requireAll: "true", wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(DatabaseURLEnv, tt.url)
			t.Setenv(RequireAllEnv, tt.requireAll)
			r := &recorder{TB: t}
			got := PostgresURL(r)
			if got != tt.want {
				t.Errorf("PostgresURL = %q, want %q", got, tt.want)
			}
			check(t, r, tt.wantSkip, tt.wantFail, "TEST_DATABASE_URL")
		})
	}
}

func TestRequireTool(t *testing.T) {
	tests := []struct {
		name       string
		tool       string
		requireAll string
		wantPath   bool
		wantSkip   bool
		wantFail   bool
	}{
		{name: "present", tool: "go", wantPath: true},
		{name: "missing skips", tool: "echogen-no-such-tool", wantSkip: true},
		{name: "missing with require all fails", tool: "echogen-no-such-tool", requireAll: "1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tt.requireAll)
			r := &recorder{TB: t}
			got := RequireTool(r, tt.tool, "some-package")
			if (got != "") != tt.wantPath {
				t.Errorf("RequireTool = %q, want a path: %v", got, tt.wantPath)
			}
			check(t, r, tt.wantSkip, tt.wantFail, "apt-get install some-package")
		})
	}
}

func check(t *testing.T, r *recorder, wantSkip, wantFail bool, mention string) {
	t.Helper()
	if (r.skipped != "") != wantSkip {
		t.Errorf("skipped = %q, want a skip: %v", r.skipped, wantSkip)
	}
	if (r.failed != "") != wantFail {
		t.Errorf("failed = %q, want a failure: %v", r.failed, wantFail)
	}
	if msg := r.skipped + r.failed; msg != "" && !strings.Contains(msg, mention) {
		t.Errorf("message %q does not mention %q", msg, mention)
	}
}

func TestRequireGoTool(t *testing.T) {
	gopath := t.TempDir()
	bin := filepath.Join(gopath, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "echogen-go-tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		tool       string
		requireAll string
		wantPath   string
		wantSkip   bool
		wantFail   bool
	}{
		{name: "on PATH", tool: "go", wantPath: "any"},
		{name: "in GOPATH/bin only", tool: "echogen-go-tool", wantPath: filepath.Join(bin, "echogen-go-tool")},
		{name: "missing skips", tool: "echogen-no-such-tool", wantSkip: true},
		{name: "missing with require all fails", tool: "echogen-no-such-tool", requireAll: "1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tt.requireAll)
			t.Setenv("GOPATH", gopath)
			t.Setenv("GOBIN", "")
			r := &recorder{TB: t}
			got := RequireGoTool(r, tt.tool, "example.com/cmd/tool@v1.2.3")
			if (got != "") != (tt.wantPath != "") || tt.wantPath != "any" && got != tt.wantPath {
				t.Errorf("RequireGoTool = %q, want %q", got, tt.wantPath)
			}
			check(t, r, tt.wantSkip, tt.wantFail, "go install example.com/cmd/tool@v1.2.3")
		})
	}
}

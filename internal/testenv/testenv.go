// Package testenv holds helpers for tests that need something from the
// machine they run on: a PostgreSQL database or a command-line tool.
//
// A missing prerequisite skips the test, so `go test ./...` passes on a bare
// machine. CI sets ECHOGEN_TEST_REQUIRE_ALL=1 to turn those skips into
// failures, so nothing is silently left untested there.
package testenv

import (
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireAllEnv is the environment variable that turns skips into failures
// when set to "1".
const RequireAllEnv = "ECHOGEN_TEST_REQUIRE_ALL"

// DatabaseURLEnv names the PostgreSQL database the tests may use.
const DatabaseURLEnv = "TEST_DATABASE_URL"

// Skip skips the test with msg, or fails it when ECHOGEN_TEST_REQUIRE_ALL=1.
func Skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatal(msg + " (" + RequireAllEnv + "=1 makes this a failure)")
		return
	}
	t.Skip(msg)
}

// PostgresURL returns TEST_DATABASE_URL, or skips the test (see Skip) when
// it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(DatabaseURLEnv); u != "" {
		return u
	}
	Skip(t, "set "+DatabaseURLEnv+" to a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test")
	return ""
}

// RequireTool returns the path of the command name, or skips the test (see
// Skip) when it is not installed; install is the apt package that provides it.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Skip(t, fmt.Sprintf("%s is not installed: install it with `apt-get install %s` to run this test", name, install))
		return ""
	}
	return path
}

// RequireGoTool returns the path of the command name, installed with
// `go install pkg` (pkg is "module/path/cmd/name@version"), or skips the
// test (see Skip) when it is missing. Besides PATH it looks where go
// install puts commands (GOBIN, else each GOPATH's bin), which is often
// not on PATH.
func RequireGoTool(t testing.TB, name, pkg string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range goBinDirs() {
		path := filepath.Join(dir, name)
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return path
		}
	}
	Skip(t, fmt.Sprintf("%s is not installed: install it with `go install %s` to run this test", name, pkg))
	return ""
}

// goBinDirs lists the folders go install writes to, as `go env` reports
// them, or the default GOPATH's bin when go cannot be asked.
func goBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return []string{filepath.Join(build.Default.GOPATH, "bin")}
	}
	gobin, gopath, _ := strings.Cut(string(out), "\n") // one line each; GOBIN's is often empty
	if gobin = strings.TrimSpace(gobin); gobin != "" {
		return []string{gobin}
	}
	var dirs []string
	for _, p := range filepath.SplitList(strings.TrimSpace(gopath)) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	return dirs
}

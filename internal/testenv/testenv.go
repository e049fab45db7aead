// Package testenv holds helpers for tests that need something from the
// machine they run on: a PostgreSQL database or a command-line tool.
//
// A missing prerequisite skips the test, so `go test ./...` passes on a bare
// machine. CI sets ECHOGEN_TEST_REQUIRE_ALL=1 to turn those skips into
// failures, so nothing is silently left untested there.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
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

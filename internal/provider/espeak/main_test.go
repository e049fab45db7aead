package espeak_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// launcher is a shell script, written before any test starts, that runs
// "<the path it was called by>.sh". A test's stand-in espeak-ng is a
// symlink to it plus that .sh file: executing a file written while
// parallel tests fork processes fails with "text file busy", because a
// child can inherit the file's write descriptor; a symlink has none.
var launcher string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "espeak-launcher-")
	if err == nil {
		launcher = filepath.Join(dir, "launcher")
		err = os.WriteFile(launcher, []byte("#!/bin/sh\nexec /bin/sh \"$0.sh\" \"$@\"\n"), 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

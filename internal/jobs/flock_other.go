//go:build !unix

package jobs

import "os"

// flock never grants the exclusive lock where flock(2) is missing, so the
// start-up recovery is skipped there and River's rescuer does the work.
func flock(_ *os.File, exclusive bool) (bool, error) { return !exclusive, nil }

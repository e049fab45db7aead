package ingest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind: a download or
// a pdftotext reader that outlives its call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// WantErr is the error a test expects from an adapter.
type WantErr struct {
	Kind       echogen.Kind
	Code       string
	Message    string // a part of the error's message; "" checks nothing
	RetryAfter time.Duration
	// NotContaining, when set, must appear nowhere in the error: the API
	// key, typically.
	NotContaining string
}

// CheckErr checks that err is an *echogen.Error itself, not wrapped, as
// want describes.
func CheckErr(t testing.TB, err error, want WantErr) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	e, ok := err.(*echogen.Error)
	if !ok {
		t.Fatalf("error %T %v, want *echogen.Error", err, err)
	}
	if e.Kind != want.Kind || e.Code != want.Code {
		t.Errorf("kind, code = %v, %q, want %v, %q (%v)", e.Kind, e.Code, want.Kind, want.Code, err)
	}
	if !strings.Contains(e.Message, want.Message) {
		t.Errorf("message %q does not contain %q", e.Message, want.Message)
	}
	if e.RetryAfter != want.RetryAfter {
		t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, want.RetryAfter)
	}
	if want.NotContaining == "" {
		return
	}
	seen := []string{err.Error(), e.Message, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e.Err)}
	if e.Err != nil {
		seen = append(seen, e.Err.Error())
	}
	for _, s := range seen {
		if strings.Contains(s, want.NotContaining) {
			t.Errorf("the error carries %q: %s", want.NotContaining, s)
		}
	}
}

// JSONDiff compares two JSON documents by value; it returns "" when they
// are equal, else their differences (-want +got).
func JSONDiff(t testing.TB, want, got string) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("the wanted JSON does not parse: %v: %s", err, want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("not JSON: %v: %s", err, got)
	}
	return cmp.Diff(w, g)
}

// Send makes one raw request (method "" is POST) and returns the answer's
// status, header and body.
func Send(t testing.TB, c *http.Client, method, url string, header map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// RecordingTB records Errorf instead of failing, so a test can assert
// that a stand-in reports a bad request.
type RecordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *RecordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Errors returns what Errorf recorded.
func (r *RecordingTB) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

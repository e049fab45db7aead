package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/echogen/server/internal/echogen"
)

// TestPanicsBecomeJSON500s checks the last line of defence: a handler that
// panics still answers in the API's shape, and the panic is logged.
func TestPanicsBecomeJSON500s(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{clock: echogen.SystemClock{}, log: slog.New(slog.NewJSONHandler(&logs, nil)), observer: echogen.NopObserver{}}
	h := s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	if body["detail"] != "Internal Server Error" || body["code"] != "internal_error" || body["request_id"] != rec.Header().Get("X-Request-ID") {
		t.Errorf("body %v", body)
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		trust bool
		fwd   string
		want  string
	}{
		{false, "203.0.113.9", "192.0.2.1"},
		{true, "203.0.113.9", "203.0.113.9"},
		{true, "198.51.100.7, 203.0.113.9", "203.0.113.9"}, // the client wrote the first
		{true, "203.0.113.9, 2001:db8::1", "2001:db8::1"},
		{true, "not-an-ip", "192.0.2.1"},
		{true, "", "192.0.2.1"},
	}
	for _, tc := range tests {
		s := &Server{opts: Options{TrustProxyHeaders: tc.trust}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.1:5555"
		if tc.fwd != "" {
			r.Header.Set("X-Forwarded-For", tc.fwd)
		}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("trust %v, X-Forwarded-For %q: got %q, want %q", tc.trust, tc.fwd, got, tc.want)
		}
	}
}

// Package standin holds what the stand-in API servers (llmtest, ttstest,
// imagetest) and the adapters' tests share: strict JSON decoding, request
// recording, header checks, error answers in the wire formats, and
// assertions on the errors the adapters return.
//
// It is test support: only tests and the stand-in packages import it.
package standin

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Start starts a loopback server for h, closed by t.Cleanup.
func Start(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Recorder keeps the requests a stand-in accepted. It is safe for
// concurrent use.
type Recorder[T any] struct {
	// Clone deep-copies a request on the way in and out; nil copies it
	// as it is.
	Clone func(T) T

	mu   sync.Mutex
	reqs []T
}

// Add records r and returns how many were recorded before it.
func (rec *Recorder[T]) Add(r T) int {
	r = rec.clone(r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, r)
	return len(rec.reqs) - 1
}

// All returns copies of the recorded requests, in arrival order.
func (rec *Recorder[T]) All() []T {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]T, len(rec.reqs))
	for i, r := range rec.reqs {
		out[i] = rec.clone(r)
	}
	return out
}

func (rec *Recorder[T]) clone(r T) T {
	if rec.Clone == nil {
		return r
	}
	return rec.Clone(r)
}

// Strict is json.Unmarshal that also refuses any key that is not exactly
// a json tag of v's structs, at any depth: encoding/json ignores unknown
// keys and matches names case-insensitively, and the real APIs do
// neither. Messages name the key by its path, as in
// `unknown field "messages[0].name"`.
func Strict(data []byte, v any) error { return StrictAt(data, v, "") }

// StrictAt is Strict for data found at path at of a larger body.
func StrictAt(data []byte, v any, at string) error {
	if err := known(data, reflect.TypeOf(v), at); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", cmp.Or(at, "body"), err)
	}
	return nil
}

func known(data []byte, t reflect.Type, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		var a []json.RawMessage
		if json.Unmarshal(data, &a) == nil {
			for i, e := range a {
				if err := known(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return nil // json.Unmarshal reports the type error
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			path := strings.TrimPrefix(at+"."+k, ".")
			f, ok := fieldByTag(t, k)
			if !ok {
				return fmt.Errorf("unknown field %q", path)
			}
			if err := known(m[k], f.Type, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Required takes pairs of a field name and whether it is present, and
// reports the first missing one.
func Required(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		if !pairs[i+1].(bool) {
			return fmt.Errorf("missing required field %q", pairs[i])
		}
	}
	return nil
}

// BearerKey returns the key of an "Authorization: Bearer <key>" header.
func BearerKey(h http.Header) (string, error) {
	key, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		return "", fmt.Errorf("Authorization = %q, want \"Bearer <key>\"", h.Get("Authorization"))
	}
	return key, nil
}

// HeaderKey returns the key in header name.
func HeaderKey(h http.Header, name string) (string, error) {
	if key := h.Get(name); key != "" {
		return key, nil
	}
	return "", fmt.Errorf("no %s header", name)
}

// JSONContent checks that a request says its body is JSON.
func JSONContent(h http.Header) error {
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("Content-Type = %q, want application/json", h.Get("Content-Type"))
	}
	return nil
}

// Query checks that r has no query parameters but allowed ones.
func Query(r *http.Request, allowed ...string) error {
	for _, k := range slices.Sorted(maps.Keys(r.URL.Query())) {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unexpected query parameter %q", k)
		}
	}
	return nil
}

// Reject fails the test with err, naming the stand-in (who) and the
// request, and answers 400 with body, the wire's error answer.
func Reject(t testing.TB, w http.ResponseWriter, r *http.Request, who string, err error, body any) {
	t.Errorf("%s: %s %s: %v", who, r.Method, r.URL.RequestURI(), err)
	WriteJSON(w, http.StatusBadRequest, body)
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the stand-ins' bodies always marshal
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// WriteRaw answers body verbatim with status (0: 200), as text/html when
// it looks like a proxy's error page and as JSON otherwise.
func WriteRaw(w http.ResponseWriter, status int, body string) {
	ct := "application/json"
	if strings.HasPrefix(strings.TrimSpace(body), "<") {
		ct = "text/html"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(cmp.Or(status, http.StatusOK))
	io.WriteString(w, body)
}

// OpenAIError is OpenAI's error answer for an HTTP status; code "" is the
// one OpenAI gives that status (null for most).
func OpenAIError(status int, msg, code string) map[string]any {
	typ, c := "invalid_request_error", any(nil)
	switch {
	case status == 401:
		c = "invalid_api_key"
	case status == 403:
		typ = "permission_error"
	case status == 404:
		c = "model_not_found"
	case status == 429:
		typ, c = "requests", "rate_limit_exceeded"
	case status >= 500:
		typ = "server_error"
	}
	if code != "" {
		c = code
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": c}}
}

// GoogleError is the error answer of Google's APIs for an HTTP status;
// status "" is the google.rpc.Code name of code. A 429 with a
// Retry-After in seconds tells the delay in a RetryInfo detail too, as
// Gemini does.
func GoogleError(code int, msg, status, retryAfter string) map[string]any {
	e := map[string]any{"code": code, "message": msg, "status": cmp.Or(status, grpcStatus[code], "INTERNAL")}
	if _, err := strconv.Atoi(retryAfter); err == nil && code == http.StatusTooManyRequests {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retryAfter + "s"}}
	}
	return map[string]any{"error": e}
}

// grpcStatus has the google.rpc.Code names Google's APIs give HTTP statuses.
var grpcStatus = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

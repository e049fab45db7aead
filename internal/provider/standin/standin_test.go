package standin_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/standin"
)

func TestStrict(t *testing.T) {
	t.Parallel()
	type body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts,omitempty"`
		} `json:"messages"`
		Config *struct {
			Temperature float64 `json:"temperature"`
		} `json:"config"`
		Raw json.RawMessage `json:"raw"`
	}
	tests := []struct {
		name, data, wantErr string // wantErr "": accepted
	}{
		{"known fields", `{"model":"m","messages":[{"role":"user","parts":[{"text":"hi"}]}],"config":{"temperature":1},"raw":[{"any":1}]}`, ""},
		{"unknown top-level field", `{"model":"m","stream":true}`, `unknown field "stream"`},
		{"wrong case", `{"Model":"m"}`, `unknown field "Model"`},
		{"unknown field in a pointer", `{"config":{"topK":3}}`, `unknown field "config.topK"`},
		{"unknown field deep in slices", `{"messages":[{"role":"user"},{"parts":[{"text":"a","Text":"b"}]}]}`, `unknown field "messages[1].parts[0].Text"`},
		{"type error", `{"model":3}`, "body: json: cannot unmarshal"},
		{"data after the object", `{"model":"m"} {}`, "body: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			err := standin.Strict([]byte(tt.data), &b)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Strict: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Strict = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if err := standin.StrictAt([]byte(`[{"text":"a"},{"type":"x"}]`), &parts, "content"); err == nil || err.Error() != `unknown field "content[1].type"` {
		t.Errorf("StrictAt = %v, want the path under content", err)
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	rec := standin.Recorder[map[string]int]{Clone: maps.Clone[map[string]int]}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { rec.Add(map[string]int{"n": 1}) })
	}
	wg.Wait()
	if n := rec.Add(map[string]int{"n": 2}); n != 8 {
		t.Errorf("Add = %d, want 8 recorded before", n)
	}
	all := rec.All()
	all[8]["n"] = 99
	if got := rec.All(); len(got) != 9 || got[8]["n"] != 2 {
		t.Errorf("All = %v, want 9 requests, unchanged by the caller", got)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/x?a=1&b=2", nil)
	r.Header.Set("Authorization", "Bearer k1")
	r.Header.Set("x-goog-api-key", "k2")
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if k, err := standin.BearerKey(r.Header); k != "k1" || err != nil {
		t.Errorf("BearerKey = %q, %v", k, err)
	}
	if k, err := standin.HeaderKey(r.Header, "x-goog-api-key"); k != "k2" || err != nil {
		t.Errorf("HeaderKey = %q, %v", k, err)
	}
	if _, err := standin.HeaderKey(r.Header, "xi-api-key"); err == nil || err.Error() != "no xi-api-key header" {
		t.Errorf("HeaderKey of a missing header: %v", err)
	}
	if err := standin.JSONContent(r.Header); err != nil {
		t.Errorf("JSONContent: %v", err)
	}
	if err := standin.Query(r, "a"); err == nil || err.Error() != `unexpected query parameter "b"` {
		t.Errorf("Query = %v, want b refused", err)
	}
	r.Header.Set("Authorization", "Basic k1")
	r.Header.Set("Content-Type", "text/plain")
	if _, err := standin.BearerKey(r.Header); err == nil {
		t.Error("BearerKey took a Basic key")
	}
	if err := standin.JSONContent(r.Header); err == nil {
		t.Error("JSONContent took text/plain")
	}
}

func TestWriteRaw(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{" <html>Bad gateway</html>": "text/html", `{"x":`: "application/json"} {
		w := httptest.NewRecorder()
		standin.WriteRaw(w, 0, body)
		if w.Code != 200 || w.Header().Get("Content-Type") != want || w.Body.String() != body {
			t.Errorf("WriteRaw(%q): %d %q %q", body, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got  any
		want string
	}{
		{standin.OpenAIError(429, "slow", ""), `{"error":{"message":"slow","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{standin.OpenAIError(403, "no", ""), `{"error":{"message":"no","type":"permission_error","param":null,"code":null}}`},
		{standin.OpenAIError(401, "bad", "quota"), `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"quota"}}`},
		{standin.GoogleError(429, "quota", "", "7"), `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
			"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`},
		{standin.GoogleError(400, "bad", "FAILED_PRECONDITION", ""), `{"error":{"code":400,"message":"bad","status":"FAILED_PRECONDITION"}}`},
		{standin.GoogleError(418, "tea", "", "7"), `{"error":{"code":418,"message":"tea","status":"INTERNAL"}}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.got)
		if err != nil {
			t.Fatal(err)
		}
		if d := standin.JSONDiff(t, tt.want, string(got)); d != "" {
			t.Errorf("error body (-want +got):\n%s", d)
		}
	}
}

func TestCheckErr(t *testing.T) {
	t.Parallel()
	err := &echogen.Error{Kind: echogen.KindRateLimited, Code: "c", Message: "slow down, k-123", RetryAfter: time.Second}
	standin.CheckErr(t, err, standin.WantErr{Kind: echogen.KindRateLimited, Code: "c", Message: "slow down", RetryAfter: time.Second})

	rec := &standin.RecordingTB{TB: t}
	standin.CheckErr(rec, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: "c", Message: "slow", NotContaining: "k-123"})
	errs := strings.Join(rec.Errors(), "\n")
	for _, want := range []string{"kind, code", "RetryAfter = 1s, want 0s", `the error carries "k-123"`} {
		if !strings.Contains(errs, want) {
			t.Errorf("reported %q, want %q among them", errs, want)
		}
	}
	if strings.Contains(errs, "message") {
		t.Errorf("reported %q; the message is as wanted", errs)
	}
}

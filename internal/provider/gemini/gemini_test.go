package gemini

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
)

const (
	testKey   = "AIzaSyTEST-secret-key-123456"
	testModel = "gemini-2.5-flash"
)

// stub is a stand-in Gemini API. It checks each request's method, path,
// key and (for generateContent) body, then answers with status, header and
// body.
type stub struct {
	t        *testing.T
	wantPath string
	wantBody map[string]any // nil: not checked
	status   int
	header   map[string]string
	body     string
	hits     atomic.Int32
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	t := s.t
	wantMethod := http.MethodPost
	if strings.HasSuffix(s.wantPath, "/models") {
		wantMethod = http.MethodGet
	}
	if r.Method != wantMethod {
		t.Errorf("method = %s, want %s", r.Method, wantMethod)
	}
	if r.URL.Path != s.wantPath {
		t.Errorf("path = %q, want %q", r.URL.Path, s.wantPath)
	}
	if got := r.Header.Get("x-goog-api-key"); got != testKey {
		t.Errorf("x-goog-api-key = %q, want %q", got, testKey)
	}
	if strings.Contains(r.URL.RawQuery, testKey) || r.URL.Query().Has("key") {
		t.Errorf("key in the query string: %q", r.URL.RawQuery)
	}
	if s.wantBody != nil {
		b, _ := io.ReadAll(r.Body)
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("body is not JSON: %v: %s", err, b)
		} else if d := cmp.Diff(s.wantBody, got); d != "" {
			t.Errorf("body mismatch (-want +got):\n%s", d)
		}
	}
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	io.WriteString(w, s.body)
}

func newServer(t *testing.T, s *stub) *Client {
	t.Helper()
	s.t = t
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL, Timeout: 10 * time.Second})
}

func ptr[T any](v T) *T { return &v }

var schema = map[string]any{
	"type":       "object",
	"properties": map[string]any{"title": map[string]any{"type": "string"}},
	"required":   []any{"title"},
}

func baseRequest() echogen.LLMRequest {
	return echogen.LLMRequest{
		Model: testModel,
		Messages: []echogen.LLMMessage{
			{Role: "system", Content: "You write podcasts."},
			{Role: "user", Content: "Write one."},
			{Role: "assistant", Content: "Sure."},
			{Role: "user", Content: "Go on."},
		},
		Temperature: ptr(0.5),
		MaxTokens:   2048,
	}
}

func wantContents() []any {
	return []any{
		map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Write one."}}},
		map[string]any{"role": "model", "parts": []any{map[string]any{"text": "Sure."}}},
		map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Go on."}}},
	}
}

func wantSystem() map[string]any {
	// The SDK fills in the system instruction's role.
	return map[string]any{"role": "user", "parts": []any{map[string]any{"text": "You write podcasts."}}}
}

const okBody = `{"candidates":[{"content":{"role":"model","parts":[{"text":"{\"title\":"},{"text":"\"Hi\"}"}]},"finishReason":"STOP"}],
"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":34,"totalTokenCount":46},"modelVersion":"gemini-2.5-flash-001"}`

func TestCompleteSuccess(t *testing.T) {
	tests := []struct {
		name     string
		req      func() echogen.LLMRequest
		wantBody map[string]any
		answer   string
		want     *echogen.LLMResponse
	}{
		{
			name: "with schema",
			req: func() echogen.LLMRequest {
				r := baseRequest()
				r.Schema, r.SchemaName = schema, "script"
				return r
			},
			wantBody: map[string]any{
				"contents":          wantContents(),
				"systemInstruction": wantSystem(),
				"generationConfig": map[string]any{
					"temperature":        0.5,
					"maxOutputTokens":    2048.0,
					"responseMimeType":   "application/json",
					"responseJsonSchema": schema,
				},
			},
			answer: okBody,
			want: &echogen.LLMResponse{Text: `{"title":"Hi"}`, Model: "gemini-2.5-flash-001",
				InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "without schema, model from the request",
			req: func() echogen.LLMRequest {
				r := baseRequest()
				r.Model = "models/" + testModel
				return r
			},
			wantBody: map[string]any{
				"contents":          wantContents(),
				"systemInstruction": wantSystem(),
				"generationConfig":  map[string]any{"temperature": 0.5, "maxOutputTokens": 2048.0},
			},
			answer: `{"candidates":[{"content":{"parts":[{"text":"thinking…","thought":true},{"text":"Hello"}]},"finishReason":"STOP"}],
"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"thoughtsTokenCount":3}}`,
			want: &echogen.LLMResponse{Text: "Hello", Model: testModel, InputTokens: 5, OutputTokens: 10, FinishReason: "stop"},
		},
		{
			name: "no system, no temperature, no max tokens",
			req: func() echogen.LLMRequest {
				return echogen.LLMRequest{Model: testModel, Messages: []echogen.LLMMessage{{Role: "user", Content: "Hi"}}}
			},
			wantBody: map[string]any{
				"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "Hi"}}}},
				"generationConfig": map[string]any{}, // the SDK always sends it
			},
			answer: okBody,
			want: &echogen.LLMResponse{Text: `{"title":"Hi"}`, Model: "gemini-2.5-flash-001",
				InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "truncated by max tokens is no error",
			req:  baseRequest,
			answer: `{"candidates":[{"content":{"parts":[{"text":"Once upon a"}]},"finishReason":"MAX_TOKENS"}],
"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2048}}`,
			want: &echogen.LLMResponse{Text: "Once upon a", Model: testModel, InputTokens: 3, OutputTokens: 2048, FinishReason: "length"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{wantPath: "/v1beta/models/" + testModel + ":generateContent", wantBody: tt.wantBody, status: 200, body: tt.answer}
			c := newServer(t, s)
			got, err := c.Complete(context.Background(), testKey, tt.req())
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("response mismatch (-want +got):\n%s", d)
			}
			if n := s.hits.Load(); n != 1 {
				t.Errorf("server hit %d times, want 1", n)
			}
		})
	}
}

func TestCompleteErrors(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		header         map[string]string
		body           string
		wantKind       echogen.Kind
		wantCode       string
		wantRetry      time.Duration
		wantMsgHas     string
		wantHitsAtMost int32 // 0 means 1
	}{
		{
			name:   "400 API_KEY_INVALID",
			status: 400,
			body: `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key. (key ` + testKey + `)","status":"INVALID_ARGUMENT",
"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`,
			wantKind: echogen.KindUnauthenticated, wantCode: providerhttp.LLMKeyRejected, wantMsgHas: "API key not valid",
		},
		{
			name:     "400 API key message without details",
			status:   400,
			body:     `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`,
			wantKind: echogen.KindUnauthenticated, wantCode: providerhttp.LLMKeyRejected,
		},
		{
			name:     "403 permission denied",
			status:   403,
			body:     `{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}`,
			wantKind: echogen.KindUnauthenticated, wantCode: providerhttp.LLMKeyRejected,
		},
		{
			name:     "other 400",
			status:   400,
			body:     `{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}`,
			wantKind: echogen.KindBadRequest, wantCode: providerhttp.LLMRejected, wantMsgHas: "Invalid JSON payload",
		},
		{
			name:     "429 with Retry-After",
			status:   429,
			header:   map[string]string{"Retry-After": "30"},
			body:     `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`,
			wantKind: echogen.KindRateLimited, wantCode: providerhttp.LLMRateLimited, wantRetry: 30 * time.Second,
		},
		{
			name:   "429 with RetryInfo",
			status: 429,
			body: `{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",
"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`,
			wantKind: echogen.KindRateLimited, wantCode: providerhttp.LLMRateLimited, wantRetry: 7 * time.Second,
		},
		{
			name:     "500",
			status:   500,
			body:     `{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`,
			wantKind: echogen.KindUnavailable, wantCode: providerhttp.LLMUnavailable, wantMsgHas: "HTTP 500",
		},
		{
			name:     "503 HTML from a proxy",
			status:   503,
			body:     `<html><body>Service Unavailable</body></html>`,
			wantKind: echogen.KindUnavailable, wantCode: providerhttp.LLMUnavailable,
		},
		{
			name:     "malformed JSON",
			status:   200,
			body:     `{"candidates":[{"content":`,
			wantKind: echogen.KindUnavailable, wantCode: providerhttp.LLMBadResponse,
		},
		{
			name:     "no candidates",
			status:   200,
			body:     `{"usageMetadata":{"promptTokenCount":4}}`,
			wantKind: echogen.KindBadRequest, wantCode: providerhttp.LLMRefused, wantMsgHas: "blocked by Gemini",
		},
		{
			name:     "blocked prompt",
			status:   200,
			body:     `{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":4}}`,
			wantKind: echogen.KindBadRequest, wantCode: providerhttp.LLMRefused, wantMsgHas: "blocked by Gemini: the prompt (SAFETY)",
		},
		{
			name:     "answer stopped for safety",
			status:   200,
			body:     `{"candidates":[{"finishReason":"SAFETY","safetyRatings":[]}]}`,
			wantKind: echogen.KindBadRequest, wantCode: providerhttp.LLMRefused, wantMsgHas: "blocked by Gemini: the answer (SAFETY)",
		},
		{
			name:     "empty text",
			status:   200,
			body:     `{"candidates":[{"content":{"parts":[{"text":""}]},"finishReason":"STOP"}]}`,
			wantKind: echogen.KindUnavailable, wantCode: providerhttp.LLMEmptyAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{wantPath: "/v1beta/models/" + testModel + ":generateContent", status: tt.status, header: tt.header, body: tt.body}
			c := newServer(t, s)
			req := baseRequest()
			req.Schema = schema
			_, err := c.Complete(context.Background(), testKey, req)
			checkErr(t, err, standin.WantErr{Kind: tt.wantKind, Code: tt.wantCode, Message: tt.wantMsgHas, RetryAfter: tt.wantRetry})
			// No SDK retries.
			if n := s.hits.Load(); n != 1 {
				t.Errorf("server hit %d times, want 1", n)
			}
		})
	}
}

// checkErr is standin.CheckErr wanting testKey nowhere in the error.
func checkErr(t *testing.T, err error, want standin.WantErr) {
	t.Helper()
	want.NotContaining = testKey
	standin.CheckErr(t, err, want)
}

func TestCompleteInvalidRequest(t *testing.T) {
	t.Setenv("GOOGLE_API_KEY", "env-google-key")
	t.Setenv("GEMINI_API_KEY", "env-gemini-key")
	tests := []struct {
		name string
		key  string
		req  echogen.LLMRequest
	}{
		{"empty key must not fall back to the environment", "", baseRequest()},
		{"key with a newline", testKey + "\nX-Evil: 1", baseRequest()},
		{"no model", testKey, echogen.LLMRequest{Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}}},
		{"model with a path", testKey, echogen.LLMRequest{Model: "../tunedModels/x", Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}}},
		{"bad role", testKey, echogen.LLMRequest{Model: testModel, Messages: []echogen.LLMMessage{{Role: "tool", Content: "x"}}}},
		{"only system", testKey, echogen.LLMRequest{Model: testModel, Messages: []echogen.LLMMessage{{Role: "system", Content: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{wantPath: "/never", status: 200, body: okBody}
			c := newServer(t, s)
			_, err := c.Complete(context.Background(), tt.key, tt.req)
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest})
			if n := s.hits.Load(); n != 0 {
				t.Errorf("server hit %d times, want 0", n)
			}
		})
	}
}

// TestEnvironmentIgnored sets every variable the SDK reads; the call must
// still go to the configured server, on the Gemini API, with the caller's
// key.
func TestEnvironmentIgnored(t *testing.T) {
	decoy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request went to the environment's base URL: %s", r.URL)
	}))
	defer decoy.Close()
	t.Setenv("GOOGLE_API_KEY", "env-google-key")
	t.Setenv("GEMINI_API_KEY", "env-gemini-key")
	t.Setenv("GOOGLE_GEMINI_BASE_URL", decoy.URL)
	t.Setenv("GOOGLE_VERTEX_BASE_URL", decoy.URL)
	t.Setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
	t.Setenv("GOOGLE_GENAI_USE_ENTERPRISE", "true")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "proj")
	t.Setenv("GOOGLE_CLOUD_LOCATION", "us-central1")

	s := &stub{wantPath: "/v1beta/models/" + testModel + ":generateContent", status: 200, body: okBody}
	c := newServer(t, s) // the stub asserts x-goog-api-key == testKey
	if _, err := c.Complete(context.Background(), testKey, baseRequest()); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}
}

func TestCompleteTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	t.Run("own timeout", func(t *testing.T) {
		c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL, Timeout: time.Millisecond})
		_, err := c.Complete(context.Background(), testKey, baseRequest())
		checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout})
	})
	t.Run("caller canceled", func(t *testing.T) {
		c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Complete(ctx, testKey, baseRequest())
		checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled})
	})
}

func TestCompleteUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := New(Options{BaseURL: url})
	_, err := c.Complete(context.Background(), testKey, baseRequest())
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable})
}

func TestListModels(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		want     []string
		wantKind echogen.Kind
		wantCode string
	}{
		{
			name:   "success",
			status: 200,
			body: `{"models":[
{"name":"models/gemini-2.5-flash","supportedGenerationMethods":["generateContent","countTokens"]},
{"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]},
{"name":"models/gemini-2.5-pro","supportedGenerationMethods":["generateContent"]},
{"name":"models/no-methods-listed"}]}`,
			want: []string{"gemini-2.5-flash", "gemini-2.5-pro", "no-methods-listed"},
		},
		{
			name:     "401",
			status:   401,
			body:     `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`,
			wantKind: echogen.KindUnauthenticated, wantCode: providerhttp.LLMKeyRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{wantPath: "/v1beta/models", status: tt.status, body: tt.body}
			c := newServer(t, s)
			got, err := c.ListModels(context.Background(), testKey)
			if tt.wantCode != "" {
				checkErr(t, err, standin.WantErr{Kind: tt.wantKind, Code: tt.wantCode})
				return
			}
			if err != nil {
				t.Fatalf("ListModels: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("models mismatch (-want +got):\n%s", d)
			}
		})
	}
}

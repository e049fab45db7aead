package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
)

const testKey = "sk-ant-test-SECRET-1234"

// answer is one canned HTTP answer of the stand-in server.
type answer struct {
	status int
	header map[string]string
	body   string
}

// standIn is an httptest server speaking the Messages API: it checks each
// request's method, path, headers and body and sends the canned answer.
func standIn(t *testing.T, method, path string, wantBody map[string]any, a answer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method || r.URL.Path != path {
			t.Errorf("request %s %s, want %s %s", r.Method, r.URL.Path, method, path)
		}
		if got := r.Header.Get("x-api-key"); got != testKey {
			t.Errorf("x-api-key = %q, want the caller's key", got)
		}
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("Authorization = %q, want none", got)
		}
		if got := r.Header.Get("anthropic-version"); got != APIVersion {
			t.Errorf("anthropic-version = %q, want %q", got, APIVersion)
		}
		if r.Header.Get("X-From-Env") != "" {
			t.Errorf("ANTHROPIC_CUSTOM_HEADERS was read")
		}
		if method == http.MethodPost {
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("content-type = %q", got)
			}
			b, _ := io.ReadAll(r.Body)
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Errorf("body is not JSON: %v: %s", err, b)
			} else if diff := cmp.Diff(wantBody, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// noEnv sets the SDK's environment variables to values that would break
// the tests if read.
func noEnv(t *testing.T) {
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("ANTHROPIC_BASE_URL was used: %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(trap.Close)
	t.Setenv("ANTHROPIC_API_KEY", "env-key-must-not-be-used")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "env-token-must-not-be-used")
	t.Setenv("ANTHROPIC_BASE_URL", trap.URL)
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-From-Env: yes")
}

func errorBody(typ, msg string) string {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	return string(b)
}

func messageBody(content string, stop string) string {
	return `{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
		`"content":` + content + `,"stop_reason":"` + stop + `","stop_sequence":null,` +
		`"usage":{"input_tokens":12,"output_tokens":34}}`
}

func TestComplete(t *testing.T) {
	noEnv(t)
	temp := 0.7
	schema := map[string]any{
		"type":       "object",
		"properties": map[string]any{"title": map[string]any{"type": "string"}},
		"required":   []any{"title"},
	}
	plain := echogen.LLMRequest{
		Model: "claude-sonnet-4-5",
		Messages: []echogen.LLMMessage{
			{Role: "system", Content: "You write podcasts."},
			{Role: "system", Content: "Be brief."},
			{Role: "user", Content: "Hi"},
			{Role: "assistant", Content: "Hello"},
			{Role: "user", Content: "Write"},
		},
	}
	plainBody := map[string]any{
		"model":      "claude-sonnet-4-5",
		"max_tokens": float64(8192),
		"system":     []any{map[string]any{"type": "text", "text": "You write podcasts.\n\nBe brief."}},
		"messages": []any{
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "Hi"}}},
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": "Hello"}}},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "Write"}}},
		},
	}
	structured := plain
	structured.Schema = schema
	structured.SchemaName = "script"
	structured.Temperature = &temp
	structured.MaxTokens = 1000
	structuredBody := map[string]any{
		"model":       "claude-sonnet-4-5",
		"max_tokens":  float64(1000),
		"temperature": 0.7,
		"system":      plainBody["system"],
		"messages":    plainBody["messages"],
		"tools": []any{map[string]any{
			"name": "script",
			"input_schema": map[string]any{
				"type":       "object",
				"properties": map[string]any{"title": map[string]any{"type": "string"}},
				"required":   []any{"title"},
			},
		}},
		"tool_choice": map[string]any{"type": "tool", "name": "script"},
	}
	defaultName := plain
	defaultName.Schema = schema
	defaultNameBody := map[string]any{
		"model":      "claude-sonnet-4-5",
		"max_tokens": float64(8192),
		"system":     plainBody["system"],
		"messages":   plainBody["messages"],
		"tools": []any{map[string]any{
			"name":         "response",
			"input_schema": structuredBody["tools"].([]any)[0].(map[string]any)["input_schema"],
		}},
		"tool_choice": map[string]any{"type": "tool", "name": "response"},
	}

	tests := []struct {
		name     string
		req      echogen.LLMRequest
		wantBody map[string]any
		answer   answer
		want     *echogen.LLMResponse
		wantErr  *standin.WantErr
	}{
		{
			name: "text", req: plain, wantBody: plainBody,
			answer: answer{status: 200, body: messageBody(`[{"type":"text","text":"Hello "},{"type":"text","text":"world"}]`, "end_turn")},
			want:   &echogen.LLMResponse{Text: "Hello world", Model: "claude-sonnet-4-5-20250929", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "tool use", req: structured, wantBody: structuredBody,
			answer: answer{status: 200, body: messageBody(`[{"type":"tool_use","id":"toolu_1","name":"script","input":{"title":"Ep 1"}}]`, "tool_use")},
			want:   &echogen.LLMResponse{Text: `{"title":"Ep 1"}`, Model: "claude-sonnet-4-5-20250929", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "default schema name", req: defaultName, wantBody: defaultNameBody,
			answer: answer{status: 200, body: messageBody(`[{"type":"text","text":"ok"},{"type":"tool_use","id":"toolu_1","name":"response","input":{"title":"x"}}]`, "tool_use")},
			want:   &echogen.LLMResponse{Text: `{"title":"x"}`, Model: "claude-sonnet-4-5-20250929", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "max tokens", req: plain, wantBody: plainBody,
			answer: answer{status: 200, body: messageBody(`[{"type":"text","text":"cut"}]`, "max_tokens")},
			want:   &echogen.LLMResponse{Text: "cut", Model: "claude-sonnet-4-5-20250929", InputTokens: 12, OutputTokens: 34, FinishReason: "length"},
		},
		{
			name: "401", req: plain, wantBody: plainBody,
			answer:  answer{status: 401, body: errorBody("authentication_error", "invalid x-api-key "+testKey)},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "invalid x-api-key"},
		},
		{
			name: "403", req: plain, wantBody: plainBody,
			answer:  answer{status: 403, body: errorBody("permission_error", "no access")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "no access"},
		},
		{
			name: "429", req: plain, wantBody: plainBody,
			answer:  answer{status: 429, header: map[string]string{"retry-after": "7"}, body: errorBody("rate_limit_error", "slow down")},
			wantErr: &standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "slow down", RetryAfter: 7 * time.Second},
		},
		{
			name: "529 overloaded", req: plain, wantBody: plainBody,
			answer:  answer{status: 529, body: errorBody("overloaded_error", "Overloaded")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "Overloaded"},
		},
		{
			name: "500", req: plain, wantBody: plainBody,
			answer:  answer{status: 500, body: errorBody("api_error", "internal")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "HTTP 500"},
		},
		{
			name: "400", req: plain, wantBody: plainBody,
			answer:  answer{status: 400, body: errorBody("invalid_request_error", "max_tokens too large")},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "max_tokens too large"},
		},
		{
			name: "malformed JSON", req: plain, wantBody: plainBody,
			answer:  answer{status: 200, body: `{"id":"msg_01","content":[`},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse},
		},
		{
			name: "empty content", req: plain, wantBody: plainBody,
			answer:  answer{status: 200, body: messageBody(`[]`, "end_turn")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := standIn(t, http.MethodPost, "/v1/messages", tc.wantBody, tc.answer)
			c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL})
			got, err := c.Complete(context.Background(), testKey, tc.req)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
				return
			}
			checkErr(t, err, *tc.wantErr)
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
	c := New(Options{BaseURL: "http://127.0.0.1:1"})
	for name, req := range map[string]echogen.LLMRequest{
		"no model":    {Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}},
		"no messages": {Model: "m", Messages: []echogen.LLMMessage{{Role: "system", Content: "x"}}},
		"bad role":    {Model: "m", Messages: []echogen.LLMMessage{{Role: "tool", Content: "x"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Complete(context.Background(), testKey, req)
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest})
		})
	}
}

func TestCompleteCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request sent after cancel")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL})
	_, err := c.Complete(ctx, testKey, echogen.LLMRequest{Model: "m", Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled})
}

func TestListModels(t *testing.T) {
	noEnv(t)
	tests := []struct {
		name    string
		answer  answer
		want    []string
		wantErr bool
	}{
		{
			name: "success",
			answer: answer{status: 200, body: `{"data":[` +
				`{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"},` +
				`{"type":"model","id":"claude-haiku-4-5","display_name":"Claude Haiku 4.5","created_at":"2025-10-01T00:00:00Z"}],` +
				`"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"claude-haiku-4-5"}`},
			want: []string{"claude-haiku-4-5", "claude-sonnet-4-5"},
		},
		{
			name:    "401",
			answer:  answer{status: 401, body: errorBody("authentication_error", "invalid x-api-key")},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := standIn(t, http.MethodGet, "/v1/models", nil, tc.answer)
			c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL})
			got, err := c.ListModels(context.Background(), testKey)
			if tc.wantErr {
				checkErr(t, err, standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "invalid x-api-key"})
				return
			}
			if err != nil {
				t.Fatalf("ListModels: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompleteTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // else the server never sees the client hang up
		<-r.Context().Done()        // never answers; the client gives up
	}))
	defer srv.Close()
	c := New(Options{HTTPClient: srv.Client(), BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	_, err := c.Complete(context.Background(), testKey, echogen.LLMRequest{Model: "m", Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout, Message: "did not answer in time"})
}

package openai_test

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
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
)

const testKey = "sk-test-SECRET-0123456789abcdef"

// chatOK is a chat completion as OpenAI sends it.
func chatOK(content, finish string) string {
	b, _ := json.Marshal(map[string]any{
		"id":      "chatcmpl-123",
		"object":  "chat.completion",
		"created": 1700000000,
		"model":   "gpt-test-2025-01-01",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content, "refusal": nil},
			"logprobs":      nil,
			"finish_reason": finish,
		}},
		"usage": map[string]any{"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
	})
	return string(b)
}

// openAIError is OpenAI's error answer.
func openAIError(msg, typ, code string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": code,
	}})
	return string(b)
}

type answer struct {
	status  int
	header  map[string]string
	body    string
	ctype   string // default application/json
	hang    bool   // wait until the client gives up
	noCheck bool   // do not assert the request shape
}

type stub struct {
	t       *testing.T
	calls   atomic.Int32
	path    string // expected path
	key     string // expected key; "" means no Authorization header
	headers map[string]string
	body    map[string]any // expected JSON body (nil: not checked)
	ans     answer
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	t := s.t
	if !s.ans.noCheck {
		if s.body != nil && r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		if s.body == nil && r.Method != http.MethodGet {
			t.Errorf("method = %s, want GET", r.Method)
		}
		if r.URL.Path != s.path {
			t.Errorf("path = %q, want %q", r.URL.Path, s.path)
		}
		wantAuth := ""
		if s.key != "" {
			wantAuth = "Bearer " + s.key
		}
		if got := r.Header.Get("Authorization"); got != wantAuth {
			t.Errorf("Authorization = %q, want %q", got, wantAuth)
		}
		for k, v := range s.headers {
			if got := r.Header.Get(k); got != v {
				t.Errorf("header %s = %q, want %q", k, got, v)
			}
		}
		if s.body != nil {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			raw, _ := io.ReadAll(r.Body)
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Errorf("body is not JSON: %v: %s", err, raw)
			} else if d := cmp.Diff(s.body, got); d != "" {
				t.Errorf("request body (-want +got):\n%s", d)
			}
		}
	}
	if s.ans.hang {
		<-r.Context().Done()
		return
	}
	ct := s.ans.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	for k, v := range s.ans.header {
		w.Header().Set(k, v)
	}
	status := s.ans.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s.ans.body)
}

func ptr[T any](v T) *T { return &v }

var schema = map[string]any{
	"type":                 "object",
	"properties":           map[string]any{"title": map[string]any{"type": "string"}},
	"required":             []any{"title"},
	"additionalProperties": false,
}

func baseRequest() echogen.LLMRequest {
	return echogen.LLMRequest{
		Model: "gpt-test",
		Messages: []echogen.LLMMessage{
			{Role: "system", Content: "You write podcasts."},
			{Role: "user", Content: "Write one."},
			{Role: "assistant", Content: "Sure."},
			{Role: "user", Content: "Go."},
		},
		Temperature: ptr(0.7),
		MaxTokens:   1000,
	}
}

func baseBody() map[string]any {
	return map[string]any{
		"model": "gpt-test",
		"messages": []any{
			map[string]any{"role": "system", "content": "You write podcasts."},
			map[string]any{"role": "user", "content": "Write one."},
			map[string]any{"role": "assistant", "content": "Sure."},
			map[string]any{"role": "user", "content": "Go."},
		},
		"temperature": 0.7,
		"max_tokens":  float64(1000),
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	withSchema := baseRequest()
	withSchema.Schema = schema
	withSchema.SchemaName = "podcast_script"
	schemaBody := baseBody()
	schemaBody["response_format"] = map[string]any{
		"type": "json_schema",
		"json_schema": map[string]any{
			"name":   "podcast_script",
			"schema": schema,
			"strict": true,
		},
	}
	unnamedSchema := baseRequest()
	unnamedSchema.Schema = schema
	unnamedBody := baseBody()
	unnamedBody["response_format"] = map[string]any{
		"type":        "json_schema",
		"json_schema": map[string]any{"name": "response", "schema": schema, "strict": true},
	}
	bare := echogen.LLMRequest{Model: "llama3", Messages: []echogen.LLMMessage{{Role: "user", Content: "hi"}}}
	bareBody := map[string]any{"model": "llama3", "messages": []any{map[string]any{"role": "user", "content": "hi"}}}

	okResp := &echogen.LLMResponse{Text: `{"title":"Hi"}`, Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"}
	openRouterHeaders := map[string]string{"HTTP-Referer": "https://echogen.ai", "X-Title": "EchoGen.ai"}

	tests := []struct {
		name     string
		client   func(openai.Options) *openai.Client
		opts     openai.Options
		key      string
		req      echogen.LLMRequest
		baseURL  func(srv string) string // the request's BaseURL; nil means srv+"/v1"
		path     string                  // default /v1/chat/completions
		headers  map[string]string
		body     map[string]any
		ans      answer
		calls    int32 // requests expected; default 1
		want     *echogen.LLMResponse
		wantErr  *standin.WantErr
		absentHd []string // headers that must not be sent
	}{
		{
			name: "structured output", client: openai.NewOpenAI, key: testKey, req: withSchema, body: schemaBody,
			ans:  answer{body: chatOK(`{"title":"Hi"}`, "stop")},
			want: okResp, absentHd: []string{"HTTP-Referer", "X-Title"},
		},
		{
			name: "schema without a name", client: openai.NewGroq, key: testKey, req: unnamedSchema, body: unnamedBody,
			ans: answer{body: chatOK(`{"title":"Hi"}`, "stop")}, want: okResp,
		},
		{
			name: "plain text, OpenRouter headers", client: openai.NewOpenRouter, key: testKey, req: baseRequest(), body: baseBody(),
			headers: openRouterHeaders,
			ans:     answer{body: chatOK("Hello there.", "stop")},
			want:    &echogen.LLMResponse{Text: "Hello there.", Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "extra headers", client: openai.NewCompatible, key: testKey, req: bare, body: bareBody,
			opts: openai.Options{ExtraHeaders: map[string]string{"X-Custom": "yes"}}, headers: map[string]string{"X-Custom": "yes"},
			ans:  answer{body: chatOK("hey", "stop")},
			want: &echogen.LLMResponse{Text: "hey", Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "truncated by max tokens", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:  answer{body: chatOK("Once upon a", "length")},
			want: &echogen.LLMResponse{Text: "Once upon a", Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "length"},
		},
		{
			name: "Ollama without key adds /v1", client: openai.NewOllama, req: bare, body: bareBody,
			baseURL: func(srv string) string { return srv + "/" },
			ans:     answer{body: chatOK("hey", "stop")},
			want:    &echogen.LLMResponse{Text: "hey", Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "Ollama base already ends in /v1", client: openai.NewOllama, req: bare, body: bareBody,
			ans:  answer{body: chatOK("hey", "stop")},
			want: &echogen.LLMResponse{Text: "hey", Model: "gpt-test-2025-01-01", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			name: "401 with OpenAI's error", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 401, body: openAIError("Incorrect API key provided: sk-test****cdef. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Incorrect API key provided: sk-test****cdef"},
		},
		{
			name: "403", client: openai.NewGroq, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 403, body: openAIError("Forbidden", "permission_error", "")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Forbidden"},
		},
		{
			name: "429 with Retry-After seconds", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 429, header: map[string]string{"Retry-After": "7"}, body: openAIError("Rate limit reached for gpt-test", "requests", "rate_limit_exceeded")},
			wantErr: &standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "Rate limit reached", RetryAfter: 7 * time.Second},
		},
		{
			name: "429 with retry-after-ms", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 429, header: map[string]string{"Retry-After": "2", "retry-after-ms": "1500"}, body: openAIError("slow down", "requests", "rate_limit_exceeded")},
			wantErr: &standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond},
		},
		{
			name: "429 with an HTTP date in the past", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 429, header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, body: openAIError("slow down", "requests", "")},
			wantErr: &standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "slow down"},
		},
		{
			name: "500 is not retried", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{status: 500, body: openAIError("The server had an error while processing your request.", "server_error", "")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "The server had an error"},
		},
		{
			name: "502 with an HTML page", client: openai.NewOpenRouter, key: testKey, req: baseRequest(), body: baseBody(), headers: openRouterHeaders,
			ans:     answer{status: 502, ctype: "text/html", body: "<html><body>Bad gateway</body></html>"},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "HTTP 502"},
		},
		{
			name: "402 from OpenRouter", client: openai.NewOpenRouter, key: testKey, req: baseRequest(), body: baseBody(), headers: openRouterHeaders,
			ans:     answer{status: 402, body: `{"error":{"message":"Insufficient credits","code":402}}`},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "Insufficient credits"},
		},
		{
			name: "404 with a plain error string", client: openai.NewOllama, req: bare, body: bareBody,
			ans:     answer{status: 404, body: `{"error":"model \"llama3\" not found, try pulling it first"}`},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: `model "llama3" not found`},
		},
		{
			name: "400 that echoes the key", client: openai.NewCompatible, key: testKey, req: bare, body: bareBody,
			ans:     answer{status: 400, body: openAIError("bad key "+testKey+" for model", "invalid_request_error", "")},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "bad key [redacted] for model"},
		},
		{
			name: "malformed JSON", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{body: `{"id":"chatcmpl-1","choices":[{"message":`},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse},
		},
		{
			name: "empty choices", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{body: `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "empty answer"},
		},
		{
			name: "empty content", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{body: chatOK("", "length")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "empty answer (finish reason length)"},
		},
		{
			name: "refusal", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			ans:     answer{body: `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRefused, Message: "I can't help with that."},
		},
		{
			name: "timeout", client: openai.NewOpenAI, key: testKey, req: baseRequest(), body: baseBody(),
			opts:    openai.Options{Timeout: 100 * time.Millisecond},
			ans:     answer{hang: true},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout},
		},
		{
			name: "compatible server needs a base URL", client: openai.NewCompatible, key: testKey, req: bare,
			baseURL: func(string) string { return "" }, calls: -1,
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: "base URL"},
		},
		{
			name: "base URL must be http(s)", client: openai.NewCompatible, key: testKey, req: bare,
			baseURL: func(string) string { return "file:///etc" }, calls: -1,
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest},
		},
		{
			name: "unknown role", client: openai.NewOpenAI, key: testKey, calls: -1,
			req:     echogen.LLMRequest{Model: "m", Messages: []echogen.LLMMessage{{Role: "tool", Content: "x"}}},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: `"tool"`},
		},
		{
			name: "no model", client: openai.NewOpenAI, key: testKey, calls: -1,
			req:     echogen.LLMRequest{Messages: []echogen.LLMMessage{{Role: "user", Content: "x"}}},
			wantErr: &standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if path == "" {
				path = "/v1/chat/completions"
			}
			st := &stub{t: t, path: path, key: tt.key, headers: tt.headers, body: tt.body, ans: tt.ans}
			srv := httptest.NewServer(st)
			defer srv.Close()
			opts := tt.opts
			opts.HTTPClient = srv.Client()
			req := tt.req
			if tt.baseURL != nil {
				req.BaseURL = tt.baseURL(srv.URL)
			} else {
				req.BaseURL = srv.URL + "/v1"
			}
			got, err := tt.client(opts).Complete(context.Background(), tt.key, req)

			wantCalls := tt.calls
			switch wantCalls {
			case 0:
				wantCalls = 1
			case -1:
				wantCalls = 0
			}
			if n := st.calls.Load(); n != wantCalls {
				t.Errorf("%d requests, want %d", n, wantCalls)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("response (-want +got):\n%s", d)
				}
				return
			}
			checkErr(t, err, *tt.wantErr)
			if got != nil {
				t.Errorf("response = %+v, want nil", got)
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

func TestCompleteNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + "/v1"
	srv.Close()
	req := baseRequest()
	req.BaseURL = base
	_, err := openai.NewCompatible(openai.Options{}).Complete(context.Background(), testKey, req)
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "could not reach"})
}

func TestCompleteCanceled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&stub{t: t, ans: answer{hang: true, noCheck: true}})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := baseRequest()
	req.BaseURL = srv.URL
	_, err := openai.NewCompatible(openai.Options{HTTPClient: srv.Client()}).Complete(ctx, testKey, req)
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled})
	if !errorsIs(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestEnvironmentIgnored: the SDK's OPENAI_* variables never reach a call.
func TestEnvironmentIgnored(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-env-must-not-be-used")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/nowhere")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Env: leaked")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, chatOK("ok", "stop"))
	}))
	defer srv.Close()
	req := baseRequest()
	req.BaseURL = srv.URL
	if _, err := openai.NewCompatible(openai.Options{HTTPClient: srv.Client()}).Complete(context.Background(), "", req); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	for _, h := range []string{"Authorization", "X-Env", "OpenAI-Organization"} {
		if v := hdr.Get(h); v != "" {
			t.Errorf("%s = %q, want none", h, v)
		}
	}
}

func TestListModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ans     answer
		want    []string
		wantErr *standin.WantErr
	}{
		{
			name: "success",
			ans: answer{body: `{"object":"list","data":[
				{"id":"gpt-b","object":"model","created":1686935002,"owned_by":"openai"},
				{"id":"gpt-a","object":"model","created":1686935002,"owned_by":"system"}]}`},
			want: []string{"gpt-a", "gpt-b"},
		},
		{
			name:    "401",
			ans:     answer{status: 401, body: openAIError("Incorrect API key provided: "+testKey, "invalid_request_error", "invalid_api_key")},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Incorrect API key provided: [redacted]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &stub{t: t, path: "/v1/models", key: testKey, ans: tt.ans}
			srv := httptest.NewServer(st)
			defer srv.Close()
			got, err := openai.NewOpenAI(openai.Options{HTTPClient: srv.Client()}).ListModels(context.Background(), testKey, srv.URL+"/v1")
			if st.calls.Load() != 1 {
				t.Errorf("%d requests, want 1", st.calls.Load())
			}
			if tt.wantErr != nil {
				checkErr(t, err, *tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("ListModels: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("models (-want +got):\n%s", d)
			}
		})
	}
}

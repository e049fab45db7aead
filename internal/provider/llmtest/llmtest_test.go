package llmtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/anthropic"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/llmtest"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
)

var wires = []llmtest.Wire{llmtest.OpenAI, llmtest.Gemini, llmtest.Anthropic}

// adapter is the real adapter of a wire, pointed at a stand-in.
type adapter struct {
	complete func(ctx context.Context, key string, req echogen.LLMRequest) (*echogen.LLMResponse, error)
	list     func(ctx context.Context, key string) ([]string, error)
}

func connect(s *llmtest.Server, wire llmtest.Wire) adapter {
	hc := s.Client()
	switch wire {
	case llmtest.OpenAI:
		c := openai.New("OpenAI", s.URL, openai.Options{HTTPClient: hc})
		return adapter{c.Complete, func(ctx context.Context, key string) ([]string, error) { return c.ListModels(ctx, key, "") }}
	case llmtest.Gemini:
		c := gemini.New(gemini.Options{HTTPClient: hc, BaseURL: s.URL})
		return adapter{c.Complete, c.ListModels}
	}
	c := anthropic.New(anthropic.Options{HTTPClient: hc, BaseURL: s.URL})
	return adapter{c.Complete, c.ListModels}
}

func ptr[T any](v T) *T { return &v }

const key = "test-key-0123"

var schema = map[string]any{
	"title":      "script",
	"type":       "object",
	"properties": map[string]any{"title": map[string]any{"type": "string"}},
	"required":   []any{"title"},
}

var turns = []echogen.LLMMessage{
	{Role: "user", Content: "Write one."},
	{Role: "assistant", Content: "Sure."},
	{Role: "user", Content: "Go on now."},
}

func TestComplete(t *testing.T) {
	t.Parallel()
	withSchema := echogen.LLMRequest{
		Model:    "model-x",
		Messages: append([]echogen.LLMMessage{{Role: "system", Content: "You write podcasts."}}, turns...),
		Schema:   schema, SchemaName: "script", Temperature: ptr(0.5), MaxTokens: 1000,
	}
	plain := echogen.LLMRequest{Model: "model-x", Messages: turns}
	schemaRequest := llmtest.Request{Model: "model-x", APIKey: key, System: "You write podcasts.", Messages: turns,
		SchemaName: "script", Schema: schema, Temperature: ptr(0.5), MaxTokens: 1000}
	plainRequest := llmtest.Request{Model: "model-x", APIKey: key, Messages: turns}

	tests := []struct {
		name    string
		req     echogen.LLMRequest
		reply   llmtest.Reply
		wantReq llmtest.Request
		want    *echogen.LLMResponse
		wantErr *standin.WantErr
	}{
		{
			name: "schema", req: withSchema, wantReq: schemaRequest,
			reply: llmtest.Reply{Text: `{"title":"Hi"}`, InputTokens: 12, OutputTokens: 34},
			want:  &echogen.LLMResponse{Text: `{"title":"Hi"}`, Model: "model-x", InputTokens: 12, OutputTokens: 34, FinishReason: "stop"},
		},
		{
			// Anthropic answers a text block, which its adapter falls back to.
			name: "schema, but text is not an object", req: withSchema, wantReq: schemaRequest,
			reply: llmtest.Reply{Text: "not JSON"},
			want:  &echogen.LLMResponse{Text: "not JSON", Model: "model-x", InputTokens: 9, OutputTokens: 2, FinishReason: "stop"},
		},
		{
			name: "plain text, counted tokens", req: plain, wantReq: plainRequest,
			reply: llmtest.Reply{Text: "Hello there, listener."},
			want:  &echogen.LLMResponse{Text: "Hello there, listener.", Model: "model-x", InputTokens: 6, OutputTokens: 3, FinishReason: "stop"},
		},
		{
			name: "truncated", req: plain, wantReq: plainRequest,
			reply: llmtest.Reply{Text: "Once upon a", Truncated: true},
			want:  &echogen.LLMResponse{Text: "Once upon a", Model: "model-x", InputTokens: 6, OutputTokens: 3, FinishReason: "length"},
		},
		{
			name: "429 with Retry-After", req: plain, wantReq: plainRequest,
			reply:   llmtest.Reply{Status: 429, Message: "slow down", RetryAfter: "7"},
			wantErr: &standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, RetryAfter: 7 * time.Second},
		},
		{
			name: "500", req: plain, wantReq: plainRequest,
			reply:   llmtest.Reply{Status: 500},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable},
		},
		{
			name: "401", req: plain, wantReq: plainRequest,
			reply:   llmtest.Reply{Status: 401, Message: "invalid key"},
			wantErr: &standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected},
		},
		{
			name: "502 page from a proxy", req: plain, wantReq: plainRequest,
			reply:   llmtest.Reply{Status: 502, Raw: "<html><body>Bad gateway</body></html>"},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable},
		},
		{
			// Every adapter reads a 200 it cannot parse as KindUnavailable.
			name: "malformed body", req: plain, wantReq: plainRequest,
			reply:   llmtest.Reply{Raw: `{"id":"x","choices":[{`},
			wantErr: &standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse},
		},
	}
	for _, wire := range wires {
		for _, tt := range tests {
			t.Run(wire.String()+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s := llmtest.New(t, wire, func(llmtest.Request) llmtest.Reply { return tt.reply })
				got, err := connect(s, wire).complete(context.Background(), key, tt.req)

				wantReq := tt.wantReq
				wantReq.Wire = wire
				if wire == llmtest.Anthropic && tt.req.MaxTokens == 0 {
					wantReq.MaxTokens = anthropic.DefaultMaxTokens // the API requires one
				}
				if d := cmp.Diff([]llmtest.Request{wantReq}, s.Requests()); d != "" {
					t.Errorf("requests (-want +got):\n%s", d)
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
				want := *tt.wantErr
				want.Message, want.NotContaining = tt.reply.Message, key
				standin.CheckErr(t, err, want)
			})
		}
	}
}

func TestListModels(t *testing.T) {
	t.Parallel()
	for _, wire := range wires {
		for _, ids := range [][]string{{"model-a", "model-b"}, nil} {
			t.Run(fmt.Sprintf("%v/%d", wire, len(ids)), func(t *testing.T) {
				t.Parallel()
				s := llmtest.New(t, wire, func(llmtest.Request) llmtest.Reply {
					t.Error("answer called for a model list")
					return llmtest.Reply{}
				})
				s.SetModels(ids...)
				got, err := connect(s, wire).list(context.Background(), key)
				if err != nil {
					t.Fatalf("ListModels: %v", err)
				}
				if d := cmp.Diff(ids, got, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("models (-want +got):\n%s", d)
				}
				if n := len(s.Requests()); n != 0 {
					t.Errorf("%d requests recorded, want 0", n)
				}
			})
		}
	}
}

// TestConcurrent sends many calls at once; each gets its own answer.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	for _, wire := range wires {
		t.Run(wire.String(), func(t *testing.T) {
			t.Parallel()
			s := llmtest.New(t, wire, func(r llmtest.Request) llmtest.Reply {
				return llmtest.Reply{Text: "re: " + r.Messages[0].Content}
			})
			a := connect(s, wire)
			const n = 8
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					msg := fmt.Sprintf("call %d", i)
					got, err := a.complete(context.Background(), key, echogen.LLMRequest{Model: "m", Messages: []echogen.LLMMessage{{Role: "user", Content: msg}}})
					if err != nil {
						t.Errorf("Complete: %v", err)
					} else if got.Text != "re: "+msg {
						t.Errorf("answer %q to %q", got.Text, msg)
					}
				})
			}
			wg.Wait()
			if got := len(s.Requests()); got != n {
				t.Errorf("%d requests recorded, want %d", got, n)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	ctJSON := map[string]string{"Content-Type": "application/json"}
	with := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for _, h := range []map[string]string{a, b} {
			for k, v := range h {
				m[k] = v
			}
		}
		return m
	}
	oaiAuth := with(ctJSON, map[string]string{"Authorization": "Bearer " + key})
	gemAuth := with(ctJSON, map[string]string{"x-goog-api-key": key})
	antAuth := with(ctJSON, map[string]string{"x-api-key": key, "anthropic-version": "2023-06-01"})
	oaiOK := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	gemPath := "/v1beta/models/m:generateContent"
	antOK := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

	tests := []struct {
		name    string
		wire    llmtest.Wire
		method  string // default POST
		path    string // after Server.URL
		header  map[string]string
		body    string
		wantErr string // in the reported error and the answer's message
	}{
		{"unknown field", llmtest.OpenAI, "", "/chat/completions", oaiAuth, `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, `unknown field "stream"`},
		{"unknown field in a part", llmtest.Anthropic, "", "/v1/messages", antAuth, `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}`, `unknown field "messages[0].content[0].cache_control"`},
		{"unknown nested field", llmtest.OpenAI, "", "/chat/completions", oaiAuth, `{"model":"m","messages":[{"role":"user","content":"hi","name":"bob"}]}`, `unknown field "messages[0].name"`},
		{"field in the wrong case", llmtest.OpenAI, "", "/chat/completions", oaiAuth, `{"Model":"m","messages":[{"role":"user","content":"hi"}]}`, `unknown field "Model"`},
		{"no model", llmtest.OpenAI, "", "/chat/completions", oaiAuth, `{"messages":[{"role":"user","content":"hi"}]}`, `missing required field "model"`},
		{"no key", llmtest.OpenAI, "", "/chat/completions", ctJSON, oaiOK, `Authorization = ""`},
		{"no content type", llmtest.OpenAI, "", "/chat/completions", map[string]string{"Authorization": "Bearer k"}, oaiOK, "Content-Type"},
		{"wrong path", llmtest.OpenAI, "", "/completions", oaiAuth, oaiOK, `unknown path "/v1/completions"`},
		{"wrong method", llmtest.OpenAI, http.MethodGet, "/chat/completions", oaiAuth, "", "method GET, want POST"},
		{"Gemini unknown config field", llmtest.Gemini, "", gemPath, gemAuth, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"topK":3}}`, `unknown field "generationConfig.topK"`},
		{"Gemini no contents", llmtest.Gemini, "", gemPath, gemAuth, `{"generationConfig":{}}`, `missing required field "contents"`},
		{"Gemini key in the query", llmtest.Gemini, http.MethodGet, "/v1beta/models?key=" + key, map[string]string{"x-goog-api-key": key}, "", "query"},
		{"Gemini schema without JSON", llmtest.Gemini, "", gemPath, gemAuth, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseJsonSchema":{"type":"object"}}}`, "responseMimeType"},
		{"Anthropic no max_tokens", llmtest.Anthropic, "", "/v1/messages", antAuth, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `missing required field "max_tokens"`},
		{"Anthropic no version", llmtest.Anthropic, "", "/v1/messages", with(ctJSON, map[string]string{"x-api-key": key}), antOK, "anthropic-version"},
		{"Anthropic Bearer key", llmtest.Anthropic, "", "/v1/messages", with(antAuth, map[string]string{"Authorization": "Bearer " + key}), antOK, "Authorization"},
		{"Anthropic unknown tool choice", llmtest.Anthropic, "", "/v1/messages", antAuth, `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"b"}}`, `tool_choice names "b", the tool is "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &standin.RecordingTB{TB: t}
			s := llmtest.New(rec, tt.wire, func(llmtest.Request) llmtest.Reply {
				t.Error("answer called for a bad request")
				return llmtest.Reply{}
			})
			status, _, body := standin.Send(t, s.Client(), tt.method, s.URL+tt.path, tt.header, tt.body)
			if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
				t.Errorf("reported %q, want one error with %q", errs, tt.wantErr)
			}
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", status)
			}
			if msg := errorMessage(t, tt.wire, body); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("answer's message %q does not contain %q", msg, tt.wantErr)
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests recorded, want 0", n)
			}
		})
	}
}

// errorMessage reads the message of a wire's 400 answer, checking its
// shape.
func errorMessage(t *testing.T, wire llmtest.Wire, body []byte) string {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Code    any    `json:"code"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error answer is not JSON: %v: %s", err, body)
	}
	var ok bool
	switch wire {
	case llmtest.OpenAI:
		ok = e.Error.Type == "invalid_request_error"
	case llmtest.Gemini:
		ok = e.Error.Code == float64(400) && e.Error.Status == "INVALID_ARGUMENT"
	case llmtest.Anthropic:
		ok = e.Type == "error" && e.Error.Type == "invalid_request_error"
	}
	if !ok {
		t.Errorf("%v error answer has the wrong shape: %s", wire, body)
	}
	return e.Error.Message
}

// TestAnswerBodies pins the exact answers, which the adapters read only in
// part (Anthropic's tool_use block reads the same as a text block).
func TestAnswerBodies(t *testing.T) {
	t.Parallel()
	oai := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + key}
	gem := map[string]string{"Content-Type": "application/json", "x-goog-api-key": key}
	ant := map[string]string{"Content-Type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01"}
	antTool := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi there"}],` +
		`"tools":[{"name":"script","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"script"}}`
	tests := []struct {
		name       string
		wire       llmtest.Wire
		path       string
		header     map[string]string
		body       string
		reply      llmtest.Reply
		wantStatus int
		want       string
	}{
		{
			name: "OpenAI truncated", wire: llmtest.OpenAI, path: "/chat/completions", header: oai,
			body:       `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi there"}]}]}`,
			reply:      llmtest.Reply{Text: "Once upon", Truncated: true},
			wantStatus: 200,
			want: `{"id":"chatcmpl-llmtest0","object":"chat.completion","created":1700000000,"model":"m",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Once upon","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"length"}],
				"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`,
		},
		{
			name: "OpenAI 429", wire: llmtest.OpenAI, path: "/chat/completions", header: oai,
			body:       `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			reply:      llmtest.Reply{Status: 429, Message: "Rate limit reached", RetryAfter: "7"},
			wantStatus: 429,
			want:       `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
		},
		{
			name: "Gemini success", wire: llmtest.Gemini, path: "/v1beta/models/m:generateContent", header: gem,
			body:       `{"contents":[{"role":"user","parts":[{"text":"hi "},{"text":"there"}]}]}`,
			reply:      llmtest.Reply{Text: "Hello"},
			wantStatus: 200,
			want: `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP","index":0}],
				"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1,"totalTokenCount":3},"modelVersion":"m","responseId":"llmtest0"}`,
		},
		{
			name: "Gemini 429", wire: llmtest.Gemini, path: "/v1beta/models/m:generateContent", header: gem,
			body:       `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
			reply:      llmtest.Reply{Status: 429, Message: "quota", RetryAfter: "7"},
			wantStatus: 429,
			want: `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
				"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`,
		},
		{
			name: "Anthropic forced tool", wire: llmtest.Anthropic, path: "/v1/messages", header: ant, body: antTool,
			reply:      llmtest.Reply{Text: `{"title":"Hi"}`},
			wantStatus: 200,
			want: `{"id":"msg_llmtest0","type":"message","role":"assistant","model":"m",
				"content":[{"type":"tool_use","id":"toolu_llmtest0","name":"script","input":{"title":"Hi"}}],
				"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":2,"output_tokens":1}}`,
		},
		{
			name: "Anthropic forced tool, text answer", wire: llmtest.Anthropic, path: "/v1/messages", header: ant, body: antTool,
			reply:      llmtest.Reply{Text: "no", Truncated: true},
			wantStatus: 200,
			want: `{"id":"msg_llmtest0","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"no"}],
				"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":2,"output_tokens":1}}`,
		},
		{
			name: "Anthropic 529", wire: llmtest.Anthropic, path: "/v1/messages", header: ant, body: antTool,
			reply:      llmtest.Reply{Status: 529, Message: "Overloaded"},
			wantStatus: 529,
			want:       `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_llmtest"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmtest.New(t, tt.wire, func(llmtest.Request) llmtest.Reply { return tt.reply })
			status, header, body := standin.Send(t, s.Client(), "", s.URL+tt.path, tt.header, tt.body)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			if got := header.Get("Retry-After"); got != tt.reply.RetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.reply.RetryAfter)
			}
			if d := standin.JSONDiff(t, tt.want, string(body)); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
		})
	}
}

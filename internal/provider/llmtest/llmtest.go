// Package llmtest is a stand-in for three language-model APIs, for tests:
// a real loopback HTTP server that speaks the OpenAI chat completions,
// Gemini generateContent or Anthropic Messages wire format, so the real
// adapters (internal/provider/openai, gemini, anthropic) and their SDKs run
// unchanged against it.
//
// It is strict: a request the real API would not take, or that the
// adapters are not meant to send (unknown fields, a missing key, a wrong
// path), fails the test and is answered 400 in the wire's error format.
package llmtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/standin"
)

// Wire is an API format the stand-in speaks.
type Wire int

const (
	OpenAI    Wire = iota + 1 // POST /v1/chat/completions, GET /v1/models
	Gemini                    // POST /v1beta/models/{model}:generateContent, GET /v1beta/models
	Anthropic                 // POST /v1/messages, GET /v1/models (anthropic-version 2023-06-01)
)

func (w Wire) String() string {
	if w >= OpenAI && w <= Anthropic {
		return [...]string{"OpenAI", "Gemini", "Anthropic"}[w-1]
	}
	return "Wire(" + strconv.Itoa(int(w)) + ")"
}

// Request is one call as the stand-in understood it, provider-neutral.
type Request struct {
	Wire        Wire
	Model       string
	APIKey      string               // from Authorization: Bearer / x-goog-api-key / x-api-key
	System      string               // system message(s) / systemInstruction / system, joined by "\n\n"
	Messages    []echogen.LLMMessage // user and assistant turns in order
	SchemaName  string               // OpenAI json_schema.name; Anthropic forced tool name; Gemini the schema's "title"
	Schema      map[string]any       // the JSON schema asked for, nil when none
	Temperature *float64
	MaxTokens   int
}

// Reply is what the stand-in answers.
type Reply struct {
	Text         string // the model's text (with a schema: the JSON document as text)
	InputTokens  int    // 0: the words of the prompt are counted
	OutputTokens int    // 0: the words of Text are counted
	Truncated    bool   // finish reason "length" / MAX_TOKENS / max_tokens
	Status       int    // >= 400: answer an error in the wire's error format
	Message      string // the error message for Status >= 400; default the status text
	RetryAfter   string // Retry-After header value, sent with any status
	Raw          string // when set: written verbatim as the body, with Status or 200
}

// Server is a running stand-in. It is safe for concurrent use.
type Server struct {
	// URL is what the adapter takes as its base URL: the server's root with
	// "/v1" for OpenAI (the SDK adds "/chat/completions"), the bare root for
	// Gemini and Anthropic (their SDKs add "/v1beta/…" and "/v1/…").
	URL string

	t      testing.TB
	wire   Wire
	answer func(Request) Reply
	srv    *httptest.Server
	reqs   standin.Recorder[Request]

	mu     sync.Mutex
	models []string
}

// New starts a stand-in for wire whose completions answer gives; it is
// closed by t.Cleanup. answer is called once per completion request,
// possibly concurrently.
func New(t testing.TB, wire Wire, answer func(Request) Reply) *Server {
	t.Helper()
	if wire < OpenAI || wire > Anthropic {
		t.Fatalf("llmtest.New: unknown wire %v", wire)
	}
	s := &Server{t: t, wire: wire, answer: answer, reqs: standin.Recorder[Request]{Clone: clone}}
	s.srv = standin.Start(t, s.serve)
	s.URL = s.srv.URL
	if wire == OpenAI {
		s.URL += "/v1"
	}
	return s
}

// Client returns an HTTP client for the server whose idle connections are
// closed with it.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns the completion requests received, in arrival order
// (model lists and rejected requests are not recorded).
func (s *Server) Requests() []Request { return s.reqs.All() }

// SetModels sets the IDs the model-list endpoint returns (none at first).
func (s *Server) SetModels(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = slices.Clone(ids)
}

func clone(r Request) Request {
	r.Messages = slices.Clone(r.Messages)
	r.Schema = maps.Clone(r.Schema)
	if r.Temperature != nil {
		t := *r.Temperature
		r.Temperature = &t
	}
	return r
}

// serve routes, checks and answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	list, model, err := s.route(r)
	var key string
	if err == nil {
		key, err = s.checkHeaders(r, !list)
	}
	if err != nil {
		s.reject(w, r, err)
		return
	}
	if list {
		s.mu.Lock()
		ids := slices.Clone(s.models)
		s.mu.Unlock()
		standin.WriteJSON(w, http.StatusOK, s.modelList(ids))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	var req Request
	if err == nil {
		req, err = s.decode(body, model)
	}
	if err != nil {
		s.reject(w, r, err)
		return
	}
	req.Wire, req.APIKey = s.wire, key
	n := s.reqs.Add(req)

	rep := s.answer(req)
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	switch {
	case rep.Raw != "":
		standin.WriteRaw(w, rep.Status, rep.Raw)
	case rep.Status >= 400:
		standin.WriteJSON(w, rep.Status, s.errorBody(rep.Status, cmp.Or(rep.Message, http.StatusText(rep.Status)), rep.RetryAfter))
	default:
		in, out := rep.InputTokens, rep.OutputTokens
		if in == 0 {
			in = words(req.System)
			for _, m := range req.Messages {
				in += words(m.Content)
			}
		}
		if out == 0 {
			out = words(rep.Text)
		}
		standin.WriteJSON(w, http.StatusOK, s.success(n, req, rep, in, out))
	}
}

func words(s string) int { return len(strings.Fields(s)) }

// reject fails the test and answers 400 as the real API answers a bad
// request.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, err error) {
	standin.Reject(s.t, w, r, "llmtest "+s.wire.String(), err, s.errorBody(http.StatusBadRequest, err.Error(), ""))
}

// route tells a model-list request from a completion and checks the
// method and the query; model is Gemini's model from the path.
func (s *Server) route(r *http.Request) (list bool, model string, err error) {
	p := r.URL.Path
	var complete bool
	var query []string // allowed query parameters
	switch s.wire {
	case OpenAI:
		list, complete = p == "/v1/models", p == "/v1/chat/completions"
	case Gemini:
		list, query = p == "/v1beta/models", []string{"pageSize", "pageToken"}
		if rest, ok := strings.CutPrefix(p, "/v1beta/models/"); ok {
			model, complete = strings.CutSuffix(rest, ":generateContent")
			if complete && (model == "" || strings.Contains(model, "/")) {
				return false, "", fmt.Errorf("bad model %q in the path", model)
			}
		}
	case Anthropic:
		list, complete, query = p == "/v1/models", p == "/v1/messages", []string{"limit", "after_id", "before_id"}
	}
	want := http.MethodGet
	switch {
	case complete:
		want, query = http.MethodPost, nil
	case !list:
		return false, "", fmt.Errorf("unknown path %q", p)
	}
	if r.Method != want {
		return false, "", fmt.Errorf("method %s, want %s", r.Method, want)
	}
	return list, model, standin.Query(r, query...)
}

// checkHeaders checks and returns the key, checks Anthropic's version and,
// on a POST, the content type.
func (s *Server) checkHeaders(r *http.Request, post bool) (string, error) {
	h := r.Header
	var key string
	var err error
	switch s.wire {
	case OpenAI:
		key, err = standin.BearerKey(h)
	case Gemini:
		key, err = standin.HeaderKey(h, "x-goog-api-key")
	case Anthropic:
		if key, err = standin.HeaderKey(h, "x-api-key"); err != nil {
			return "", err
		}
		if h.Get("Authorization") != "" {
			return "", fmt.Errorf("an Authorization header; API 2023-06-01 takes the key in x-api-key")
		}
		if v := h.Get("anthropic-version"); v != "2023-06-01" {
			return "", fmt.Errorf("anthropic-version = %q, want \"2023-06-01\"", v)
		}
	}
	if err == nil && post {
		err = standin.JSONContent(h)
	}
	return key, err
}

// textPart is a text block of OpenAI's and Anthropic's content arrays.
type textPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// text reads content that is a string or an array of text parts.
func text(raw json.RawMessage, at string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("missing required field %q", at)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []textPart
	if err := standin.StrictAt(raw, &parts, at); err != nil {
		return "", err
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("%s[%d].type = %q, want \"text\"", at, i, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// decode reads a completion request's body.
func (s *Server) decode(body []byte, model string) (Request, error) {
	switch s.wire {
	case OpenAI:
		return decodeOpenAI(body)
	case Gemini:
		return decodeGemini(body, model)
	}
	return decodeAnthropic(body)
}

func decodeOpenAI(body []byte) (Request, error) {
	var b struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Temperature    *float64 `json:"temperature"`
		MaxTokens      int      `json:"max_tokens"`
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string         `json:"name"`
				Schema map[string]any `json:"schema"`
				Strict *bool          `json:"strict"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Model: b.Model, Temperature: b.Temperature, MaxTokens: b.MaxTokens}
	if err := standin.Required("model", b.Model != "", "messages", len(b.Messages) > 0); err != nil {
		return req, err
	}
	var system []string
	for i, m := range b.Messages {
		c, err := text(m.Content, fmt.Sprintf("messages[%d].content", i))
		if err != nil {
			return req, err
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, c)
		case "user", "assistant":
			req.Messages = append(req.Messages, echogen.LLMMessage{Role: m.Role, Content: c})
		default:
			return req, fmt.Errorf("messages[%d].role = %q, want system, developer, user or assistant", i, m.Role)
		}
	}
	req.System = strings.Join(system, "\n\n")
	if rf := b.ResponseFormat; rf != nil {
		// The adapter asks only for json_schema, which needs a name.
		if rf.Type != "json_schema" || rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
			return req, fmt.Errorf("response_format wants type \"json_schema\" and json_schema.name")
		}
		req.SchemaName, req.Schema = rf.JSONSchema.Name, rf.JSONSchema.Schema
	}
	return req, nil
}

func decodeGemini(body []byte, model string) (Request, error) {
	type content struct {
		Role  string `json:"role"`
		Parts []struct {
			Text *string `json:"text"`
		} `json:"parts"`
	}
	var b struct {
		Contents          []content `json:"contents"`
		SystemInstruction *content  `json:"systemInstruction"`
		GenerationConfig  *struct {
			Temperature        *float64       `json:"temperature"`
			MaxOutputTokens    int            `json:"maxOutputTokens"`
			ResponseMimeType   string         `json:"responseMimeType"`
			ResponseJSONSchema map[string]any `json:"responseJsonSchema"`
		} `json:"generationConfig"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Model: model}
	if err := standin.Required("contents", len(b.Contents) > 0); err != nil {
		return req, err
	}
	join := func(c content, at string) (string, error) {
		if len(c.Parts) == 0 {
			return "", fmt.Errorf("%s.parts is empty", at)
		}
		var sb strings.Builder
		for i, p := range c.Parts {
			if p.Text == nil {
				return "", fmt.Errorf("%s.parts[%d] has no text", at, i)
			}
			sb.WriteString(*p.Text)
		}
		return sb.String(), nil
	}
	if si := b.SystemInstruction; si != nil {
		if si.Role != "" && si.Role != "user" {
			return req, fmt.Errorf("systemInstruction.role = %q", si.Role)
		}
		var err error
		if req.System, err = join(*si, "systemInstruction"); err != nil {
			return req, err
		}
	}
	for i, c := range b.Contents {
		at := fmt.Sprintf("contents[%d]", i)
		t, err := join(c, at)
		if err != nil {
			return req, err
		}
		switch c.Role {
		case "user":
			req.Messages = append(req.Messages, echogen.LLMMessage{Role: "user", Content: t})
		case "model":
			req.Messages = append(req.Messages, echogen.LLMMessage{Role: "assistant", Content: t})
		default:
			return req, fmt.Errorf("%s.role = %q, want user or model", at, c.Role)
		}
	}
	if gc := b.GenerationConfig; gc != nil {
		req.Temperature, req.MaxTokens, req.Schema = gc.Temperature, gc.MaxOutputTokens, gc.ResponseJSONSchema
		if gc.ResponseJSONSchema != nil && gc.ResponseMimeType != "application/json" {
			return req, fmt.Errorf("generationConfig.responseJsonSchema needs responseMimeType \"application/json\", not %q", gc.ResponseMimeType)
		}
		req.SchemaName, _ = req.Schema["title"].(string)
	}
	return req, nil
}

func decodeAnthropic(body []byte) (Request, error) {
	var b struct {
		Model     string `json:"model"`
		MaxTokens *int   `json:"max_tokens"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		System      json.RawMessage `json:"system"`
		Temperature *float64        `json:"temperature"`
		Tools       []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"input_schema"`
		} `json:"tools"`
		ToolChoice *struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tool_choice"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Model: b.Model, Temperature: b.Temperature}
	if err := standin.Required("model", b.Model != "", "max_tokens", b.MaxTokens != nil, "messages", len(b.Messages) > 0); err != nil {
		return req, err
	}
	if req.MaxTokens = *b.MaxTokens; req.MaxTokens < 1 {
		return req, fmt.Errorf("max_tokens = %d, want at least 1", req.MaxTokens)
	}
	if len(b.System) > 0 {
		var err error
		if req.System, err = text(b.System, "system"); err != nil {
			return req, err
		}
	}
	for i, m := range b.Messages {
		c, err := text(m.Content, fmt.Sprintf("messages[%d].content", i))
		if err != nil {
			return req, err
		}
		if m.Role != "user" && m.Role != "assistant" {
			return req, fmt.Errorf("messages[%d].role = %q, want user or assistant", i, m.Role)
		}
		req.Messages = append(req.Messages, echogen.LLMMessage{Role: m.Role, Content: c})
	}
	// The adapter sends one tool, forced, for structured output.
	if len(b.Tools) > 0 || b.ToolChoice != nil {
		tc := b.ToolChoice
		switch {
		case len(b.Tools) != 1 || tc == nil || tc.Type != "tool":
			return req, fmt.Errorf("want one tool forced by tool_choice {\"type\":\"tool\"}")
		case tc.Name != b.Tools[0].Name || tc.Name == "":
			return req, fmt.Errorf("tool_choice names %q, the tool is %q", tc.Name, b.Tools[0].Name)
		case b.Tools[0].InputSchema["type"] != "object":
			return req, fmt.Errorf("tools[0].input_schema.type must be \"object\"")
		}
		req.SchemaName, req.Schema = tc.Name, b.Tools[0].InputSchema
	}
	return req, nil
}

// success is a completion's answer body.
func (s *Server) success(n int, req Request, rep Reply, in, out int) any {
	switch s.wire {
	case OpenAI:
		finish := "stop"
		if rep.Truncated {
			finish = "length"
		}
		return map[string]any{
			"id": fmt.Sprintf("chatcmpl-llmtest%d", n), "object": "chat.completion", "created": 1700000000, "model": req.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": rep.Text, "refusal": nil, "annotations": []any{}},
				"logprobs":      nil,
				"finish_reason": finish,
			}},
			"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
		}
	case Gemini:
		finish := "STOP"
		if rep.Truncated {
			finish = "MAX_TOKENS"
		}
		return map[string]any{
			"candidates": []any{map[string]any{
				"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": rep.Text}}},
				"finishReason": finish,
				"index":        0,
			}},
			"usageMetadata": map[string]any{"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out},
			"modelVersion":  req.Model,
			"responseId":    fmt.Sprintf("llmtest%d", n),
		}
	}
	stop, content := "end_turn", []any{}
	var input map[string]any
	if req.SchemaName != "" && json.Unmarshal([]byte(rep.Text), &input) == nil && input != nil {
		// A forced tool answers with a tool_use block, never text.
		stop = "tool_use"
		content = append(content, map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_llmtest%d", n), "name": req.SchemaName, "input": input})
	} else if rep.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": rep.Text})
	}
	if rep.Truncated {
		stop = "max_tokens"
	}
	return map[string]any{
		"id": fmt.Sprintf("msg_llmtest%d", n), "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out},
	}
}

// errorBody is the wire's error answer for an HTTP status.
func (s *Server) errorBody(status int, msg, retryAfter string) any {
	switch s.wire {
	case OpenAI:
		return standin.OpenAIError(status, msg, "")
	case Gemini:
		return standin.GoogleError(status, msg, "", retryAfter)
	}
	typ := map[int]string{400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}[status]
	if typ == "" {
		typ = "invalid_request_error"
		if status >= 500 {
			typ = "api_error"
		}
	}
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_llmtest"}
}

// modelList is the model-list endpoint's answer.
func (s *Server) modelList(ids []string) any {
	data := make([]any, 0, len(ids))
	switch s.wire {
	case OpenAI:
		for _, id := range ids {
			data = append(data, map[string]any{"id": id, "object": "model", "created": 1700000000, "owned_by": "llmtest"})
		}
		return map[string]any{"object": "list", "data": data}
	case Gemini:
		for _, id := range ids {
			data = append(data, map[string]any{"name": "models/" + id, "displayName": id,
				"supportedGenerationMethods": []any{"generateContent", "countTokens"}})
		}
		return map[string]any{"models": data}
	}
	var first, last any
	for _, id := range ids {
		data = append(data, map[string]any{"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"})
	}
	if len(ids) > 0 {
		first, last = ids[0], ids[len(ids)-1]
	}
	return map[string]any{"data": data, "has_more": false, "first_id": first, "last_id": last}
}

// Package gemini talks to Google's Gemini API (generativelanguage.googleapis.com)
// with the official SDK (google.golang.org/genai). Client implements
// echogen.LLM.
//
// The SDK's retries and automatic continuation are off (the job queue
// retries), each call has its own timeout, and the SDK's environment
// defaults (GOOGLE_API_KEY, GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL,
// GOOGLE_GENAI_USE_VERTEXAI, …) never take effect: the backend, the base URL
// and the user's key are always set explicitly, and an empty key is refused
// before the SDK sees it. The key travels only in the x-goog-api-key header
// and no returned error contains it.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/genai"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

// DefaultBaseURL is the Gemini API's root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/"

// APIVersion is the API version the client speaks.
const APIVersion = "v1beta"

// DefaultTimeout bounds one call when Options.Timeout is zero.
const DefaultTimeout = 4 * time.Minute

const (
	name          = "Gemini"
	maxRetryAfter = time.Hour
	maxModelPages = 20
)

// Errors carry the codes of providerhttp (LLMKeyRejected, LLMRateLimited, …).

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests; nil means a plain &http.Client{}.
	HTTPClient *http.Client
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// BaseURL replaces DefaultBaseURL (tests, proxies).
	BaseURL string
}

// Client calls the Gemini API. It is safe for concurrent use.
type Client struct {
	hc      *http.Client
	timeout time.Duration
	base    string
}

var _ echogen.LLM = (*Client)(nil)

// New returns a Client.
func New(opts Options) *Client {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := strings.TrimSpace(opts.BaseURL)
	if base == "" {
		base = DefaultBaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &Client{hc: hc, timeout: timeout, base: base}
}

// recorder remembers the last HTTP answer of one call, whose status and
// headers (Retry-After) the SDK's errors do not carry.
type recorder struct {
	next http.RoundTripper

	mu     sync.Mutex
	status int
	header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if resp != nil {
		r.mu.Lock()
		r.status, r.header = resp.StatusCode, resp.Header.Clone()
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) last() (int, http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.header
}

// sdk returns an SDK client for one call, with the key set and every
// environment default overridden.
func (c *Client) sdk(ctx context.Context, apiKey string) (*genai.Client, *recorder, error) {
	if strings.TrimSpace(apiKey) == "" {
		// An empty key would make the SDK fall back to GOOGLE_API_KEY / GEMINI_API_KEY.
		return nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no %s API key", name)
	}
	if !providerhttp.ValidHeaderValue(apiKey) {
		return nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest,
			"the %s API key contains characters that cannot be sent in a request header", name)
	}
	next := c.hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	rec := &recorder{next: next}
	hc := *c.hc
	hc.Transport = rec
	cl, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:     apiKey,
		Backend:    genai.BackendGeminiAPI,
		HTTPClient: &hc,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:      c.base,
			APIVersion:   APIVersion,
			RetryOptions: &genai.HTTPRetryOptions{Attempts: genai.Ptr[int32](1)},
		},
	})
	if err != nil {
		// The SDK's message prints the whole config, key included: never keep it.
		return nil, nil, &echogen.Error{Kind: echogen.KindInternal, Code: providerhttp.LLMInvalidRequest,
			Message: "could not set up the " + name + " client"}
	}
	return cl, rec, nil
}

// Complete implements echogen.LLM.
//
// Errors: KindUnauthenticated when Gemini refuses the key (401, 403, or
// 400 INVALID_ARGUMENT "API key not valid"); KindRateLimited, with
// RetryAfter from the Retry-After header or the error's RetryInfo, on 429
// or RESOURCE_EXHAUSTED; KindUnavailable on a 5xx, a network error, a
// timeout, an answer that cannot be read or a candidate without text;
// KindBadRequest on another 4xx, a request that cannot be sent, or an
// answer blocked by Gemini (no candidates, promptFeedback.blockReason, a
// SAFETY-like finish reason). An answer cut short by max tokens is no
// error: FinishReason says "length".
func (c *Client) Complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	resp, err := c.complete(ctx, apiKey, req)
	return resp, providerhttp.RedactError(err, apiKey)
}

func (c *Client) complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	model, contents, cfg, err := params(req)
	if err != nil {
		return nil, err
	}
	cl, rec, err := c.sdk(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	out, err := c.generateContent(ctx, cl, rec, apiKey, model, contents, cfg)
	if err != nil {
		return nil, err
	}
	return answer(out, req.Model, apiKey)
}

// generateContent makes one call under the client's timeout and maps a
// failed call's error.
func (c *Client) generateContent(ctx context.Context, cl *genai.Client, rec *recorder, apiKey, model string, contents []*genai.Content, cfg *genai.GenerateContentConfig) (*genai.GenerateContentResponse, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()
	out, err := cl.Models.GenerateContent(ctx, model, contents, cfg)
	if err != nil {
		return nil, callError(ctx, rec, err, apiKey)
	}
	return out, nil
}

// params maps an LLMRequest to the SDK's arguments.
func params(req echogen.LLMRequest) (string, []*genai.Content, *genai.GenerateContentConfig, error) {
	model := strings.TrimPrefix(strings.TrimSpace(req.Model), "models/")
	if model == "" {
		return "", nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no model given for %s", name)
	}
	if strings.ContainsAny(model, "/?#%:\\ ") || model == "." || model == ".." {
		return "", nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "%q is not a %s model name", providerhttp.Clean(model), name)
	}
	cfg := &genai.GenerateContentConfig{AutomaticContinuation: genai.Ptr(false)}
	var system []*genai.Part
	var contents []*genai.Content
	for _, m := range req.Messages {
		switch m.Role {
		case "system", "developer":
			system = append(system, &genai.Part{Text: m.Content})
		case "user":
			contents = append(contents, &genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{{Text: m.Content}}})
		case "assistant":
			contents = append(contents, &genai.Content{Role: genai.RoleModel, Parts: []*genai.Part{{Text: m.Content}}})
		default:
			return "", nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "unknown message role %q", providerhttp.Clean(m.Role))
		}
	}
	if len(contents) == 0 {
		return "", nil, nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no user message to send to %s", name)
	}
	if len(system) > 0 {
		cfg.SystemInstruction = &genai.Content{Parts: system}
	}
	if req.Temperature != nil {
		cfg.Temperature = genai.Ptr(float32(*req.Temperature))
	}
	if req.MaxTokens > 0 {
		cfg.MaxOutputTokens = int32(min(req.MaxTokens, 1<<31-1))
	}
	if req.Schema != nil {
		cfg.ResponseMIMEType = "application/json"
		cfg.ResponseJsonSchema = req.Schema
	}
	return model, contents, cfg, nil
}

// blockedFinish are the finish reasons of an answer Gemini withheld.
var blockedFinish = map[genai.FinishReason]bool{
	genai.FinishReasonSafety:            true,
	genai.FinishReasonRecitation:        true,
	genai.FinishReasonBlocklist:         true,
	genai.FinishReasonProhibitedContent: true,
	genai.FinishReasonSPII:              true,
	genai.FinishReasonImageSafety:       true,
}

// answer reads a GenerateContentResponse.
func answer(out *genai.GenerateContentResponse, requested, apiKey string) (*echogen.LLMResponse, error) {
	clean := func(s string) string { return providerhttp.Clean(providerhttp.Scrub(s, apiKey)) }
	blocked := func(why string) error {
		return echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMRefused, "blocked by %s: %s", name, why)
	}
	if out == nil {
		return nil, blocked("no answer")
	}
	if pf := out.PromptFeedback; pf != nil && pf.BlockReason != "" && pf.BlockReason != genai.BlockedReasonUnspecified {
		why := "the prompt (" + clean(string(pf.BlockReason)) + ")"
		if m := clean(pf.BlockReasonMessage); m != "" {
			why += ": " + m
		}
		return nil, blocked(why)
	}
	if len(out.Candidates) == 0 || out.Candidates[0] == nil {
		return nil, blocked("no candidates in the answer")
	}
	cand := out.Candidates[0]
	if blockedFinish[cand.FinishReason] {
		why := "the answer (" + clean(string(cand.FinishReason)) + ")"
		if m := clean(cand.FinishMessage); m != "" {
			why += ": " + m
		}
		return nil, blocked(why)
	}
	var text strings.Builder
	if cand.Content != nil {
		for _, p := range cand.Content.Parts {
			if p != nil && !p.Thought {
				text.WriteString(p.Text)
			}
		}
	}
	finish := finishReason(cand.FinishReason)
	if strings.TrimSpace(text.String()) == "" {
		msg := name + " sent an empty answer"
		if finish != "" {
			msg += " (finish reason " + clean(finish) + ")"
		}
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: msg}
	}
	model := out.ModelVersion
	if model == "" {
		model = strings.TrimPrefix(strings.TrimSpace(requested), "models/")
	}
	r := &echogen.LLMResponse{Text: text.String(), Model: model, FinishReason: finish}
	if u := out.UsageMetadata; u != nil {
		r.InputTokens = int(u.PromptTokenCount)
		r.OutputTokens = int(u.CandidatesTokenCount) + int(u.ThoughtsTokenCount)
	}
	return r, nil
}

// finishReason writes Gemini's finish reason the way the LLM port does:
// STOP is "stop", MAX_TOKENS "length", others lower case.
func finishReason(f genai.FinishReason) string {
	switch f {
	case "", genai.FinishReasonUnspecified:
		return ""
	case genai.FinishReasonStop:
		return "stop"
	case genai.FinishReasonMaxTokens:
		return "length"
	}
	return strings.ToLower(string(f))
}

// ListModels returns the names (without "models/") of the models the key
// may use that support generateContent, from GET /v1beta/models. Errors are
// those of Complete.
func (c *Client) ListModels(ctx context.Context, apiKey string) ([]string, error) {
	ids, err := c.listModels(ctx, apiKey)
	return ids, providerhttp.RedactError(err, apiKey)
}

func (c *Client) listModels(ctx context.Context, apiKey string) ([]string, error) {
	cl, rec, err := c.sdk(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	page, err := cl.Models.List(cctx, &genai.ListModelsConfig{PageSize: 1000})
	var ids []string
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if errors.Is(err, genai.ErrPageDone) {
			break
		}
		if err != nil {
			return nil, callError(cctx, rec, err, apiKey)
		}
		for _, m := range page.Items {
			if m == nil || !generates(m) {
				continue
			}
			id := strings.TrimPrefix(m.Name, "models/")
			if id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if i+1 >= maxModelPages {
			break
		}
		page, err = page.Next(cctx)
	}
	return ids, nil
}

// generates tells whether a model supports generateContent; a model that
// does not list its actions is kept.
func generates(m *genai.Model) bool {
	if len(m.SupportedActions) == 0 {
		return true
	}
	for _, a := range m.SupportedActions {
		if a == "generateContent" {
			return true
		}
	}
	return false
}

// callError maps an error of the SDK to an *echogen.Error.
func callError(ctx context.Context, rec *recorder, err error, apiKey string) error {
	status, header := rec.last()
	if ctx.Err() == nil {
		var apiErr genai.APIError
		if errors.As(err, &apiErr) {
			if status < 400 && apiErr.Code >= 400 {
				status = apiErr.Code
			}
			return statusError(status, header, apiErr, apiKey)
		}
		if status >= 400 {
			return statusError(status, header, genai.APIError{}, apiKey)
		}
	}
	return providerhttp.LLMCallError(ctx, name, err, status != 0, apiKey)
}

// statusError maps an error answer. The SDK's error is not kept as the
// cause; only the status and the API's message are.
func statusError(code int, h http.Header, e genai.APIError, apiKey string) error {
	said := e.Message
	if t := strings.TrimSpace(said); strings.HasPrefix(t, "<") {
		said = "" // an HTML page from a proxy
	}
	cause := fmt.Sprintf("HTTP %d %s", code, e.Status)
	if code < 400 {
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
			Message: fmt.Sprintf("%s sent an unexpected answer (HTTP %d)", name, code), Err: errors.New(cause)}
	}
	llmCode := providerhttp.LLMCodeOf(code)
	switch {
	case keyInvalid(code, e):
		llmCode = providerhttp.LLMKeyRejected
	case e.Status == "RESOURCE_EXHAUSTED":
		llmCode = providerhttp.LLMRateLimited
	case e.Status == "DEADLINE_EXCEEDED":
		llmCode = providerhttp.LLMTimeout
	}
	return providerhttp.LLMStatusError(name, llmCode, code, said, cause, retryAfter(h, e, time.Now()), apiKey)
}

// keyInvalid tells a refused key, which Gemini answers with 400
// INVALID_ARGUMENT, "API key not valid" and ErrorInfo reason
// API_KEY_INVALID.
func keyInvalid(code int, e genai.APIError) bool {
	if code != http.StatusBadRequest {
		return false
	}
	for _, d := range e.Details {
		if r, _ := d["reason"].(string); r == "API_KEY_INVALID" {
			return true
		}
	}
	return (e.Status == "" || e.Status == "INVALID_ARGUMENT") &&
		strings.Contains(strings.ToLower(e.Message), "api key not valid")
}

// retryAfter reads the Retry-After header or, without one, the retryDelay
// of the error's google.rpc.RetryInfo ("7s"), capped at maxRetryAfter.
func retryAfter(h http.Header, e genai.APIError, now time.Time) time.Duration {
	if d := providerhttp.RetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	for _, d := range e.Details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		s, _ := d["retryDelay"].(string)
		if v, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && v > 0 {
			return min(v, maxRetryAfter)
		}
	}
	return 0
}

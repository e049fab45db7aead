// Package openai talks to every OpenAI-compatible chat API — OpenAI, Groq,
// OpenRouter, Ollama and any other server that speaks
// POST {base}/chat/completions — with the official SDK
// (github.com/openai/openai-go/v3). Client implements echogen.LLM.
//
// The SDK's own retries are off (the job queue retries), each call has its
// own timeout, and the SDK's environment defaults (OPENAI_API_KEY,
// OPENAI_BASE_URL, OPENAI_CUSTOM_HEADERS, …) are never read: the user's key
// and the provider's base URL are the only ones used. The key travels only
// in the Authorization header and no returned error contains it.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/echogen/server/internal/provider/providerhttp"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/echogen/server/internal/echogen"
)

// Base URLs of the hosted providers.
const (
	OpenAIBaseURL     = "https://api.openai.com/v1"
	GroqBaseURL       = "https://api.groq.com/openai/v1"
	OpenRouterBaseURL = "https://openrouter.ai/api/v1"
)

// DefaultTimeout bounds one call when Options.Timeout is zero. A job
// attempt has 5 minutes; this leaves it time to record the failure.
const DefaultTimeout = 4 * time.Minute

// DefaultSchemaName names the JSON schema of a request that gives none.
const DefaultSchemaName = "response"

// maxRetryAfter caps a server's Retry-After.
const maxRetryAfter = time.Hour

// Errors carry the codes of providerhttp (LLMKeyRejected, LLMRateLimited, …).

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests; nil means a plain &http.Client{}.
	HTTPClient *http.Client
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// ExtraHeaders are sent with every request (OpenRouter's attribution).
	ExtraHeaders map[string]string
}

// Client calls one OpenAI-compatible provider. It is safe for concurrent
// use.
type Client struct {
	name        string
	base        string // default base URL; empty when every request names one
	baseSuffix  string // appended to a request's BaseURL ("/v1" for Ollama)
	timeout     time.Duration
	baseOptions []option.RequestOption
}

var _ echogen.LLM = (*Client)(nil)

// New returns a Client for the provider called name (used in messages)
// whose API lives at defaultBaseURL. A request's BaseURL, when set,
// replaces defaultBaseURL; with both empty a call fails.
func New(name, defaultBaseURL string, opts Options) *Client {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := []option.RequestOption{
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
	}
	keys := make([]string, 0, len(opts.ExtraHeaders))
	for k := range opts.ExtraHeaders {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		base = append(base, option.WithHeader(k, opts.ExtraHeaders[k]))
	}
	return &Client{
		name:        name,
		base:        strings.TrimRight(defaultBaseURL, "/"),
		timeout:     timeout,
		baseOptions: base,
	}
}

// NewOpenAI returns a Client for OpenAI.
func NewOpenAI(opts Options) *Client { return New("OpenAI", OpenAIBaseURL, opts) }

// NewGroq returns a Client for Groq.
func NewGroq(opts Options) *Client { return New("Groq", GroqBaseURL, opts) }

// NewOpenRouter returns a Client for OpenRouter, sending the attribution
// headers the app sent (HTTP-Referer, X-Title) next to opts.ExtraHeaders.
func NewOpenRouter(opts Options) *Client {
	h := map[string]string{"HTTP-Referer": "https://echogen.ai", "X-Title": "EchoGen.ai"}
	for k, v := range opts.ExtraHeaders {
		h[k] = v
	}
	opts.ExtraHeaders = h
	return New("OpenRouter", OpenRouterBaseURL, opts)
}

// NewCompatible returns a Client for any OpenAI-compatible server; each
// request must name it in BaseURL (the API root, such as
// http://host:8000/v1).
func NewCompatible(opts Options) *Client { return New("the OpenAI-compatible server", "", opts) }

// NewOllama returns a Client for Ollama's OpenAI-compatible API; each
// request names the server in BaseURL (http://host:11434), to which "/v1"
// is added unless it is there already.
func NewOllama(opts Options) *Client {
	c := New("Ollama", "", opts)
	c.baseSuffix = "/v1"
	return c
}

// baseURL returns the API root for a request's BaseURL.
func (c *Client) baseURL(reqBase string) (string, error) {
	b := strings.TrimRight(strings.TrimSpace(reqBase), "/")
	if b != "" && c.baseSuffix != "" && !strings.HasSuffix(b, c.baseSuffix) {
		b += c.baseSuffix
	}
	if b == "" {
		b = c.base
	}
	if b == "" {
		return "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "%s needs a base URL", c.name)
	}
	u, err := url.Parse(b)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "the base URL of %s is not an http(s) URL", c.name)
	}
	return b, nil
}

// callOptions are a call's SDK options.
func (c *Client) callOptions(apiKey, base string, raw **http.Response) []option.RequestOption {
	return append(slices.Clip(c.baseOptions),
		option.WithBaseURL(base),
		option.WithAPIKey(apiKey),
		option.WithResponseInto(raw),
	)
}

// send makes one SDK request (call, a service method) under the client's
// timeout and maps a failed request's error. The answer must be read by
// the time call returns: its context ends with send.
func send[P, R any](ctx context.Context, c *Client, apiKey, base string, call func(context.Context, P, ...option.RequestOption) (R, error), params P) (R, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()
	var raw *http.Response
	res, err := call(ctx, params, c.callOptions(apiKey, base, &raw)...)
	if err != nil {
		var none R
		return none, c.callError(ctx, raw, err, apiKey)
	}
	return res, nil
}

// Complete implements echogen.LLM.
//
// Errors: KindUnauthenticated when the provider refuses the key (401,
// 403); KindRateLimited, with RetryAfter, on 429; KindUnavailable on a
// 5xx, a 408, a network error, a timeout, an answer that cannot be read or
// an empty answer; KindBadRequest on another 4xx, a refusal by the model,
// or a request that cannot be sent. A completion cut short by max tokens
// is no error: FinishReason says "length".
func (c *Client) Complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	resp, err := c.complete(ctx, apiKey, req)
	return resp, providerhttp.RedactError(err, apiKey)
}

func (c *Client) complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	params, err := c.params(req)
	if err != nil {
		return nil, err
	}
	base, err := c.baseURL(req.BaseURL)
	if err != nil {
		return nil, err
	}
	svc := openai.NewChatCompletionService()
	comp, err := send(ctx, c, apiKey, base, svc.New, params)
	if err != nil {
		return nil, err
	}
	if comp == nil || len(comp.Choices) == 0 {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent an empty answer", c.name)
	}
	choice := comp.Choices[0]
	if choice.Message.Content == "" {
		if r := providerhttp.Clean(providerhttp.Scrub(choice.Message.Refusal, apiKey)); r != "" {
			return nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMRefused, "the model refused: %s", r)
		}
		msg := fmt.Sprintf("%s sent an empty answer", c.name)
		if choice.FinishReason != "" {
			msg += " (finish reason " + providerhttp.Clean(choice.FinishReason) + ")"
		}
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: msg}
	}
	model := comp.Model
	if model == "" {
		model = req.Model
	}
	return &echogen.LLMResponse{
		Text:         choice.Message.Content,
		Model:        model,
		InputTokens:  int(comp.Usage.PromptTokens),
		OutputTokens: int(comp.Usage.CompletionTokens),
		FinishReason: choice.FinishReason,
	}, nil
}

// params maps an LLMRequest to the SDK's request body.
func (c *Client) params(req echogen.LLMRequest) (openai.ChatCompletionNewParams, error) {
	var p openai.ChatCompletionNewParams
	if strings.TrimSpace(req.Model) == "" {
		return p, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no model given for %s", c.name)
	}
	if len(req.Messages) == 0 {
		return p, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no messages to send to %s", c.name)
	}
	p.Model = req.Model
	p.Messages = make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		case "developer":
			p.Messages = append(p.Messages, openai.DeveloperMessage(m.Content))
		case "user":
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		case "assistant":
			p.Messages = append(p.Messages, openai.AssistantMessage(m.Content))
		default:
			return p, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "unknown message role %q", providerhttp.Clean(m.Role))
		}
	}
	if req.Temperature != nil {
		p.Temperature = openai.Float(*req.Temperature)
	}
	if req.MaxTokens > 0 {
		p.MaxTokens = openai.Int(int64(req.MaxTokens))
	}
	if req.Schema != nil {
		name := req.SchemaName
		if name == "" {
			name = DefaultSchemaName
		}
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name:   name,
					Schema: req.Schema,
					Strict: openai.Bool(true),
				},
			},
		}
	}
	return p, nil
}

// ListModels returns the IDs of the models the key may use, from
// GET {base}/models; baseURL, when set, replaces the client's default.
// Errors are those of Complete.
func (c *Client) ListModels(ctx context.Context, apiKey, baseURL string) ([]string, error) {
	ids, err := c.listModels(ctx, apiKey, baseURL)
	return ids, providerhttp.RedactError(err, apiKey)
}

func (c *Client) listModels(ctx context.Context, apiKey, baseURL string) ([]string, error) {
	base, err := c.baseURL(baseURL)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	var raw *http.Response
	svc := openai.NewModelService(c.callOptions(apiKey, base, &raw)...)
	page, err := svc.List(cctx)
	if err != nil {
		return nil, c.callError(cctx, raw, err, apiKey)
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// callError maps an error of the SDK to an *echogen.Error. raw is the
// last HTTP answer, nil when none came.
func (c *Client) callError(ctx context.Context, raw *http.Response, err error, apiKey string) error {
	if ctx.Err() == nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return c.statusError(apiErr.StatusCode, apiErr.Response, apiErr.Message, apiKey)
		}
		if raw != nil && raw.StatusCode >= 400 {
			// An error answer without OpenAI's {"error":{…}} shape.
			return c.statusError(raw.StatusCode, raw, "", apiKey)
		}
	}
	return providerhttp.LLMCallError(ctx, c.name, err, raw != nil, apiKey)
}

// statusError maps an HTTP error answer; said is the API's error.message.
// The SDK's error is not kept as the cause: it holds the request, and so
// the key.
func (c *Client) statusError(code int, resp *http.Response, said, apiKey string) error {
	var h http.Header
	if resp != nil {
		h = resp.Header
		if said == "" && resp.Body != nil {
			said = bodyMessage(resp.Body)
		}
	}
	return providerhttp.LLMStatusError(c.name, providerhttp.LLMCodeOf(code), code, said, fmt.Sprintf("HTTP %d", code), retryAfter(h, time.Now()), apiKey)
}

// bodyMessage reads the message of an error answer that is not OpenAI's
// {"error":{"message":…}}: {"error":"…"}, {"message":"…"} or
// {"detail":"…"}, as Ollama, proxies and some compatible servers send.
func bodyMessage(body io.Reader) string {
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return ""
	}
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(b, &top) != nil {
		return ""
	}
	if len(top.Error) > 0 && top.Error[0] == '{' {
		var e struct {
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(top.Error, &e) == nil {
			top.Error = e.Message
		}
	}
	for _, raw := range []json.RawMessage{top.Error, top.Message, top.Detail} {
		if s := providerhttp.JSONText(raw); s != "" {
			return s
		}
	}
	return ""
}

// retryAfter reads retry-after-ms (OpenAI's, milliseconds) or Retry-After
// (seconds or an HTTP date), capped at maxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if ms := strings.TrimSpace(h.Get("Retry-After-Ms")); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f >= 0 {
			return min(time.Duration(f*float64(time.Millisecond)), maxRetryAfter)
		}
	}
	return providerhttp.RetryAfter(h.Get("Retry-After"), now)
}

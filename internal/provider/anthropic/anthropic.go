// Package anthropic talks to Anthropic's Messages API
// (POST {base}/v1/messages) with the official SDK
// (github.com/anthropics/anthropic-sdk-go/v2). Client implements
// echogen.LLM.
//
// The SDK's own retries are off (the job queue retries), each call has its
// own timeout, and the SDK's environment defaults (ANTHROPIC_API_KEY,
// ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL, ANTHROPIC_CUSTOM_HEADERS,
// profiles, …) are never read: the services are built directly, without
// anthropic.NewClient, so only the user's key and the configured base URL
// are used. The key travels only in the x-api-key header and no returned
// error contains it.
//
// Requests are sent with anthropic-version 2023-06-01 and the key in
// x-api-key, the Messages API version this adapter is written against
// (the v2 SDK defaults to API 2026-10-21, which takes a Bearer token and
// has no temperature).
package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

// DefaultBaseURL is the root of Anthropic's API; paths such as
// "v1/messages" are added to it.
const DefaultBaseURL = "https://api.anthropic.com"

// APIVersion is the anthropic-version header sent with every request.
const APIVersion = "2023-06-01"

// DefaultTimeout bounds one call when Options.Timeout is zero. A job
// attempt has 5 minutes; this leaves it time to record the failure.
const DefaultTimeout = 4 * time.Minute

// DefaultMaxTokens is max_tokens of a request that gives none; the API
// requires one.
const DefaultMaxTokens = 8192

// DefaultSchemaName names the tool of a structured request that gives no
// SchemaName.
const DefaultSchemaName = "response"

// maxModelPages bounds the pages ListModels reads.
const maxModelPages = 20

const name = "Anthropic"

// Errors carry the codes of providerhttp (LLMKeyRejected, LLMRateLimited, …).

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests; nil means a plain &http.Client{}.
	HTTPClient *http.Client
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// BaseURL is the API root (without "/v1"); empty means DefaultBaseURL.
	BaseURL string
}

// Client calls Anthropic's Messages API. It is safe for concurrent use.
type Client struct {
	timeout     time.Duration
	baseOptions []option.RequestOption
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
	base := strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &Client{
		timeout: timeout,
		baseOptions: []option.RequestOption{
			option.WithHTTPClient(hc),
			option.WithBaseURL(base + "/"),
			option.WithMaxRetries(0),
			option.WithHeader("anthropic-version", APIVersion),
			// Our own deadline (the context) rules; this only keeps the
			// SDK from refusing a large max_tokens without streaming.
			option.WithRequestTimeout(timeout + time.Minute),
		},
	}
}

// callOptions are a call's SDK options.
func (c *Client) callOptions(apiKey string, raw **http.Response) []option.RequestOption {
	return append(slices.Clip(c.baseOptions),
		// Not option.WithAPIKey: the v2 SDK sends that as a Bearer token
		// (API 2026-10-21); API 2023-06-01 takes x-api-key.
		option.WithHeader("x-api-key", apiKey),
		option.WithResponseInto(raw),
	)
}

// Complete implements echogen.LLM. req.BaseURL is ignored.
//
// Errors: KindUnauthenticated when Anthropic refuses the key (401, 403);
// KindRateLimited, with RetryAfter, on 429; KindUnavailable on a 5xx
// (529 overloaded included), a 408, a network error, a timeout, an answer
// that cannot be read or an empty answer; KindBadRequest on another 4xx, a
// refusal by the model, or a request that cannot be sent. An answer cut
// short by max_tokens is no error: FinishReason says "length".
func (c *Client) Complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	resp, err := c.complete(ctx, apiKey, req)
	return resp, providerhttp.RedactError(err, apiKey)
}

func (c *Client) complete(ctx context.Context, apiKey string, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
	params, tool, err := buildParams(req)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	var raw *http.Response
	svc := anthropic.NewMessageService(c.callOptions(apiKey, &raw)...)
	msg, err := svc.New(cctx, params)
	if err != nil {
		return nil, callError(cctx, raw, err, apiKey)
	}
	if msg == nil {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent an empty answer", name)
	}
	text := answerText(msg.Content, tool)
	if strings.TrimSpace(text) == "" {
		if msg.StopReason == anthropic.StopReasonRefusal {
			return nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMRefused, "the model refused to answer")
		}
		m := name + " sent an empty answer"
		if msg.StopReason != "" {
			m += " (stop reason " + providerhttp.Clean(string(msg.StopReason)) + ")"
		}
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: m}
	}
	model := string(msg.Model)
	if model == "" {
		model = req.Model
	}
	return &echogen.LLMResponse{
		Text:         text,
		Model:        model,
		InputTokens:  int(msg.Usage.InputTokens),
		OutputTokens: int(msg.Usage.OutputTokens),
		FinishReason: finishReason(msg.StopReason),
	}, nil
}

// answerText is the input of the tool_use block named tool when tool is
// set and there is one, else the text blocks joined.
func answerText(blocks []anthropic.ContentBlockUnion, tool string) string {
	if tool != "" {
		for _, b := range blocks {
			if b.Type == "tool_use" && b.Name == tool && len(b.Input) > 0 && string(b.Input) != "null" {
				return string(b.Input)
			}
		}
	}
	var sb strings.Builder
	for _, b := range blocks {
		if b.Type == "text" {
			sb.WriteString(b.Text)
		}
	}
	return sb.String()
}

// finishReason maps Anthropic's stop_reason to the OpenAI-style reasons
// the rest of the server knows.
func finishReason(r anthropic.StopReason) string {
	switch r {
	case anthropic.StopReasonMaxTokens:
		return "length"
	case anthropic.StopReasonEndTurn, anthropic.StopReasonToolUse, anthropic.StopReasonStopSequence:
		return "stop"
	}
	return providerhttp.Clean(string(r))
}

// buildParams maps an LLMRequest to the SDK's request body; tool is the
// name of the forced tool of a structured request, "" otherwise.
func buildParams(req echogen.LLMRequest) (p anthropic.MessageNewParams, tool string, err error) {
	if strings.TrimSpace(req.Model) == "" {
		return p, "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no model given for %s", name)
	}
	var system []string
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			system = append(system, m.Content)
		case "user":
			p.Messages = append(p.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock(m.Content)))
		case "assistant":
			p.Messages = append(p.Messages, anthropic.NewAssistantMessage(anthropic.NewTextBlock(m.Content)))
		default:
			return p, "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "unknown message role %q", providerhttp.Clean(m.Role))
		}
	}
	if len(p.Messages) == 0 {
		return p, "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no messages to send to %s", name)
	}
	p.Model = anthropic.Model(req.Model)
	p.MaxTokens = DefaultMaxTokens
	if req.MaxTokens > 0 {
		p.MaxTokens = int64(req.MaxTokens)
	}
	if len(system) > 0 {
		p.System = []anthropic.TextBlockParam{{Text: strings.Join(system, "\n\n")}}
	}
	if req.Temperature != nil {
		// The v2 SDK's params have no temperature (API 2026-10-21); the
		// 2023-06-01 API takes it.
		p.SetExtraFields(map[string]any{"temperature": *req.Temperature})
	}
	if req.Schema != nil {
		tool = req.SchemaName
		if tool == "" {
			tool = DefaultSchemaName
		}
		schema := anthropic.ToolInputSchemaParam{ExtraFields: make(map[string]any, len(req.Schema))}
		for k, v := range req.Schema {
			schema.ExtraFields[k] = v // sent as given, "type" included
		}
		p.Tools = []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(schema, tool)}
		p.ToolChoice = anthropic.ToolChoiceParamOfTool(tool)
	}
	return p, tool, nil
}

// ListModels returns the IDs of the models the key may use, from
// GET {base}/v1/models, sorted. Errors are those of Complete.
func (c *Client) ListModels(ctx context.Context, apiKey string) ([]string, error) {
	ids, err := c.listModels(ctx, apiKey)
	return ids, providerhttp.RedactError(err, apiKey)
}

func (c *Client) listModels(ctx context.Context, apiKey string) ([]string, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	var raw *http.Response
	svc := anthropic.NewModelService(c.callOptions(apiKey, &raw)...)
	var ids []string
	var params anthropic.ModelListParams
	params.Limit = anthropic.Int(1000)
	for range maxModelPages {
		page, err := svc.List(cctx, params)
		if err != nil {
			return nil, callError(cctx, raw, err, apiKey)
		}
		for _, m := range page.Data {
			if m.ID != "" {
				ids = append(ids, m.ID)
			}
		}
		if !page.HasMore || page.LastID == "" {
			break
		}
		params.AfterID = anthropic.String(page.LastID)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// callError maps an error of the SDK to an *echogen.Error. raw is the
// last HTTP answer, nil when none came.
func callError(ctx context.Context, raw *http.Response, err error, apiKey string) error {
	if ctx.Err() == nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			return statusError(apiErr.StatusCode, apiErr.Response, apiErr.Message, string(apiErr.Type()), apiKey)
		}
		if raw != nil && raw.StatusCode >= 400 {
			return statusError(raw.StatusCode, raw, "", "", apiKey)
		}
	}
	return providerhttp.LLMCallError(ctx, name, err, raw != nil, apiKey)
}

// statusError maps an HTTP error answer; said is the API's error.message
// and typ its error.type. The SDK's error is not kept as the cause: it
// holds the request.
func statusError(code int, resp *http.Response, said, typ, apiKey string) error {
	var after time.Duration
	if resp != nil {
		after = providerhttp.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return providerhttp.LLMStatusError(name, providerhttp.LLMCodeOf(code), code, said, strings.TrimSpace(fmt.Sprintf("HTTP %d %s", code, typ)), after, apiKey)
}

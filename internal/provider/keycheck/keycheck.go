// Package keycheck verifies a user's provider API key with the provider's
// cheapest authenticated, read-only call. Verifier implements
// echogen.KeyVerifier.
//
// The secret travels only in a request header, never in a URL, and never
// appears in a returned error: a provider that echoes the key back has it
// replaced by "[redacted]". Redirects are not followed, so a key sent in a
// custom header (x-api-key, xi-api-key, x-goog-api-key) cannot be forwarded
// to another host.
package keycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/echogen/server/internal/provider/providerhttp"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const (
	// DefaultTimeout bounds one verification when Options.Timeout is zero.
	DefaultTimeout = 10 * time.Second

	maxBody       = 64 << 10 // bytes of a provider's answer we read
	maxMessage    = 300      // runes of a provider's message we keep
	maxRetryAfter = time.Hour
	redacted      = "[redacted]"
	minRedactLen  = 4 // shorter "secrets" are not worth mangling messages for
	userAgent     = "EchoGen-KeyCheck/1"
)

// Error codes of the errors VerifyKey returns.
const (
	CodeKeyRejected        = "api_key_rejected"             // the provider refused the key
	CodeRateLimited        = "provider_rate_limited"        // 429 from the provider
	CodeUnavailable        = "provider_unavailable"         // network error, timeout or 5xx
	CodeUnexpectedResponse = "provider_unexpected_response" // any other answer
	CodeCanceled           = "verification_canceled"        // the caller's context ended
	CodeUnknownProvider    = "unknown_provider"
	CodeMissingSecret      = "missing_secret"
	CodeInvalidSecret      = "invalid_secret"
	CodeMisconfigured      = "keycheck_misconfigured"
)

// errTimeout is the cause of a verification's own deadline.
var errTimeout = fmt.Errorf("key verification timed out: %w", context.DeadlineExceeded)

// endpoint describes one provider's check: GET base+path?query with the
// key in header (Authorization: Bearer when header is empty).
type endpoint struct {
	name        string // shown in messages
	base        string // default base URL; empty for self-hosted providers
	path        string
	query       string
	header      string
	extra       map[string]string // constant headers
	keyOptional bool              // self-hosted servers may run without a key
}

var endpoints = map[echogen.Provider]endpoint{
	echogen.ProviderOpenAI: {name: "OpenAI", base: "https://api.openai.com/v1", path: "/models"},
	echogen.ProviderGroq:   {name: "Groq", base: "https://api.groq.com/openai/v1", path: "/models"},
	// /models is public on OpenRouter; /key answers only to a valid key.
	echogen.ProviderOpenRouter: {name: "OpenRouter", base: "https://openrouter.ai/api/v1", path: "/key"},
	echogen.ProviderGemini: {name: "Gemini", base: "https://generativelanguage.googleapis.com/v1beta",
		path: "/models", query: "pageSize=1", header: "x-goog-api-key"},
	echogen.ProviderAnthropic: {name: "Anthropic", base: "https://api.anthropic.com/v1",
		path: "/models", query: "limit=1", header: "x-api-key",
		extra: map[string]string{"anthropic-version": "2023-06-01"}},
	echogen.ProviderElevenLabs: {name: "ElevenLabs", base: "https://api.elevenlabs.io/v1", path: "/user", header: "xi-api-key"},
	// /v1/models is public on ImageRouter; /v1/credits needs the key and is free.
	echogen.ProviderImageRouter:  {name: "ImageRouter", base: "https://api.imagerouter.io/v1", path: "/credits"},
	echogen.ProviderFirecrawl:    {name: "Firecrawl", base: "https://api.firecrawl.dev/v2", path: "/team/credit-usage"},
	echogen.ProviderHyperbrowser: {name: "Hyperbrowser", base: "https://api.hyperbrowser.ai/api", path: "/team/credit-info", header: "x-api-key"},
	echogen.ProviderOllama:       {name: "Ollama", path: "/api/tags", keyOptional: true},
	// The base URL is used as given (it usually ends in /v1); nothing is guessed.
	echogen.ProviderOpenAICompatible: {name: "the OpenAI-compatible server", path: "/models", keyOptional: true},
}

// DefaultBaseURLs returns the public base URL of every hosted provider. The
// self-hosted ones (ollama, openai_compatible) are absent: their base URL is
// the key's metadata.base_url. The map is a copy.
func DefaultBaseURLs() map[echogen.Provider]string {
	m := make(map[echogen.Provider]string, len(endpoints))
	for p, e := range endpoints {
		if e.base != "" {
			m[p] = e.base
		}
	}
	return m
}

// Options configures a Verifier.
type Options struct {
	// BaseURLs overrides the base URL of hosted providers, for tests and
	// proxies. Self-hosted providers always use metadata.base_url.
	BaseURLs map[echogen.Provider]string
	// Timeout bounds one VerifyKey call; zero means DefaultTimeout.
	Timeout time.Duration
}

// Verifier checks provider keys over HTTP. It is safe for concurrent use.
type Verifier struct {
	client  *http.Client
	bases   map[echogen.Provider]string
	timeout time.Duration
}

var _ echogen.KeyVerifier = (*Verifier)(nil)

// New returns a Verifier that sends its requests with a copy of client
// (http.DefaultTransport when client is nil) that does not follow redirects.
func New(client *http.Client, opts Options) *Verifier {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	bases := DefaultBaseURLs()
	for p, b := range opts.BaseURLs {
		if e, ok := endpoints[p]; ok && e.base != "" && b != "" {
			bases[p] = b
		}
	}
	for p, b := range bases {
		bases[p] = strings.TrimRight(b, "/")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Verifier{client: c, bases: bases, timeout: timeout}
}

// VerifyKey implements echogen.KeyVerifier: nil when the provider accepts
// the key; KindUnauthenticated carrying the provider's message when it
// refuses it; KindRateLimited, KindUnavailable (or KindInvalid for a bad
// request, such as a missing metadata.base_url) when the key could not be
// checked.
func (v *Verifier) VerifyKey(ctx context.Context, provider echogen.Provider, secret string, metadata map[string]any) error {
	err := v.verify(ctx, provider, secret, metadata)
	var e *echogen.Error
	if errors.As(err, &e) {
		e.Message = redact(e.Message, secret)
	}
	return err
}

func (v *Verifier) verify(ctx context.Context, provider echogen.Provider, secret string, metadata map[string]any) error {
	ep, ok := endpoints[provider]
	if !ok {
		return echogen.Errorf(echogen.KindInvalid, CodeUnknownProvider, "unknown provider %q", string(provider))
	}
	if secret == "" && !ep.keyOptional {
		return echogen.Errorf(echogen.KindInvalid, CodeMissingSecret, "the %s API key is empty", ep.name)
	}
	if !providerhttp.ValidHeaderValue(secret) {
		return echogen.Errorf(echogen.KindInvalid, CodeInvalidSecret, "the API key contains characters that cannot be sent in a request header")
	}
	base := v.bases[provider]
	if provider.NeedsBaseURL() {
		var err error
		if base, err = metadataBaseURL(provider, metadata); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeoutCause(ctx, v.timeout, errTimeout)
	defer cancel()
	target := base + ep.path
	if ep.query != "" {
		target += "?" + ep.query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &echogen.Error{Kind: echogen.KindInternal, Code: CodeMisconfigured,
			Message: "key verification is misconfigured", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for k, val := range ep.extra {
		req.Header.Set(k, val)
	}
	if secret != "" {
		if ep.header == "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		} else {
			req.Header.Set(ep.header, secret)
		}
	}

	resp, err := v.client.Do(req)
	if err != nil {
		return v.transportError(ctx, ep, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // lets the connection be reused
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return v.transportError(ctx, ep, err)
	}
	return v.judge(provider, ep, resp, body, secret)
}

// judge maps a provider's non-2xx answer to an error.
func (v *Verifier) judge(provider echogen.Provider, ep endpoint, resp *http.Response, body []byte, secret string) error {
	code := resp.StatusCode
	pe := parseError(resp.Header.Get("Content-Type"), body)
	status := "HTTP " + strconv.Itoa(code)
	said := providerhttp.Clean(providerhttp.Scrub(pe.message, secret)) // the provider's own words, if any, key removed before the cut
	rejected := code == http.StatusUnauthorized || code == http.StatusForbidden
	switch provider {
	case echogen.ProviderGemini:
		// Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
		if code == http.StatusBadRequest && pe.geminiKeyInvalid() {
			rejected = true
		}
	case echogen.ProviderElevenLabs:
		// A scoped key without user_read is still a real key: ElevenLabs
		// looked it up and found it lacks this one permission.
		if rejected && pe.status == "missing_permissions" {
			return nil
		}
	}
	if rejected {
		msg := said
		if msg == "" {
			msg = status
		}
		return &echogen.Error{Kind: echogen.KindUnauthenticated, Code: CodeKeyRejected, Message: msg}
	}
	if code == http.StatusTooManyRequests {
		return &echogen.Error{Kind: echogen.KindRateLimited, Code: CodeRateLimited,
			Message:    "rate limited by " + ep.name + ", try again later",
			RetryAfter: providerhttp.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if said != "" {
		status += ": " + said
	}
	if code >= 500 {
		return echogen.Errorf(echogen.KindUnavailable, CodeUnavailable, "could not reach %s: %s", ep.name, status)
	}
	return echogen.Errorf(echogen.KindUnavailable, CodeUnexpectedResponse, "could not verify the key with %s: unexpected %s", ep.name, status)
}

// transportError reports a request that got no complete answer.
func (v *Verifier) transportError(ctx context.Context, ep endpoint, err error) error {
	switch {
	case context.Cause(ctx) == errTimeout:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeUnavailable,
			Message: fmt.Sprintf("could not reach %s: no answer within %s", ep.name, v.timeout), Err: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeUnavailable,
			Message: "could not reach " + ep.name + ": no answer in time", Err: err}
	case ctx.Err() != nil:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeCanceled,
			Message: "key verification was canceled", Err: context.Cause(ctx)}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is not the user's business
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeUnavailable,
		Message: providerhttp.Clean("could not reach " + ep.name + ": " + cause.Error()), Err: err}
}

// metadataBaseURL returns a self-hosted provider's base URL, without a
// trailing slash.
func metadataBaseURL(p echogen.Provider, md map[string]any) (string, error) {
	loc := []string{"body", "metadata", "base_url"}
	raw, _ := md["base_url"].(string)
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", echogen.Invalid(loc, "missing", string(p)+" keys need metadata.base_url, the server's http(s) URL")
	}
	u, err := url.Parse(raw)
	if err != nil || echogen.CheckHTTPURL(raw) != nil {
		return "", echogen.Invalid(loc, "url_parsing", "metadata.base_url must be an http(s) URL such as http://localhost:11434")
	}
	if u.User != nil {
		return "", echogen.Invalid(loc, "url_parsing", "metadata.base_url must not carry credentials; store the key as the secret")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", echogen.Invalid(loc, "url_parsing", "metadata.base_url must not have a query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// providerError is what we understand of an error body.
type providerError struct {
	message string
	status  string   // Gemini error.status, ElevenLabs detail.status
	reasons []string // Gemini error.details[].reason
}

func (pe providerError) geminiKeyInvalid() bool {
	for _, r := range pe.reasons {
		if r == "API_KEY_INVALID" {
			return true
		}
	}
	m := strings.ToLower(pe.message)
	return strings.Contains(m, "api key not valid") || strings.Contains(m, "api key not found") ||
		strings.Contains(m, "api key expired")
}

// parseError reads the error shapes the providers use:
//
//	{"error":{"message":…}}                  OpenAI, Groq, OpenRouter, ImageRouter
//	{"error":{"message":…,"status":…,"details":[{"reason":…}]}}  Gemini
//	{"type":"error","error":{"type":…,"message":…}}             Anthropic
//	{"detail":{"status":…,"message":…}} or {"detail":"…"}       ElevenLabs
//	{"success":false,"error":"…"}                              Firecrawl
//	{"error":"…"}                                              Ollama
//	{"message":"…"} or {"error":"…"}                           Hyperbrowser
//
// A body that is not JSON counts only if it is short plain text.
func parseError(contentType string, body []byte) providerError {
	var pe providerError
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return pe
	}
	if trimmed[0] != '{' {
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/plain" {
			pe.message = trimmed
		}
		return pe
	}
	var top struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &top) != nil {
		return pe
	}
	if s, ok := jsonString(top.Error); ok {
		pe.message = s
	} else if len(top.Error) > 0 {
		var e struct {
			Message json.RawMessage   `json:"message"`
			Status  json.RawMessage   `json:"status"`
			Details []json.RawMessage `json:"details"`
		}
		if json.Unmarshal(top.Error, &e) == nil {
			pe.message, _ = jsonString(e.Message)
			pe.status, _ = jsonString(e.Status)
			for _, d := range e.Details {
				var r struct {
					Reason string `json:"reason"`
				}
				if json.Unmarshal(d, &r) == nil && r.Reason != "" {
					pe.reasons = append(pe.reasons, r.Reason)
				}
			}
		}
	}
	if pe.message == "" && len(top.Detail) > 0 {
		if s, ok := jsonString(top.Detail); ok {
			pe.message = s
		} else {
			var d struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			}
			var list []struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal(top.Detail, &d) == nil {
				pe.message, pe.status = d.Message, d.Status
			} else if json.Unmarshal(top.Detail, &list) == nil && len(list) > 0 {
				pe.message = list[0].Msg
			}
		}
	}
	if pe.message == "" {
		pe.message, _ = jsonString(top.Message)
	}
	return pe
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// redact is the last guard on a finished message: it scrubs the secret and
// re-applies the length cap.
func redact(msg, secret string) string {
	if len(secret) < minRedactLen || !strings.Contains(msg, secret) {
		return msg
	}
	return providerhttp.Clean(providerhttp.Scrub(msg, secret))
}

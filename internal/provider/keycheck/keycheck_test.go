package keycheck_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/keycheck"
)

const secret = "sk-test-SECRET-0123456789abcdef"

// wire is one provider's contract as seen from a fake server.
type wire struct {
	provider  echogen.Provider
	name      string     // as named in messages
	path      string     // full request path, including the base URL's path
	query     url.Values // exact query
	keyHeader string     // the header carrying the key
	keyValue  string     // its expected value
	extra     map[string]string
	okBody    string
	errBody   func(msg string) string // the provider's error JSON
	invalid   answer                  // how the provider answers a bad key
}

type answer struct {
	status int
	body   string
	want   string // the message VerifyKey must carry
}

func openAIErr(msg string) string {
	return fmt.Sprintf(`{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, msg)
}

func geminiErr(code int, status string) func(string) string {
	return func(msg string) string {
		return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
	}
}

var wires = []wire{
	{
		provider: echogen.ProviderOpenAI, name: "OpenAI", path: "/v1/models",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}]}`,
		errBody: openAIErr,
		invalid: answer{401, openAIErr("Incorrect API key provided: sk-test***cdef. You can find your API key at https://platform.openai.com/account/api-keys."),
			"Incorrect API key provided: sk-test***cdef. You can find your API key at https://platform.openai.com/account/api-keys."},
	},
	{
		provider: echogen.ProviderGroq, name: "Groq", path: "/openai/v1/models",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"object":"list","data":[{"id":"llama-3.3-70b-versatile","object":"model","owned_by":"Meta","active":true,"context_window":131072}]}`,
		errBody: openAIErr,
		invalid: answer{401, `{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}`, "Invalid API Key"},
	},
	{
		provider: echogen.ProviderOpenRouter, name: "OpenRouter", path: "/api/v1/key",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"data":{"label":"sk-or-v1-abc...def","usage":0.12,"limit":null,"is_free_tier":false}}`,
		errBody: func(msg string) string { return fmt.Sprintf(`{"error":{"message":%q,"code":401}}`, msg) },
		invalid: answer{401, `{"error":{"message":"No auth credentials found","code":401}}`, "No auth credentials found"},
	},
	{
		provider: echogen.ProviderGemini, name: "Gemini", path: "/v1beta/models", query: url.Values{"pageSize": {"1"}},
		keyHeader: "X-Goog-Api-Key", keyValue: secret,
		okBody:  `{"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash"}],"nextPageToken":"abc"}`,
		errBody: geminiErr(401, "UNAUTHENTICATED"),
		invalid: answer{400, `{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}
      },
      {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": "API key not valid. Please pass a valid API key."
      }
    ]
  }
}`, "API key not valid. Please pass a valid API key."},
	},
	{
		provider: echogen.ProviderAnthropic, name: "Anthropic", path: "/v1/models", query: url.Values{"limit": {"1"}},
		keyHeader: "X-Api-Key", keyValue: secret, extra: map[string]string{"Anthropic-Version": "2023-06-01"},
		okBody: `{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":true,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}`,
		errBody: func(msg string) string {
			return fmt.Sprintf(`{"type":"error","error":{"type":"authentication_error","message":%q},"request_id":"req_011CTest"}`, msg)
		},
		invalid: answer{401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CTest"}`, "invalid x-api-key"},
	},
	{
		provider: echogen.ProviderElevenLabs, name: "ElevenLabs", path: "/v1/user",
		keyHeader: "Xi-Api-Key", keyValue: secret,
		okBody: `{"user_id":"u1","subscription":{"tier":"free","character_count":10,"character_limit":10000},"is_new_user":false}`,
		errBody: func(msg string) string {
			return fmt.Sprintf(`{"detail":{"status":"invalid_api_key","message":%q}}`, msg)
		},
		invalid: answer{401, `{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}`, "Invalid API key"},
	},
	{
		provider: echogen.ProviderImageRouter, name: "ImageRouter", path: "/v1/credits",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"remaining_credits":"25.5000","credit_usage":"4.5000","total_deposits":"30.0000"}`,
		errBody: func(msg string) string { return fmt.Sprintf(`{"error":{"message":%q,"type":"unauthorized"}}`, msg) },
		invalid: answer{401, `{"error":{"message":"Invalid authorization token","type":"unauthorized"}}`, "Invalid authorization token"},
	},
	{
		provider: echogen.ProviderFirecrawl, name: "Firecrawl", path: "/v2/team/credit-usage",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"success":true,"data":{"remainingCredits":1000,"planCredits":500000,"billingPeriodStart":"2025-01-01T00:00:00Z","billingPeriodEnd":"2025-01-31T23:59:59Z"}}`,
		errBody: func(msg string) string { return fmt.Sprintf(`{"success":false,"error":%q}`, msg) },
		invalid: answer{401, `{"success":false,"error":"Unauthorized: Invalid token"}`, "Unauthorized: Invalid token"},
	},
	{
		provider: echogen.ProviderHyperbrowser, name: "Hyperbrowser", path: "/api/team/credit-info",
		keyHeader: "X-Api-Key", keyValue: secret,
		okBody:  `{"usage":120,"limit":1000,"remaining":880}`,
		errBody: func(msg string) string { return fmt.Sprintf(`{"message":%q}`, msg) },
		invalid: answer{401, `{"error":"Invalid API key"}`, "Invalid API key"},
	},
	{
		provider: echogen.ProviderOllama, name: "Ollama", path: "/api/tags",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189}]}`,
		errBody: func(msg string) string { return fmt.Sprintf(`{"error":%q}`, msg) },
		invalid: answer{401, `{"error":"unauthorized"}`, "unauthorized"},
	},
	{
		provider: echogen.ProviderOpenAICompatible, name: "the OpenAI-compatible server", path: "/v1/models",
		keyHeader: "Authorization", keyValue: "Bearer " + secret,
		okBody:  `{"object":"list","data":[{"id":"qwen2.5-7b-instruct","object":"model","owned_by":"vllm"}]}`,
		errBody: openAIErr,
		invalid: answer{401, openAIErr("Invalid API key"), "Invalid API key"},
	},
}

// outcome is what a test compares of VerifyKey's error.
type outcome struct {
	Kind       echogen.Kind
	Code       string
	Message    string
	RetryAfter time.Duration
}

func outcomeOf(t *testing.T, err error) *outcome {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *echogen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *echogen.Error", err, err)
	}
	return &outcome{Kind: e.Kind, Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter}
}

// checkNoSecret fails when the secret shows anywhere in err.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error text carries the secret: %q", err.Error())
	}
	var e *echogen.Error
	if errors.As(err, &e) {
		if strings.Contains(e.Message, secret) {
			t.Errorf("error message carries the secret: %q", e.Message)
		}
		for _, f := range e.Fields {
			if strings.Contains(f.Msg, secret) {
				t.Errorf("field error carries the secret: %q", f.Msg)
			}
		}
	}
}

// seen is a request as the fake provider received it.
type seen struct {
	method, path, requestURI string
	query                    url.Values
	header                   http.Header
}

// fake starts a provider that records each request and answers with h.
func fake(t *testing.T, h http.HandlerFunc) (*httptest.Server, <-chan seen) {
	t.Helper()
	reqs := make(chan seen, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reqs <- seen{r.Method, r.URL.Path, r.RequestURI, r.URL.Query(), r.Header.Clone()}:
		default:
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

// target points the verifier (or the key's metadata) at srv, keeping the
// path of the provider's real base URL.
func target(t *testing.T, w wire, srv *httptest.Server, timeout time.Duration) (*keycheck.Verifier, map[string]any) {
	t.Helper()
	opts := keycheck.Options{Timeout: timeout}
	var md map[string]any
	switch w.provider {
	case echogen.ProviderOllama:
		md = map[string]any{"base_url": srv.URL}
	case echogen.ProviderOpenAICompatible:
		md = map[string]any{"base_url": srv.URL + "/v1/"} // a trailing slash is tolerated
	default:
		u, err := url.Parse(keycheck.DefaultBaseURLs()[w.provider])
		if err != nil || u.Host == "" {
			t.Fatalf("no default base URL for %s", w.provider)
		}
		opts.BaseURLs = map[echogen.Provider]string{w.provider: srv.URL + u.Path}
	}
	return keycheck.New(nil, opts), md
}

func checkRequest(t *testing.T, w wire, r seen) {
	t.Helper()
	if r.method != http.MethodGet {
		t.Errorf("method = %s, want GET", r.method)
	}
	if r.path != w.path {
		t.Errorf("path = %s, want %s", r.path, w.path)
	}
	wantQuery := w.query
	if wantQuery == nil {
		wantQuery = url.Values{}
	}
	if diff := cmp.Diff(wantQuery, r.query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if got := r.header.Get(w.keyHeader); got != w.keyValue {
		t.Errorf("%s = %q, want %q", w.keyHeader, got, w.keyValue)
	}
	for k, v := range w.extra {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// The key goes in its one header: never in the URL, never elsewhere.
	if strings.Contains(r.requestURI, secret) {
		t.Errorf("the key is in the URL: %s", r.requestURI)
	}
	for name, vals := range r.header {
		if name == http.CanonicalHeaderKey(w.keyHeader) {
			continue
		}
		for _, v := range vals {
			if strings.Contains(v, secret) {
				t.Errorf("the key is in header %s too", name)
			}
		}
	}
}

func TestVerifyKeyWire(t *testing.T) {
	if got := len(wires); got != len(echogen.Providers()) {
		t.Fatalf("the table covers %d providers, echogen has %d", got, len(echogen.Providers()))
	}
	for _, w := range wires {
		unavailable := func(detail string) *outcome {
			return &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnavailable, Message: "could not reach " + w.name + ": " + detail}
		}
		rejected := func(msg string) *outcome {
			return &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: msg}
		}
		scenarios := []struct {
			name    string
			status  int
			body    string
			header  map[string]string
			slow    bool
			timeout time.Duration
			want    *outcome
		}{
			{name: "valid key", status: 200, body: w.okBody},
			{name: "401", status: 401, body: w.errBody("the key was refused"), want: rejected("the key was refused")},
			{name: "403", status: 403, body: w.errBody("the key may not do this"), want: rejected("the key may not do this")},
			{name: "provider's invalid-key answer", status: w.invalid.status, body: w.invalid.body, want: rejected(w.invalid.want)},
			{name: "provider echoes the key", status: 401, body: w.errBody("Incorrect API key provided: " + secret + "."),
				want: rejected("Incorrect API key provided: [redacted].")},
			{name: "malformed error body", status: 401, body: `{"error": {"message": "trunc`, want: rejected("HTTP 401")},
			{name: "429", status: 429, body: w.errBody("slow down"), header: map[string]string{"Retry-After": "7"},
				want: &outcome{Kind: echogen.KindRateLimited, Code: keycheck.CodeRateLimited,
					Message: "rate limited by " + w.name + ", try again later", RetryAfter: 7 * time.Second}},
			{name: "500", status: 500, body: w.errBody("internal failure"), want: unavailable("HTTP 500: internal failure")},
			{name: "502 without a body", status: 502, want: unavailable("HTTP 502")},
			{name: "no answer in time", slow: true, timeout: 50 * time.Millisecond, want: unavailable("no answer within 50ms")},
		}
		for _, sc := range scenarios {
			t.Run(string(w.provider)+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				release := make(chan struct{})
				srv, reqs := fake(t, func(rw http.ResponseWriter, r *http.Request) {
					if sc.slow {
						select { // hold the answer until the client gives up
						case <-r.Context().Done():
						case <-release:
						}
						return
					}
					for k, v := range sc.header {
						rw.Header().Set(k, v)
					}
					rw.Header().Set("Content-Type", "application/json")
					rw.WriteHeader(sc.status)
					_, _ = rw.Write([]byte(sc.body))
				})
				t.Cleanup(func() { close(release) }) // runs before srv.Close
				v, md := target(t, w, srv, sc.timeout)

				err := v.VerifyKey(context.Background(), w.provider, secret, md)
				if diff := cmp.Diff(sc.want, outcomeOf(t, err)); diff != "" {
					t.Errorf("VerifyKey (-want +got):\n%s\nerror: %v", diff, err)
				}
				checkNoSecret(t, err)
				if sc.slow {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("a timeout should wrap context.DeadlineExceeded, got %v", err)
					}
					return // the request may not have been seen before the deadline
				}
				select {
				case r := <-reqs:
					checkRequest(t, w, r)
				default:
					t.Fatal("the provider saw no request")
				}
				if len(reqs) != 0 {
					t.Errorf("the provider saw %d more requests", len(reqs))
				}
			})
		}
	}
}

// verifyAgainst runs one check of provider p against a server answering
// status and body.
func verifyAgainst(t *testing.T, p echogen.Provider, status int, contentType, body string) error {
	t.Helper()
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	var wr wire
	for _, x := range wires {
		if x.provider == p {
			wr = x
		}
	}
	v, md := target(t, wr, srv, 0)
	err := v.VerifyKey(context.Background(), p, secret, md)
	checkNoSecret(t, err)
	return err
}

func TestProviderSpecificAnswers(t *testing.T) {
	tests := []struct {
		name        string
		provider    echogen.Provider
		status      int
		contentType string
		body        string
		want        *outcome
	}{
		{
			name: "elevenlabs key without user_read is a real key", provider: echogen.ProviderElevenLabs, status: 401,
			body: `{"detail":{"status":"missing_permissions","message":"The API key you used is missing the permission user_read to execute this operation."}}`,
		},
		{
			name: "elevenlabs plain detail", provider: echogen.ProviderElevenLabs, status: 401, body: `{"detail":"Not authenticated"}`,
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "Not authenticated"},
		},
		{
			name: "elevenlabs validation list", provider: echogen.ProviderElevenLabs, status: 422,
			body: `{"detail":[{"loc":["header","xi-api-key"],"msg":"field required","type":"value_error.missing"}]}`,
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
				Message: "could not verify the key with ElevenLabs: unexpected HTTP 422: field required"},
		},
		{
			name: "gemini expired key", provider: echogen.ProviderGemini, status: 400,
			body: `{"error":{"code":400,"message":"API key expired. Please renew the API key.","status":"INVALID_ARGUMENT"}}`,
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "API key expired. Please renew the API key."},
		},
		{
			name: "gemini other 400 says nothing of the key", provider: echogen.ProviderGemini, status: 400,
			body: `{"error":{"code":400,"message":"Invalid page size.","status":"INVALID_ARGUMENT"}}`,
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
				Message: "could not verify the key with Gemini: unexpected HTTP 400: Invalid page size."},
		},
		{
			name: "gemini api disabled", provider: echogen.ProviderGemini, status: 403,
			body: `{"error":{"code":403,"message":"Generative Language API has not been used in project 123 before or it is disabled.","status":"PERMISSION_DENIED"}}`,
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected,
				Message: "Generative Language API has not been used in project 123 before or it is disabled."},
		},
		{
			name: "400 from another provider is not a rejection", provider: echogen.ProviderOpenAI, status: 400,
			body: openAIErr("API key not valid"),
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
				Message: "could not verify the key with OpenAI: unexpected HTTP 400: API key not valid"},
		},
		{
			name: "wrong base path", provider: echogen.ProviderOpenAICompatible, status: 404, contentType: "text/html",
			body: `<html><body>404 page not found</body></html>`,
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
				Message: "could not verify the key with the OpenAI-compatible server: unexpected HTTP 404"},
		},
		{
			name: "plain-text refusal behind a proxy", provider: echogen.ProviderOllama, status: 401, contentType: "text/plain; charset=utf-8",
			body: "Unauthorized\n",
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "Unauthorized"},
		},
		{
			name: "html refusal is not a message", provider: echogen.ProviderOllama, status: 403, contentType: "text/html",
			body: "<html><h1>403 Forbidden</h1></html>",
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "HTTP 403"},
		},
		{
			name: "control characters and runs of space", provider: echogen.ProviderAnthropic, status: 401,
			body: `{"type":"error","error":{"type":"authentication_error","message":"line one\n\tline\u0000 two   end"}}`,
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "line one line two end"},
		},
		{
			name: "json error with an unexpected shape", provider: echogen.ProviderGroq, status: 401, body: `{"error":{"message":42}}`,
			want: &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "HTTP 401"},
		},
		{
			name: "payment required is not a verdict", provider: echogen.ProviderFirecrawl, status: 402,
			body: `{"success":false,"error":"Payment required"}`,
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
				Message: "could not verify the key with Firecrawl: unexpected HTTP 402: Payment required"},
		},
		{
			name: "anthropic overloaded", provider: echogen.ProviderAnthropic, status: 529,
			body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			want: &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnavailable, Message: "could not reach Anthropic: HTTP 529: Overloaded"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			err := verifyAgainst(t, tc.provider, tc.status, ct, tc.body)
			if diff := cmp.Diff(tc.want, outcomeOf(t, err)); diff != "" {
				t.Errorf("VerifyKey (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLongMessagesAreCut(t *testing.T) {
	t.Run("message", func(t *testing.T) {
		err := verifyAgainst(t, echogen.ProviderOpenAI, 401, "application/json", openAIErr(strings.Repeat("é", 1000)))
		o := outcomeOf(t, err)
		if o == nil || o.Kind != echogen.KindUnauthenticated {
			t.Fatalf("got %v, want a rejection", err)
		}
		if n := utf8.RuneCountInString(o.Message); n != 300 || !strings.HasSuffix(o.Message, "…") {
			t.Errorf("message has %d runes (%q…), want 300 ending in an ellipsis", n, o.Message[:20])
		}
	})
	t.Run("secret at the cut", func(t *testing.T) {
		msg := strings.Repeat("x", 290) + secret + strings.Repeat("y", 50)
		err := verifyAgainst(t, echogen.ProviderOpenAI, 401, "application/json", openAIErr(msg))
		if o := outcomeOf(t, err); o == nil || utf8.RuneCountInString(o.Message) > 300 || strings.Contains(o.Message, secret[:8]) {
			t.Errorf("got %+v, want a message of at most 300 runes without the key", o)
		}
	})
	t.Run("body over the read cap", func(t *testing.T) {
		err := verifyAgainst(t, echogen.ProviderOpenAI, 401, "application/json", openAIErr(strings.Repeat("x", 1<<20)))
		want := &outcome{Kind: echogen.KindUnauthenticated, Code: keycheck.CodeKeyRejected, Message: "HTTP 401"}
		if diff := cmp.Diff(want, outcomeOf(t, err)); diff != "" {
			t.Errorf("VerifyKey (-want +got):\n%s", diff)
		}
	})
}

func TestSelfHostedBaseURL(t *testing.T) {
	loc := []string{"body", "metadata", "base_url"}
	for _, p := range []echogen.Provider{echogen.ProviderOllama, echogen.ProviderOpenAICompatible} {
		for _, tc := range []struct {
			name string
			md   map[string]any
		}{
			{"nil metadata", nil},
			{"missing", map[string]any{"other": "x"}},
			{"empty", map[string]any{"base_url": "  "}},
			{"not a string", map[string]any{"base_url": 11434}},
			{"not http", map[string]any{"base_url": "ftp://models.local/v1"}},
			{"no host", map[string]any{"base_url": "http:///v1"}},
			{"not a URL", map[string]any{"base_url": "localhost:11434"}},
			{"credentials", map[string]any{"base_url": "http://user:" + secret + "@models.local/v1"}},
			{"query", map[string]any{"base_url": "http://models.local/v1?key=" + secret}},
			{"fragment", map[string]any{"base_url": "http://models.local/v1#x"}},
		} {
			t.Run(string(p)+"/"+tc.name, func(t *testing.T) {
				v := keycheck.New(nil, keycheck.Options{})
				err := v.VerifyKey(context.Background(), p, secret, tc.md)
				checkNoSecret(t, err)
				var e *echogen.Error
				if !errors.As(err, &e) || e.Kind != echogen.KindInvalid {
					t.Fatalf("got %v, want KindInvalid", err)
				}
				if len(e.Fields) != 1 || !cmp.Equal(e.Fields[0].Loc, loc) {
					t.Errorf("fields = %+v, want one at %v", e.Fields, loc)
				}
			})
		}
	}
}

func TestSelfHostedWithoutKey(t *testing.T) {
	for _, p := range []echogen.Provider{echogen.ProviderOllama, echogen.ProviderOpenAICompatible} {
		t.Run(string(p), func(t *testing.T) {
			srv, reqs := fake(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(`{"models":[],"data":[]}`))
			})
			v := keycheck.New(nil, keycheck.Options{})
			if err := v.VerifyKey(context.Background(), p, "", map[string]any{"base_url": srv.URL}); err != nil {
				t.Fatalf("VerifyKey: %v", err)
			}
			if r := <-reqs; r.header.Get("Authorization") != "" {
				t.Errorf("Authorization = %q, want none without a key", r.header.Get("Authorization"))
			}
		})
	}
}

func TestRefusedBeforeAnyRequest(t *testing.T) {
	var hits atomic.Int32
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	v := keycheck.New(nil, keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderOpenAI: srv.URL}})
	tests := []struct {
		name     string
		provider echogen.Provider
		secret   string
		code     string
	}{
		{"unknown provider", "mistral", secret, keycheck.CodeUnknownProvider},
		{"empty provider", "", secret, keycheck.CodeUnknownProvider},
		{"hosted provider without a key", echogen.ProviderOpenAI, "", keycheck.CodeMissingSecret},
		{"header injection", echogen.ProviderOpenAI, secret + "\r\nX-Evil: 1", keycheck.CodeInvalidSecret},
		{"control character", echogen.ProviderOpenAI, secret + "\x00", keycheck.CodeInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.VerifyKey(context.Background(), tc.provider, tc.secret, nil)
			checkNoSecret(t, err)
			want := &outcome{Kind: echogen.KindInvalid, Code: tc.code}
			got := outcomeOf(t, err)
			if got != nil {
				got.Message = ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("VerifyKey (-want +got):\n%s", diff)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the provider", n)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	v := keycheck.New(nil, keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderAnthropic: base + "/v1"}})
	err := v.VerifyKey(context.Background(), echogen.ProviderAnthropic, secret, nil)
	checkNoSecret(t, err)
	o := outcomeOf(t, err)
	if o == nil || o.Kind != echogen.KindUnavailable || o.Code != keycheck.CodeUnavailable ||
		!strings.HasPrefix(o.Message, "could not reach Anthropic: ") {
		t.Fatalf("got %+v, want KindUnavailable, could not reach Anthropic", o)
	}
	if strings.Contains(o.Message, base) {
		t.Errorf("message %q names the URL", o.Message)
	}
}

func TestCanceledByCaller(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	v := keycheck.New(nil, keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderGroq: srv.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.VerifyKey(ctx, echogen.ProviderGroq, secret, nil) }()
	<-arrived
	cancel()
	err := <-done
	checkNoSecret(t, err)
	want := &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeCanceled, Message: "key verification was canceled"}
	if diff := cmp.Diff(want, outcomeOf(t, err)); diff != "" {
		t.Errorf("VerifyKey (-want +got):\n%s", diff)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other, _ := fake(t, func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v1/user", http.StatusFound)
	})
	client := &http.Client{}
	v := keycheck.New(client, keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderElevenLabs: srv.URL + "/v1"}})
	err := v.VerifyKey(context.Background(), echogen.ProviderElevenLabs, secret, nil)
	checkNoSecret(t, err)
	want := &outcome{Kind: echogen.KindUnavailable, Code: keycheck.CodeUnexpectedResponse,
		Message: "could not verify the key with ElevenLabs: unexpected HTTP 302"}
	if diff := cmp.Diff(want, outcomeOf(t, err)); diff != "" {
		t.Errorf("VerifyKey (-want +got):\n%s", diff)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the key was forwarded to the redirect target %d times", n)
	}
	if client.CheckRedirect != nil {
		t.Error("New changed the caller's client")
	}
}

func TestRetryAfterDate(t *testing.T) {
	srv, _ := fake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(48*time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	v := keycheck.New(nil, keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderOpenRouter: srv.URL}})
	o := outcomeOf(t, v.VerifyKey(context.Background(), echogen.ProviderOpenRouter, secret, nil))
	if o == nil || o.Kind != echogen.KindRateLimited || o.RetryAfter != time.Hour {
		t.Errorf("got %+v, want KindRateLimited with RetryAfter capped at 1h", o)
	}
}

func TestDefaultBaseURLs(t *testing.T) {
	want := map[echogen.Provider]string{
		echogen.ProviderOpenAI:       "https://api.openai.com/v1",
		echogen.ProviderGroq:         "https://api.groq.com/openai/v1",
		echogen.ProviderOpenRouter:   "https://openrouter.ai/api/v1",
		echogen.ProviderGemini:       "https://generativelanguage.googleapis.com/v1beta",
		echogen.ProviderAnthropic:    "https://api.anthropic.com/v1",
		echogen.ProviderElevenLabs:   "https://api.elevenlabs.io/v1",
		echogen.ProviderImageRouter:  "https://api.imagerouter.io/v1",
		echogen.ProviderFirecrawl:    "https://api.firecrawl.dev/v2",
		echogen.ProviderHyperbrowser: "https://api.hyperbrowser.ai/api",
	}
	got := keycheck.DefaultBaseURLs()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultBaseURLs (-want +got):\n%s", diff)
	}
	got[echogen.ProviderOpenAI] = "http://evil.example"
	if keycheck.DefaultBaseURLs()[echogen.ProviderOpenAI] != want[echogen.ProviderOpenAI] {
		t.Error("DefaultBaseURLs returns shared state")
	}
	for _, p := range echogen.Providers() {
		if _, hosted := want[p]; hosted == p.NeedsBaseURL() {
			t.Errorf("%s: hosted = %v, NeedsBaseURL = %v", p, hosted, p.NeedsBaseURL())
		}
	}
}

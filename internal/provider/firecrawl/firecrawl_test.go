package firecrawl_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/firecrawl"
)

const (
	key  = "fc-test-SECRET-0123456789abcdef"
	page = "https://example.com/articles/42?ref=home"
)

// wantBody is the exact JSON body Firecrawl must receive.
var wantBody = map[string]any{"url": page, "formats": []any{"markdown"}, "onlyMainContent": true}

// answer is how the stand-in Firecrawl responds.
type answer struct {
	status  int
	header  map[string]string
	body    string
	ctype   string // default application/json
	hangFor bool   // wait for the client to give up instead of answering
}

// firecrawlServer stands in for api.firecrawl.dev: it checks each request
// the way the real service reads it and answers with a.
func firecrawlServer(t *testing.T, a answer, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		checkRequest(t, r)
		if a.hangFor {
			<-r.Context().Done()
			return
		}
		ctype := a.ctype
		if ctype == "" {
			ctype = "application/json"
		}
		w.Header().Set("Content-Type", ctype)
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func checkRequest(t *testing.T, r *http.Request) {
	t.Helper()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/scrape" || r.URL.RawQuery != "" {
		t.Errorf("request = %s %s, want POST /v2/scrape", r.Method, r.URL)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+key {
		t.Errorf("Authorization = %q, want the Bearer key", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("body is not JSON: %v", err)
	}
	if d := cmp.Diff(wantBody, body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
}

// gotErr is what a test checks of an error.
type gotErr struct {
	Kind       echogen.Kind
	Code       string
	Message    string
	RetryAfter time.Duration
}

func errOf(t *testing.T, err error) gotErr {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *echogen.Error", err, err)
	}
	if strings.Contains(err.Error(), key) || strings.Contains(e.Message, key) {
		t.Errorf("the key leaks in the error: %q", err.Error())
	}
	return gotErr{e.Kind, e.Code, e.Message, e.RetryAfter}
}

func date(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestScrapeSuccess(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *echogen.Document
	}{
		{
			name: "full v2 answer",
			body: `{"success":true,"data":{"markdown":"# Hello\n\nWorld.","metadata":{
				"title":"Hello – Example","description":"A  page\nabout things","language":"en",
				"ogSiteName":"Example News","author":"Ada Lovelace","publishedTime":"2024-05-01T10:00:00+02:00",
				"sourceURL":"` + page + `","url":"https://www.example.com/articles/42","statusCode":200,
				"contentType":"text/html; charset=utf-8","scrapeId":"019d-abc","proxyUsed":"basic",
				"cacheState":"miss","creditsUsed":1,"concurrencyLimited":false,"keywords":["a","b"]}}}`,
			want: &echogen.Document{
				Title: "Hello – Example", Markdown: "# Hello\n\nWorld.", URL: "https://www.example.com/articles/42",
				SiteName: "Example News", Author: "Ada Lovelace", Published: date("2024-05-01T08:00:00Z"),
				Language: "en", ContentType: "text/html", Excerpt: "A page about things",
			},
		},
		{
			name: "v1 answer: sourceURL only, og: tags as lists",
			body: `{"success":true,"data":{"markdown":"Text","html":"<p>Text</p>","metadata":{
				"og:title":["", "From OG"],"sourceURL":"https://example.com/v1","og:site_name":"Site",
				"og:locale":"pt_BR","article:published_time":"2023-12-24","statusCode":200}}}`,
			want: &echogen.Document{
				Title: "From OG", Markdown: "Text", URL: "https://example.com/v1", SiteName: "Site",
				Published: date("2023-12-24T00:00:00Z"), Language: "pt-BR", ContentType: "text/html",
			},
		},
		{
			name: "PDF",
			body: `{"success":true,"data":{"markdown":"Page one","metadata":{"title":"Report","numPages":3,
				"contentType":"application/pdf","sourceURL":"` + page + `","statusCode":200}}}`,
			want: &echogen.Document{Title: "Report", Markdown: "Page one", URL: page, ContentType: "application/pdf"},
		},
		{
			name: "no metadata: Untitled, the asked URL, junk ignored",
			body: `{"success":true,"data":{"markdown":"Just text","metadata":{"language":"not a language!","publishedTime":"yesterday","url":"javascript:alert(1)"}}}`,
			want: &echogen.Document{Title: "Untitled", Markdown: "Just text", URL: page, ContentType: "text/html"},
		},
		{
			name: "no metadata object at all",
			body: `{"success":true,"data":{"markdown":"Just text"}}`,
			want: &echogen.Document{Title: "Untitled", Markdown: "Just text", URL: page, ContentType: "text/html"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := firecrawlServer(t, answer{status: 200, body: tt.body}, &calls)
			s := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL + "/"})
			doc, err := s.Scrape(context.Background(), key, page)
			if err != nil {
				t.Fatalf("Scrape: %v", err)
			}
			if d := cmp.Diff(tt.want, doc); d != "" {
				t.Errorf("document (-want +got):\n%s", d)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestScrapeFailures(t *testing.T) {
	tests := []struct {
		name string
		a    answer
		want gotErr
	}{
		{"401 invalid key", answer{status: 401, body: `{"success":false,"error":"Unauthorized: Invalid token"}`},
			gotErr{echogen.KindUnauthenticated, "api_key_rejected", "Invalid Firecrawl API key", 0}},
		{"402 out of credits", answer{status: 402, body: `{"success":false,"error":"Payment required to access this resource."}`},
			gotErr{echogen.KindPermissionDenied, "provider_quota_exceeded", "Firecrawl quota exceeded or payment required: Payment required to access this resource.", 0}},
		{"402 without a body", answer{status: 402},
			gotErr{echogen.KindPermissionDenied, "provider_quota_exceeded", "Firecrawl quota exceeded or payment required", 0}},
		{"408 scrape timeout with Retry-After", answer{status: 408, header: map[string]string{"Retry-After": "60"},
			body: `{"success":false,"code":"SCRAPE_TIMEOUT","error":"Scrape timed out","details":{"state":"processing_continues","retryAfterSeconds":60}}`},
			gotErr{echogen.KindUnavailable, "provider_timeout", "Firecrawl timed out scraping the page, try again later: Scrape timed out", time.Minute}},
		{"504 from the gateway", answer{status: 504, ctype: "text/html", body: "<html><body>504 Gateway Time-out</body></html>"},
			gotErr{echogen.KindUnavailable, "provider_timeout", "Firecrawl timed out scraping the page, try again later", 0}},
		{"429 with Retry-After", answer{status: 429, header: map[string]string{"Retry-After": "30"},
			body: `{"success":false,"error":"Rate limit exceeded. Consumed (req/min): 11, Remaining (req/min): 0."}`},
			gotErr{echogen.KindRateLimited, "provider_rate_limited", "rate limited by Firecrawl, try again later: Rate limit exceeded. Consumed (req/min): 11, Remaining (req/min): 0.", 30 * time.Second}},
		{"429 with an HTTP-date far away is capped", answer{status: 429, header: map[string]string{"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}},
			gotErr{echogen.KindRateLimited, "provider_rate_limited", "rate limited by Firecrawl, try again later", time.Hour}},
		{"500", answer{status: 500, body: `{"success":false,"code":"UNKNOWN_ERROR","error":"An unexpected error occurred. Please contact help@firecrawl.com for help. Your exception ID is 0198"}`},
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Firecrawl is unavailable (HTTP 500): An unexpected error occurred. Please contact help@firecrawl.com for help. Your exception ID is 0198", 0}},
		{"502 HTML page", answer{status: 502, ctype: "text/html", body: "<html>Bad gateway</html>"},
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Firecrawl is unavailable (HTTP 502)", 0}},
		{"503 plain text", answer{status: 503, ctype: "text/plain; charset=utf-8", body: "upstream\nconnect error"},
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Firecrawl is unavailable (HTTP 503): upstream connect error", 0}},
		{"400 validation", answer{status: 400, body: `{"success":false,"code":"BAD_REQUEST","error":"Bad Request","details":[{"path":["url"],"message":"Invalid URL"}]}`},
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Firecrawl refused the request (HTTP 400): Bad Request", 0}},
		{"403 unsupported site", answer{status: 403, body: `{"success":false,"code":"UNSUPPORTED_SITE","error":"This website is no longer supported."}`},
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Firecrawl refused the request (HTTP 403): This website is no longer supported.", 0}},
		{"404 with a nested error object", answer{status: 404, body: `{"error":{"message":"Not here"}}`},
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Firecrawl refused the request (HTTP 404): Not here", 0}},
		{"malformed JSON", answer{status: 200, body: `{"success":true,"data":{"markdown":"# Hi"`},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Firecrawl sent an answer that is not the JSON we expect", 0}},
		{"HTML instead of JSON", answer{status: 200, ctype: "text/html", body: `<!doctype html><p>maintenance</p>`},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Firecrawl sent an answer that is not the JSON we expect", 0}},
		{"mistyped field", answer{status: 200, body: `{"success":true,"data":{"markdown":42}}`},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Firecrawl sent an answer that is not the JSON we expect", 0}},
		{"no data", answer{status: 200, body: `{"success":true}`},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Firecrawl sent an answer that is not the JSON we expect", 0}},
		{"success=false with 200 (DNS)", answer{status: 200, body: `{"success":false,"code":"SCRAPE_DNS_RESOLUTION_ERROR","error":"DNS resolution failed for hostname: example.invalid."}`},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Firecrawl could not scrape the page: DNS resolution failed for hostname: example.invalid.", 0}},
		{"success=false without a reason", answer{status: 200, body: `{"success":false}`},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Firecrawl could not scrape the page", 0}},
		{"empty markdown", answer{status: 200, body: `{"success":true,"data":{"markdown":"","metadata":{"title":"Empty","statusCode":200}}}`},
			gotErr{echogen.KindInvalid, "scrape_empty", "Firecrawl returned no content", 0}},
		{"blank markdown", answer{status: 200, body: `{"success":true,"data":{"markdown":"  \n\t ","metadata":{"statusCode":200}}}`},
			gotErr{echogen.KindInvalid, "scrape_empty", "Firecrawl returned no content", 0}},
		{"markdown missing", answer{status: 200, body: `{"success":true,"data":{"metadata":{"statusCode":200}}}`},
			gotErr{echogen.KindInvalid, "scrape_empty", "Firecrawl returned no content", 0}},
		{"the page answered 404", answer{status: 200, body: `{"success":true,"data":{"markdown":"Not Found","metadata":{"statusCode":404,"error":"Not Found"}}}`},
			gotErr{echogen.KindBadRequest, "source_http_error", "the page answered HTTP 404: Not Found", 0}},
		{"a redirect is not followed", answer{status: 307, header: map[string]string{"Location": "https://elsewhere.example/v2/scrape"}},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Firecrawl sent an unexpected answer (HTTP 307)", 0}},
		{"the key echoed back is redacted", answer{status: 400, body: `{"success":false,"error":"Bad key format: ` + key + `"}`},
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Firecrawl refused the request (HTTP 400): Bad key format: [redacted]", 0}},
		{"the key echoed on 401 stays out of the cause", answer{status: 401, body: `{"error":"Invalid token ` + key + `"}`},
			gotErr{echogen.KindUnauthenticated, "api_key_rejected", "Invalid Firecrawl API key", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := firecrawlServer(t, tt.a, nil)
			s := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL})
			doc, err := s.Scrape(context.Background(), key, page)
			if err == nil {
				t.Fatalf("Scrape = %+v, want an error", doc)
			}
			if doc != nil {
				t.Errorf("Scrape returned a document with its error")
			}
			if d := cmp.Diff(tt.want, errOf(t, err)); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
		})
	}
}

func TestScrapeRetryAfterHTTPDate(t *testing.T) {
	at := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv := firecrawlServer(t, answer{status: 429, header: map[string]string{"Retry-After": at}}, nil)
	_, err := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL}).Scrape(context.Background(), key, page)
	got := errOf(t, err)
	if got.Kind != echogen.KindRateLimited || got.RetryAfter < 80*time.Second || got.RetryAfter > 90*time.Second {
		t.Errorf("error = %+v, want rate limited for about 90s", got)
	}
}

func TestScrapeTooLarge(t *testing.T) {
	body := `{"success":true,"data":{"markdown":"` + strings.Repeat("x", 4096) + `"}}`
	srv := firecrawlServer(t, answer{status: 200, body: body}, nil)
	s := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL, MaxResponseBytes: 1024})
	_, err := s.Scrape(context.Background(), key, page)
	if d := cmp.Diff(gotErr{echogen.KindTooLarge, "scrape_too_large", "Firecrawl's answer is larger than 1024 bytes", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}

	// Exactly at the cap is fine.
	exact := `{"success":true,"data":{"markdown":"ok"}}`
	srv = firecrawlServer(t, answer{status: 200, body: exact}, nil)
	s = firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL, MaxResponseBytes: int64(len(exact))})
	if _, err := s.Scrape(context.Background(), key, page); err != nil {
		t.Errorf("an answer of exactly the cap: %v", err)
	}
}

func TestScrapeRejectsInputWithoutCalling(t *testing.T) {
	tests := []struct {
		name, key, url string
		want           gotErr
	}{
		{"no key", "", page, gotErr{echogen.KindBadRequest, "missing_api_key", "no Firecrawl API key", 0}},
		{"blank key", "   ", page, gotErr{echogen.KindBadRequest, "missing_api_key", "no Firecrawl API key", 0}},
		{"key with a newline", key + "\r\nX-Evil: 1", page, gotErr{echogen.KindBadRequest, "invalid_api_key", "the Firecrawl API key contains characters that cannot be sent in a request header", 0}},
		{"not a URL", key, "example.com/page", gotErr{echogen.KindInvalid, "invalid_url", "url must be an http or https URL", 0}},
		{"ftp URL", key, "ftp://example.com/file", gotErr{echogen.KindInvalid, "invalid_url", "url must be an http or https URL", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := firecrawlServer(t, answer{status: 200, body: `{}`}, &calls)
			_, err := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL}).Scrape(context.Background(), tt.key, tt.url)
			if d := cmp.Diff(tt.want, errOf(t, err)); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if calls.Load() != 0 {
				t.Errorf("Firecrawl was called")
			}
		})
	}
}

func TestScrapeTimeout(t *testing.T) {
	srv := firecrawlServer(t, answer{hangFor: true}, nil)
	s := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	_, err := s.Scrape(context.Background(), key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "provider_timeout", "Firecrawl did not answer within 50ms", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
}

func TestScrapeCallerDeadline(t *testing.T) {
	srv := firecrawlServer(t, answer{hangFor: true}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL}).Scrape(ctx, key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "provider_timeout", "Firecrawl did not answer in time", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) = false for %v", err)
	}
}

func TestScrapeCanceled(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a gone client only once the body is read
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := firecrawl.New(srv.Client(), firecrawl.Options{BaseURL: srv.URL}).Scrape(ctx, key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "scrape_canceled", "the scrape was canceled", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, Canceled) = false for %v", err)
	}
}

func TestScrapeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := firecrawl.New(nil, firecrawl.Options{BaseURL: base}).Scrape(context.Background(), key, page)
	got := errOf(t, err)
	if got.Kind != echogen.KindUnavailable || got.Code != "provider_unavailable" || !strings.HasPrefix(got.Message, "could not reach Firecrawl: ") {
		t.Errorf("error = %+v", got)
	}
	if strings.Contains(got.Message, base) {
		t.Errorf("the message names the endpoint: %q", got.Message)
	}
}

// roundTripper answers every request in process, recording it.
type roundTripper struct{ got *http.Request }

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.got = r
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
		Body: io.NopCloser(strings.NewReader(`{"success":true,"data":{"markdown":"ok"}}`))}, nil
}

func TestDefaults(t *testing.T) {
	rt := &roundTripper{}
	client := &http.Client{Transport: rt}
	if _, err := firecrawl.New(client, firecrawl.Options{}).Scrape(context.Background(), key, page); err != nil {
		t.Fatal(err)
	}
	if got := rt.got.URL.String(); got != "https://api.firecrawl.dev/v2/scrape" {
		t.Errorf("default endpoint = %s", got)
	}
	deadline, ok := rt.got.Context().Deadline()
	if !ok || time.Until(deadline) > firecrawl.DefaultTimeout || time.Until(deadline) < firecrawl.DefaultTimeout-time.Minute {
		t.Errorf("request deadline = %v, want about DefaultTimeout from now", deadline)
	}
	if client.CheckRedirect != nil {
		t.Errorf("New changed the caller's client")
	}
}

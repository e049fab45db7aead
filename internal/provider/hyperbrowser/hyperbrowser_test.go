package hyperbrowser_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/hyperbrowser"
)

const (
	key   = "hb_test_SECRET_0123456789abcdef"
	page  = "https://example.com/articles/42?ref=home"
	jobID = "962372c4-a140-400b-8c26-4ffe21d9fb9c"
)

// wantStart is the exact JSON body Hyperbrowser must receive.
var wantStart = map[string]any{
	"url":           page,
	"scrapeOptions": map[string]any{"formats": []any{"markdown"}, "onlyMainContent": true},
}

// answer is one reply of the stand-in Hyperbrowser.
type answer struct {
	status int
	header map[string]string
	body   string
	ctype  string // default application/json
	hang   bool   // wait for the client to give up instead of answering
}

func ok(body string) answer { return answer{status: 200, body: body} }

// job is a GET /api/scrape/{id} answer.
func job(status, rest string) answer {
	if rest != "" {
		rest = "," + rest
	}
	return ok(fmt.Sprintf(`{"jobId":%q,"status":%q%s}`, jobID, status, rest))
}

var (
	pending = job("pending", "")
	running = job("running", `"data":null`)
)

// server stands in for api.hyperbrowser.ai: it checks each request the way
// the real service reads it, answers POST /api/scrape with start and the
// n-th GET /api/scrape/{jobId} with polls[n] (the last one repeats).
type server struct {
	t      *testing.T
	srv    *httptest.Server
	start  answer
	polls  []answer
	jobID  string
	onPoll func(n int) // called before the n-th poll (from 1) is answered

	startSeen chan struct{} // closed when the first POST arrives

	mu          sync.Mutex
	posts, gets int
	unexpected  []string
}

func newServer(t *testing.T, start answer, polls ...answer) *server {
	t.Helper()
	s := &server{t: t, start: start, polls: polls, jobID: jobID, startSeen: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	t := s.t
	body, _ := io.ReadAll(r.Body)
	if got := r.Header.Get("x-api-key"); got != key {
		t.Errorf("%s %s: x-api-key = %q, want the key", r.Method, r.URL, got)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("%s %s: unexpected Authorization header", r.Method, r.URL)
	}
	var a answer
	switch {
	case r.Method == http.MethodPost && r.URL.EscapedPath() == "/api/scrape" && r.URL.RawQuery == "":
		s.mu.Lock()
		if s.posts++; s.posts == 1 {
			close(s.startSeen)
		}
		s.mu.Unlock()
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("POST Content-Type = %q", got)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("POST body is not JSON: %v", err)
		}
		if d := cmp.Diff(wantStart, got); d != "" {
			t.Errorf("POST body (-want +got):\n%s", d)
		}
		a = s.start
	case r.Method == http.MethodGet && r.URL.EscapedPath() == "/api/scrape/"+url.PathEscape(s.jobID) && r.URL.RawQuery == "":
		if len(body) != 0 {
			t.Errorf("GET with a body: %q", body)
		}
		s.mu.Lock()
		s.gets++
		n := s.gets
		s.mu.Unlock()
		if s.onPoll != nil {
			s.onPoll(n)
		}
		a = s.polls[min(n, len(s.polls))-1]
	default:
		s.mu.Lock()
		s.unexpected = append(s.unexpected, r.Method+" "+r.URL.String())
		s.mu.Unlock()
		http.Error(w, `{"message":"Not found"}`, http.StatusNotFound)
		return
	}
	if a.hang {
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
}

// counts returns the POSTs and GETs seen, failing on any other request.
func (s *server) counts() (posts, gets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unexpected) > 0 {
		s.t.Errorf("unexpected requests: %v", s.unexpected)
	}
	return s.posts, s.gets
}

var started = ok(`{"jobId":"` + jobID + `"}`)

// fakeTime is the injected clock and wait: waiting moves the clock.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	// before is called at the start of the n-th wait (from 1).
	before func(n int)
}

func newFakeTime() *fakeTime {
	return &fakeTime{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Wait(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	n := len(f.waits) + 1
	f.waits = append(f.waits, d)
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(n)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
	return nil
}

func (f *fakeTime) Waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

func (s *server) scraper(ft *fakeTime, opts hyperbrowser.Options) *hyperbrowser.Scraper {
	opts.BaseURL = s.srv.URL
	opts.Clock = ft
	opts.Wait = ft.Wait
	return hyperbrowser.New(s.srv.Client(), opts)
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

const secs = time.Second

func TestScrapeCompletes(t *testing.T) {
	tests := []struct {
		name      string
		polls     []answer
		want      *echogen.Document
		wantWaits []time.Duration
	}{
		{
			name: "pending, running, completed",
			polls: []answer{pending, running, job("completed", `"data":{"markdown":"# Hello\n\nWorld.","metadata":{
				"title":"Hello – Example","description":"A page","language":"en","og:site_name":"Example News",
				"author":"Ada Lovelace","article:published_time":"2024-05-01T10:00:00Z",
				"sourceURL":"`+page+`","url":"https://www.example.com/articles/42","keywords":["a","b"]}},"error":null`)},
			want: &echogen.Document{
				Title: "Hello – Example", Markdown: "# Hello\n\nWorld.", URL: "https://www.example.com/articles/42",
				SiteName: "Example News", Author: "Ada Lovelace", Published: date("2024-05-01T10:00:00Z"),
				Language: "en", ContentType: "text/html", Excerpt: "A page",
			},
			wantWaits: []time.Duration{2 * secs, 2 * secs, 2 * secs},
		},
		{
			name:      "completed at the first look, no metadata",
			polls:     []answer{job("completed", `"data":{"markdown":"Just text"}`)},
			want:      &echogen.Document{Title: "Untitled", Markdown: "Just text", URL: page, ContentType: "text/html"},
			wantWaits: []time.Duration{2 * secs},
		},
		{
			name: "title as a list, a PDF URL",
			polls: []answer{job("completed", `"data":{"markdown":"Page one","metadata":{"title":["","Report"],
				"sourceURL":"https://example.com/report.PDF","og:locale":"en_GB"}}`)},
			want: &echogen.Document{Title: "Report", Markdown: "Page one", URL: "https://example.com/report.PDF",
				Language: "en-GB", ContentType: "application/pdf"},
			wantWaits: []time.Duration{2 * secs},
		},
		{
			name:      "an invalid url is passed over for sourceURL",
			polls:     []answer{job("completed", `"data":{"markdown":"ok","metadata":{"url":"about:blank","sourceURL":"https://example.com/final"}}`)},
			want:      &echogen.Document{Title: "Untitled", Markdown: "ok", URL: "https://example.com/final", ContentType: "text/html"},
			wantWaits: []time.Duration{2 * secs},
		},
		{
			name:      "an unknown status is waited out",
			polls:     []answer{job("queued", ""), job("completed", `"data":{"markdown":"ok"}`)},
			want:      &echogen.Document{Title: "Untitled", Markdown: "ok", URL: page, ContentType: "text/html"},
			wantWaits: []time.Duration{2 * secs, 2 * secs},
		},
		{
			name:      "a 502 between looks is waited out",
			polls:     []answer{running, {status: 502, ctype: "text/html", body: "<html>Bad gateway</html>"}, job("completed", `"data":{"markdown":"ok"}`)},
			want:      &echogen.Document{Title: "Untitled", Markdown: "ok", URL: page, ContentType: "text/html"},
			wantWaits: []time.Duration{2 * secs, 2 * secs, 2 * secs},
		},
		{
			name:      "a 429 while polling waits its Retry-After",
			polls:     []answer{{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"message":"Too many requests"}`}, job("completed", `"data":{"markdown":"ok"}`)},
			want:      &echogen.Document{Title: "Untitled", Markdown: "ok", URL: page, ContentType: "text/html"},
			wantWaits: []time.Duration{2 * secs, 7 * secs},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, started, tt.polls...)
			ft := newFakeTime()
			doc, err := srv.scraper(ft, hyperbrowser.Options{}).Scrape(context.Background(), key, page)
			if err != nil {
				t.Fatalf("Scrape: %v", err)
			}
			if d := cmp.Diff(tt.want, doc); d != "" {
				t.Errorf("document (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantWaits, ft.Waits()); d != "" {
				t.Errorf("waits (-want +got):\n%s", d)
			}
			if posts, gets := srv.counts(); posts != 1 || gets != len(tt.wantWaits) {
				t.Errorf("%d POSTs and %d GETs, want 1 and %d", posts, gets, len(tt.wantWaits))
			}
		})
	}
}

func TestScrapeFails(t *testing.T) {
	tests := []struct {
		name     string
		start    answer
		polls    []answer
		want     gotErr
		wantGets int
	}{
		// Starting the job.
		{"401 invalid key", answer{status: 401, body: `{"message":"Invalid API key"}`}, nil,
			gotErr{echogen.KindUnauthenticated, "api_key_rejected", "Invalid Hyperbrowser API key", 0}, 0},
		{"402 out of credits", answer{status: 402, body: `{"message":"Insufficient credits"}`}, nil,
			gotErr{echogen.KindPermissionDenied, "provider_quota_exceeded", "Hyperbrowser quota exceeded or payment required: Insufficient credits", 0}, 0},
		{"429 with Retry-After", answer{status: 429, header: map[string]string{"Retry-After": "12"}, body: `{"error":"Too many concurrent scrapes"}`}, nil,
			gotErr{echogen.KindRateLimited, "provider_rate_limited", "rate limited by Hyperbrowser, try again later: Too many concurrent scrapes", 12 * secs}, 0},
		{"500", answer{status: 500, body: `{"message":"Internal server error"}`}, nil,
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Hyperbrowser is unavailable (HTTP 500): Internal server error", 0}, 0},
		{"503 HTML", answer{status: 503, ctype: "text/html", body: "<h1>down</h1>"}, nil,
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Hyperbrowser is unavailable (HTTP 503)", 0}, 0},
		{"504", answer{status: 504}, nil,
			gotErr{echogen.KindUnavailable, "provider_timeout", "Hyperbrowser timed out scraping the page, try again later", 0}, 0},
		{"400 validation", answer{status: 400, body: `{"message":"Invalid URL provided"}`}, nil,
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Hyperbrowser refused the request (HTTP 400): Invalid URL provided", 0}, 0},
		{"malformed JSON", ok(`{"jobId":`), nil,
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an answer that is not the JSON we expect", 0}, 0},
		{"no jobId", ok(`{"id":"x"}`), nil,
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an answer that is not the JSON we expect", 0}, 0},
		{"a redirect is not followed", answer{status: 302, header: map[string]string{"Location": "https://elsewhere.example/api/scrape"}}, nil,
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an unexpected answer (HTTP 302)", 0}, 0},
		{"the key echoed back is redacted", answer{status: 400, body: `{"message":"bad key ` + key + `"}`}, nil,
			gotErr{echogen.KindBadRequest, "scrape_rejected", "Hyperbrowser refused the request (HTTP 400): bad key [redacted]", 0}, 0},

		// Polling the job.
		{"failed: no more polling", started, []answer{pending, job("failed", `"error":"Navigation timeout of 30000 ms exceeded","data":null`), job("completed", `"data":{"markdown":"too late"}`)},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Hyperbrowser could not scrape the page: Navigation timeout of 30000 ms exceeded", 0}, 2},
		{"failed with an error object", started, []answer{job("failed", `"error":{"message":"Page crashed"}`)},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Hyperbrowser could not scrape the page: Page crashed", 0}, 1},
		{"failed without a reason", started, []answer{job("failed", "")},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Hyperbrowser could not scrape the page", 0}, 1},
		{"failed with the key in its error", started, []answer{job("failed", `"error":"proxy auth `+key+` refused"`)},
			gotErr{echogen.KindBadRequest, "scrape_failed", "Hyperbrowser could not scrape the page: proxy auth [redacted] refused", 0}, 1},
		{"stopped", started, []answer{running, job("stopped", "")},
			gotErr{echogen.KindUnavailable, "scrape_stopped", "Hyperbrowser stopped the scrape job before it finished", 0}, 2},
		{"completed with empty markdown", started, []answer{job("completed", `"data":{"markdown":"","metadata":{"title":"x"}}`)},
			gotErr{echogen.KindInvalid, "scrape_empty", "Hyperbrowser returned no content", 0}, 1},
		{"completed with blank markdown", started, []answer{job("completed", `"data":{"markdown":" \n "}`)},
			gotErr{echogen.KindInvalid, "scrape_empty", "Hyperbrowser returned no content", 0}, 1},
		{"completed without data", started, []answer{job("completed", `"data":null`)},
			gotErr{echogen.KindInvalid, "scrape_empty", "Hyperbrowser returned no content", 0}, 1},
		{"completed, but the page answered 403", started, []answer{job("completed", `"data":{"markdown":"Access denied","metadata":{"statusCode":"403"}}`)},
			gotErr{echogen.KindBadRequest, "source_http_error", "the page answered HTTP 403", 0}, 1},
		{"401 while polling", started, []answer{pending, {status: 401, body: `{"message":"Invalid API key"}`}},
			gotErr{echogen.KindUnauthenticated, "api_key_rejected", "Invalid Hyperbrowser API key", 0}, 2},
		{"402 while polling", started, []answer{{status: 402, body: `{"message":"Insufficient credits"}`}},
			gotErr{echogen.KindPermissionDenied, "provider_quota_exceeded", "Hyperbrowser quota exceeded or payment required: Insufficient credits", 0}, 1},
		{"404: the job is gone", started, []answer{pending, {status: 404, body: `{"message":"Job not found"}`}},
			gotErr{echogen.KindUnavailable, "scrape_job_lost", "Hyperbrowser no longer knows the scrape job", 0}, 2},
		{"5xx three times in a row", started, []answer{pending, {status: 503, body: `{"message":"Service Unavailable"}`}},
			gotErr{echogen.KindUnavailable, "provider_unavailable", "Hyperbrowser is unavailable (HTTP 503): Service Unavailable", 0}, 4},
		{"malformed job JSON", started, []answer{ok(`{"status":"running"`)},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an answer that is not the JSON we expect", 0}, 1},
		{"job without a status", started, []answer{ok(`{"jobId":"` + jobID + `"}`)},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an answer that is not the JSON we expect", 0}, 1},
		{"mistyped markdown", started, []answer{job("completed", `"data":{"markdown":["a"]}`)},
			gotErr{echogen.KindUnavailable, "provider_bad_response", "Hyperbrowser sent an answer that is not the JSON we expect", 0}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			polls := tt.polls
			if polls == nil {
				polls = []answer{job("completed", `"data":{"markdown":"never asked"}`)}
			}
			srv := newServer(t, tt.start, polls...)
			doc, err := srv.scraper(newFakeTime(), hyperbrowser.Options{}).Scrape(context.Background(), key, page)
			if err == nil {
				t.Fatalf("Scrape = %+v, want an error", doc)
			}
			if d := cmp.Diff(tt.want, errOf(t, err)); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if posts, gets := srv.counts(); posts != 1 || gets != tt.wantGets {
				t.Errorf("%d POSTs and %d GETs, want 1 and %d", posts, gets, tt.wantGets)
			}
		})
	}
}

func TestScrapeNeverFinishes(t *testing.T) {
	tests := []struct {
		name      string
		opts      hyperbrowser.Options
		want      string
		wantWaits []time.Duration
	}{
		{
			name:      "defaults: 5 minutes of 2-second looks",
			want:      "Hyperbrowser did not finish in 5m0s",
			wantWaits: repeat(2*secs, 150),
		},
		{
			name:      "the last wait stops at the deadline",
			opts:      hyperbrowser.Options{Timeout: 5 * secs, PollInterval: 2 * secs},
			want:      "Hyperbrowser did not finish in 5s",
			wantWaits: []time.Duration{2 * secs, 2 * secs, 1 * secs},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, started, pending, running)
			ft := newFakeTime()
			_, err := srv.scraper(ft, tt.opts).Scrape(context.Background(), key, page)
			if d := cmp.Diff(gotErr{echogen.KindUnavailable, "provider_timeout", tt.want, 0}, errOf(t, err)); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantWaits, ft.Waits()); d != "" {
				t.Errorf("waits (-want +got):\n%s", d)
			}
			if _, gets := srv.counts(); gets != len(tt.wantWaits) {
				t.Errorf("%d GETs, want %d", gets, len(tt.wantWaits))
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestScrapeCanceledBetweenPolls(t *testing.T) {
	srv := newServer(t, started, pending, running)
	ft := newFakeTime()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft.before = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	_, err := srv.scraper(ft, hyperbrowser.Options{}).Scrape(ctx, key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "scrape_canceled", "the scrape was canceled", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, Canceled) = false for %v", err)
	}
	if _, gets := srv.counts(); gets != 2 {
		t.Errorf("%d GETs after cancelling in the third wait, want 2", gets)
	}
}

func TestScrapeCanceledDuringPoll(t *testing.T) {
	srv := newServer(t, started, pending, answer{hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv.onPoll = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	_, err := srv.scraper(newFakeTime(), hyperbrowser.Options{}).Scrape(ctx, key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "scrape_canceled", "the scrape was canceled", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, Canceled) = false for %v", err)
	}
	if _, gets := srv.counts(); gets != 2 {
		t.Errorf("%d GETs, want 2", gets)
	}
}

func TestScrapeCanceledWhileStarting(t *testing.T) {
	srv := newServer(t, answer{hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft := newFakeTime()
	done := make(chan error, 1)
	go func() {
		_, err := srv.scraper(ft, hyperbrowser.Options{}).Scrape(ctx, key, page)
		done <- err
	}()
	select { // cancel once the POST has arrived
	case <-srv.startSeen:
	case err := <-done:
		t.Fatalf("Scrape ended before the POST was seen: %v", err)
	}
	cancel()
	err := <-done
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "scrape_canceled", "the scrape was canceled", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if len(ft.Waits()) != 0 {
		t.Errorf("waited after a canceled start")
	}
}

func TestScrapeRealDeadlineDuringHungPoll(t *testing.T) {
	// A look that never answers is cut off by the call's own deadline,
	// reported as the job not finishing in time.
	srv := newServer(t, started, answer{hang: true})
	_, err := srv.scraper(newFakeTime(), hyperbrowser.Options{Timeout: 50 * time.Millisecond}).Scrape(context.Background(), key, page)
	if d := cmp.Diff(gotErr{echogen.KindUnavailable, "provider_timeout", "Hyperbrowser did not finish in 50ms", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
}

func TestScrapeJobIDIsEscaped(t *testing.T) {
	const odd = "job/../1 x?y"
	srv := newServer(t, ok(`{"jobId":"job/../1 x?y"}`), job("completed", `"data":{"markdown":"ok"}`))
	srv.jobID = odd
	if _, err := srv.scraper(newFakeTime(), hyperbrowser.Options{}).Scrape(context.Background(), key, page); err != nil {
		t.Fatalf("Scrape: %v", err)
	}
	if _, gets := srv.counts(); gets != 1 {
		t.Errorf("%d GETs of the escaped path, want 1", gets)
	}
}

func TestScrapeTooLarge(t *testing.T) {
	big := job("completed", `"data":{"markdown":"`+strings.Repeat("x", 4096)+`"}`)
	srv := newServer(t, started, big)
	_, err := srv.scraper(newFakeTime(), hyperbrowser.Options{MaxResponseBytes: 1024}).Scrape(context.Background(), key, page)
	if d := cmp.Diff(gotErr{echogen.KindTooLarge, "scrape_too_large", "Hyperbrowser's answer is larger than 1024 bytes", 0}, errOf(t, err)); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
}

func TestScrapeRejectsInputWithoutCalling(t *testing.T) {
	tests := []struct {
		name, key, url string
		want           gotErr
	}{
		{"no key", "", page, gotErr{echogen.KindBadRequest, "missing_api_key", "no Hyperbrowser API key", 0}},
		{"key with a newline", key + "\nX-Evil: 1", page, gotErr{echogen.KindBadRequest, "invalid_api_key", "the Hyperbrowser API key contains characters that cannot be sent in a request header", 0}},
		{"relative URL", key, "/articles/42", gotErr{echogen.KindInvalid, "invalid_url", "url must be an http or https URL", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, started, pending)
			_, err := srv.scraper(newFakeTime(), hyperbrowser.Options{}).Scrape(context.Background(), tt.key, tt.url)
			if d := cmp.Diff(tt.want, errOf(t, err)); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if posts, gets := srv.counts(); posts+gets != 0 {
				t.Errorf("Hyperbrowser was called")
			}
		})
	}
}

func TestScrapeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	ft := newFakeTime()
	_, err := hyperbrowser.New(nil, hyperbrowser.Options{BaseURL: base, Clock: ft, Wait: ft.Wait}).Scrape(context.Background(), key, page)
	got := errOf(t, err)
	if got.Kind != echogen.KindUnavailable || got.Code != "provider_unavailable" || !strings.HasPrefix(got.Message, "could not reach Hyperbrowser: ") {
		t.Errorf("error = %+v", got)
	}
	if strings.Contains(got.Message, base) {
		t.Errorf("the message names the endpoint: %q", got.Message)
	}
}

// roundTripper answers in process: the job starts, then is completed.
type roundTripper struct {
	mu   sync.Mutex
	urls []string
	ctx  context.Context
}

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.urls = append(rt.urls, r.Method+" "+r.URL.String())
	rt.ctx = r.Context()
	rt.mu.Unlock()
	body := `{"jobId":"j1"}`
	if r.Method == http.MethodGet {
		body = `{"jobId":"j1","status":"completed","data":{"markdown":"ok"}}`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
		Body: io.NopCloser(strings.NewReader(body))}, nil
}

func TestDefaults(t *testing.T) {
	rt := &roundTripper{}
	client := &http.Client{Transport: rt}
	var waits []time.Duration
	wait := func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if _, err := hyperbrowser.New(client, hyperbrowser.Options{Wait: wait}).Scrape(context.Background(), key, page); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST https://api.hyperbrowser.ai/api/scrape", "GET https://api.hyperbrowser.ai/api/scrape/j1"}
	if d := cmp.Diff(want, rt.urls); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]time.Duration{hyperbrowser.DefaultPollInterval}, waits); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	deadline, ok := rt.ctx.Deadline()
	if left := time.Until(deadline); !ok || left > hyperbrowser.DefaultTimeout || left < hyperbrowser.DefaultTimeout-time.Minute {
		t.Errorf("request deadline in %v, want about DefaultTimeout", left)
	}
	if client.CheckRedirect != nil {
		t.Errorf("New changed the caller's client")
	}
}

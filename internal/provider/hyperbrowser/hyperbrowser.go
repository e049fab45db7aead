// Package hyperbrowser scrapes one web page with Hyperbrowser
// (https://hyperbrowser.ai) using the user's own key. Scraper implements
// echogen.Scraper.
//
// A scrape is a job: POST {base}/api/scrape with the header x-api-key and
// {"url","scrapeOptions":{"formats":["markdown"],"onlyMainContent":true}}
// answers {"jobId"}; GET {base}/api/scrape/{jobId} then answers
// {jobId, status, data:{markdown, metadata}, error} with status pending,
// running, completed, failed or stopped. Scrape polls until the job ends
// or its time is up. Unlike the mobile app, which kept polling a failed
// job until its attempts ran out, a failed job ends the scrape at once.
//
// The key travels only in the x-api-key header, redirects are not followed
// (so the key cannot be forwarded to another host), and no returned error
// contains the key. Nothing is logged.
package hyperbrowser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

const (
	// DefaultBaseURL is Hyperbrowser's hosted API.
	DefaultBaseURL = "https://api.hyperbrowser.ai"
	// DefaultPollInterval is the pause between two looks at a job, the
	// interval Hyperbrowser's own SDKs use.
	DefaultPollInterval = 2 * time.Second
	// DefaultTimeout bounds one Scrape call, polling included, when
	// Options.Timeout is zero. The caller's context may end it sooner.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxResponseBytes caps how much of one answer is read.
	DefaultMaxResponseBytes = 20 << 20

	scrapePath = "/api/scrape"
	name       = "Hyperbrowser"
	userAgent  = "EchoGen-Scraper/1"

	// maxPollFailures is how many looks at a job in a row may fail for a
	// passing reason (a 5xx, 408/504, 429 or a network error) before the
	// scrape gives up.
	maxPollFailures = 3
)

// Error codes that only Hyperbrowser's job model has; the others are
// below.
const (
	CodeScrapeStopped = "scrape_stopped"  // the job was stopped before it finished
	CodeJobLost       = "scrape_job_lost" // Hyperbrowser no longer knows the job
)

// Error codes of the errors Scrape returns; they are providerhttp's, named
// here too for callers of this package.
const (
	CodeMissingKey      = providerhttp.CodeMissingKey      // no key given
	CodeInvalidKey      = providerhttp.CodeInvalidKey      // the key cannot be sent in a header
	CodeInvalidURL      = providerhttp.CodeInvalidURL      // not an http(s) URL
	CodeKeyRejected     = providerhttp.CodeKeyRejected     // 401
	CodeQuotaExceeded   = providerhttp.CodeQuotaExceeded   // 402
	CodeRateLimited     = providerhttp.CodeRateLimited     // 429
	CodeTimeout         = providerhttp.CodeTimeout         // 408, 504, or no answer in time
	CodeUnavailable     = providerhttp.CodeUnavailable     // 5xx or a network error
	CodeBadResponse     = providerhttp.CodeBadResponse     // an answer we cannot read
	CodeRejected        = providerhttp.CodeRejected        // another 4xx
	CodeScrapeFailed    = providerhttp.CodeScrapeFailed    // success=false
	CodeSourceHTTPError = providerhttp.CodeSourceHTTPError // the page itself answered 4xx/5xx
	CodeNoContent       = providerhttp.CodeNoContent       // no Markdown
	CodeTooLarge        = providerhttp.CodeTooLarge        // the answer is over the cap
	CodeCanceled        = providerhttp.CodeCanceled        // the caller's context ended
	CodeMisconfigured   = providerhttp.CodeMisconfigured
)

// Options configures a Scraper.
type Options struct {
	// BaseURL replaces DefaultBaseURL, for tests and proxies. The
	// endpoints are BaseURL + "/api/scrape" and "/api/scrape/{jobId}".
	BaseURL string
	// PollInterval is the pause between two looks at the job; zero means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Timeout bounds one Scrape call, polling included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps one answer; zero means
	// DefaultMaxResponseBytes. A longer answer is a KindTooLarge error.
	MaxResponseBytes int64
	// Clock tells the time the polling deadline is measured with; nil
	// means the wall clock.
	Clock echogen.Clock
	// Wait pauses for d between polls. It must return ctx's error as soon
	// as ctx ends and nil otherwise; nil means a timer. Tests pass a Wait
	// that moves their Clock instead of sleeping.
	Wait func(ctx context.Context, d time.Duration) error
}

// Scraper calls Hyperbrowser. It is safe for concurrent use.
type Scraper struct {
	client   *http.Client
	base     string
	interval time.Duration
	timeout  time.Duration
	maxBody  int64
	clock    echogen.Clock
	wait     func(context.Context, time.Duration) error
}

var _ echogen.Scraper = (*Scraper)(nil)

// New returns a Scraper that sends its requests with a copy of client
// (http.DefaultTransport when client is nil) that does not follow
// redirects.
func New(client *http.Client, opts Options) *Scraper {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Scraper{
		client:   c,
		base:     strings.TrimRight(opts.BaseURL, "/"),
		interval: opts.PollInterval,
		timeout:  opts.Timeout,
		maxBody:  opts.MaxResponseBytes,
		clock:    opts.Clock,
		wait:     opts.Wait,
	}
	if s.base == "" {
		s.base = DefaultBaseURL
	}
	if s.interval <= 0 {
		s.interval = DefaultPollInterval
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxResponseBytes
	}
	if s.clock == nil {
		s.clock = echogen.SystemClock{}
	}
	if s.wait == nil {
		s.wait = sleep
	}
	return s
}

// startRequest is the body of POST /api/scrape.
type startRequest struct {
	URL           string        `json:"url"`
	ScrapeOptions scrapeOptions `json:"scrapeOptions"`
}

type scrapeOptions struct {
	Formats         []string `json:"formats"`
	OnlyMainContent bool     `json:"onlyMainContent"`
}

// startResponse answers POST /api/scrape.
type startResponse struct {
	JobID string `json:"jobId"`
}

// jobResponse answers GET /api/scrape/{jobId}.
type jobResponse struct {
	JobID  string          `json:"jobId"`
	Status string          `json:"status"`
	Error  json.RawMessage `json:"error"`
	Data   *struct {
		Markdown string                `json:"markdown"`
		Metadata providerhttp.Metadata `json:"metadata"`
	} `json:"data"`
}

// Scrape implements echogen.Scraper: it starts a Hyperbrowser scrape job
// for pageURL with the user's key and polls it until it ends.
//
// Errors: KindUnauthenticated when Hyperbrowser refuses the key (401);
// KindPermissionDenied when the account is out of credits (402);
// KindRateLimited, with RetryAfter, on 429 when starting the job;
// KindUnavailable when the job does not finish in time ("Hyperbrowser did
// not finish in …"), is stopped or lost, on a 5xx, 408/504 or network
// error, on an answer that cannot be read, or when ctx ends; KindBadRequest
// when Hyperbrowser refuses the request (other 4xx), the job fails, or the
// page itself answered with an HTTP error; KindInvalid when the page has
// no text; KindTooLarge when an answer is over the size cap. While polling,
// up to maxPollFailures passing failures in a row are waited out.
func (s *Scraper) Scrape(ctx context.Context, apiKey, pageURL string) (*echogen.Document, error) {
	doc, err := s.scrape(ctx, apiKey, pageURL)
	return doc, providerhttp.RedactError(err, apiKey)
}

func (s *Scraper) scrape(ctx context.Context, apiKey, pageURL string) (*echogen.Document, error) {
	if err := providerhttp.CheckInput(name, apiKey, pageURL); err != nil {
		return nil, err
	}
	deadline := s.clock.Now().Add(s.timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, providerhttp.ErrTimeout)
	defer cancel()

	jobID, err := s.start(ctx, apiKey, pageURL)
	if err != nil {
		return nil, err
	}
	delay, failures := s.interval, 0
	for {
		now := s.clock.Now()
		if !now.Before(deadline) {
			return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeTimeout, Message: s.timedOut()}
		}
		if err := s.wait(ctx, min(delay, deadline.Sub(now))); err != nil {
			return nil, s.transportError(ctx, err)
		}
		job, err := s.poll(ctx, apiKey, jobID)
		if err != nil {
			if ctx.Err() != nil || !passing(err) {
				return nil, err
			}
			if failures++; failures >= maxPollFailures {
				return nil, err
			}
			delay = s.interval
			var e *echogen.Error
			if errors.As(err, &e) {
				delay = max(delay, e.RetryAfter)
			}
			continue
		}
		delay, failures = s.interval, 0
		switch job.Status {
		case "pending", "running":
		case "completed":
			return s.finish(job, apiKey, pageURL)
		case "failed":
			msg := "Hyperbrowser could not scrape the page"
			if said := providerhttp.Clean(providerhttp.Scrub(jobError(job.Error), apiKey)); said != "" {
				msg += ": " + said
			}
			return nil, &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeScrapeFailed, Message: msg}
		case "stopped":
			return nil, echogen.Errorf(echogen.KindUnavailable, CodeScrapeStopped, "Hyperbrowser stopped the scrape job before it finished")
		case "":
			return nil, providerhttp.BadResponse(name, errors.New("the job answer has no status"))
		default:
			// A status this client does not know yet: the job is not over
			// as far as we can tell, so keep looking until the deadline.
		}
	}
}

// start creates the scrape job and returns its id.
func (s *Scraper) start(ctx context.Context, apiKey, pageURL string) (string, error) {
	body, err := json.Marshal(startRequest{URL: pageURL, ScrapeOptions: scrapeOptions{Formats: []string{"markdown"}, OnlyMainContent: true}})
	if err != nil {
		return "", &echogen.Error{Kind: echogen.KindInternal, Code: CodeMisconfigured, Message: "the Hyperbrowser request could not be built", Err: err}
	}
	raw, err := s.call(ctx, http.MethodPost, s.base+scrapePath, body, apiKey)
	if err != nil {
		return "", err
	}
	var r startResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", providerhttp.BadResponse(name, fmt.Errorf("decoding the start answer: %w", err))
	}
	if strings.TrimSpace(r.JobID) == "" {
		return "", providerhttp.BadResponse(name, errors.New("the start answer has no jobId"))
	}
	return r.JobID, nil
}

// poll looks at the job once.
func (s *Scraper) poll(ctx context.Context, apiKey, jobID string) (*jobResponse, error) {
	raw, err := s.call(ctx, http.MethodGet, s.base+scrapePath+"/"+url.PathEscape(jobID), nil, apiKey)
	if err != nil {
		return nil, err
	}
	var job jobResponse
	if err := json.Unmarshal(raw, &job); err != nil {
		return nil, providerhttp.BadResponse(name, fmt.Errorf("decoding the job answer: %w", err))
	}
	return &job, nil
}

// call sends one request and returns the body of a 2xx answer.
func (s *Scraper) call(ctx context.Context, method, target string, body []byte, apiKey string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindInternal, Code: CodeMisconfigured, Message: "the Hyperbrowser client is misconfigured", Err: err}
	}
	req.Header.Set("x-api-key", apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := providerhttp.ReadCapped(resp.Body, s.maxBody)
	if err != nil {
		if errors.Is(err, providerhttp.ErrTooLarge) {
			return nil, &echogen.Error{Kind: echogen.KindTooLarge, Code: CodeTooLarge,
				Message: "Hyperbrowser's answer is larger than " + providerhttp.SizeText(s.maxBody)}
		}
		return nil, s.transportError(ctx, err)
	}
	if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeJobLost,
			Message: "Hyperbrowser no longer knows the scrape job", Err: providerhttp.StatusError(name, resp, raw, apiKey)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, providerhttp.StatusError(name, resp, raw, apiKey)
	}
	return raw, nil
}

// finish turns a completed job into a Document.
func (s *Scraper) finish(job *jobResponse, apiKey, pageURL string) (*echogen.Document, error) {
	if job.Data == nil || strings.TrimSpace(job.Data.Markdown) == "" {
		return nil, echogen.Errorf(echogen.KindInvalid, CodeNoContent, "Hyperbrowser returned no content")
	}
	md := job.Data.Metadata
	if code := md.Number("statusCode"); code >= 400 {
		msg := fmt.Sprintf("the page answered HTTP %d", code)
		if said := providerhttp.Clean(providerhttp.Scrub(md.Text("error"), apiKey)); said != "" {
			msg += ": " + said
		}
		return nil, &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeSourceHTTPError, Message: msg}
	}
	return md.Document(job.Data.Markdown, pageURL), nil
}

// jobError reads a job's error: a string, or an object with a message.
func jobError(raw json.RawMessage) string {
	if s := providerhttp.JSONText(raw); s != "" {
		return s
	}
	var e struct {
		Message json.RawMessage `json:"message"`
	}
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &e) == nil {
		return providerhttp.JSONText(e.Message)
	}
	return ""
}

// passing reports whether a failed look at the job is worth repeating.
func passing(err error) bool {
	var e *echogen.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeUnavailable, CodeTimeout, CodeRateLimited:
		return true
	}
	return false
}

func (s *Scraper) timedOut() string {
	return fmt.Sprintf("Hyperbrowser did not finish in %s", s.timeout)
}

// transportError reports a request or a wait that ctx ended, or a request
// that got no complete answer.
func (s *Scraper) transportError(ctx context.Context, err error) error {
	return providerhttp.TransportError(ctx, name, err, s.timedOut())
}

// sleep is the default Wait: a timer that ctx can cut short.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

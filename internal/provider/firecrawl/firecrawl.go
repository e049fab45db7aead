// Package firecrawl scrapes one web page with Firecrawl
// (https://firecrawl.dev) using the user's own key. Scraper implements
// echogen.Scraper.
//
// It speaks Firecrawl's current v2 API: POST {base}/v2/scrape with
// Authorization: Bearer <key> and {"url","formats":["markdown"],
// "onlyMainContent":true}; the answer is {success, data:{markdown,
// metadata}} or, on failure, {success:false, code, error}. The mobile app
// used the older /v1/scrape, whose request and answer have the same shape
// for these fields.
//
// The key travels only in the Authorization header, redirects are not
// followed (so the key cannot be forwarded to another host), and no
// returned error contains the key. Nothing is logged.
package firecrawl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

const (
	// DefaultBaseURL is Firecrawl's hosted API.
	DefaultBaseURL = "https://api.firecrawl.dev"
	// DefaultTimeout bounds one Scrape call when Options.Timeout is zero.
	// A content_ingest attempt has 3 minutes; this leaves it time to
	// record the failure.
	DefaultTimeout = 150 * time.Second
	// DefaultMaxResponseBytes caps how much of an answer is read.
	DefaultMaxResponseBytes = 20 << 20

	scrapePath = "/v2/scrape"
	name       = "Firecrawl"
	userAgent  = "EchoGen-Scraper/1"
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
	// BaseURL replaces DefaultBaseURL, for tests, proxies and self-hosted
	// Firecrawl. The scrape endpoint is BaseURL + "/v2/scrape".
	BaseURL string
	// Timeout bounds one Scrape call; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps the answer read; zero means
	// DefaultMaxResponseBytes. A longer answer is a KindTooLarge error.
	MaxResponseBytes int64
}

// Scraper calls Firecrawl. It is safe for concurrent use.
type Scraper struct {
	client  *http.Client
	base    string
	timeout time.Duration
	maxBody int64
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
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxBody := opts.MaxResponseBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxResponseBytes
	}
	return &Scraper{client: c, base: base, timeout: timeout, maxBody: maxBody}
}

// scrapeRequest is the body of POST /v2/scrape.
type scrapeRequest struct {
	URL             string   `json:"url"`
	Formats         []string `json:"formats"`
	OnlyMainContent bool     `json:"onlyMainContent"`
}

// scrapeResponse is Firecrawl's answer, success or not.
type scrapeResponse struct {
	Success *bool           `json:"success"`
	Error   json.RawMessage `json:"error"`
	Data    *struct {
		Markdown string                `json:"markdown"`
		Metadata providerhttp.Metadata `json:"metadata"`
	} `json:"data"`
}

// Scrape implements echogen.Scraper: it scrapes pageURL as Markdown with
// the user's Firecrawl key.
//
// Errors: KindUnauthenticated when Firecrawl refuses the key (401);
// KindPermissionDenied when the account is out of credits (402);
// KindRateLimited, with RetryAfter, on 429; KindUnavailable on a timeout
// (408, 504, or no answer in time), a 5xx, a network error or an answer
// that cannot be read; KindBadRequest when Firecrawl refuses the request
// (other 4xx), reports success=false, or the page itself answered with an
// HTTP error; KindInvalid when the page has no text; KindTooLarge when
// the answer is over the size cap.
func (s *Scraper) Scrape(ctx context.Context, apiKey, pageURL string) (*echogen.Document, error) {
	doc, err := s.scrape(ctx, apiKey, pageURL)
	return doc, providerhttp.RedactError(err, apiKey)
}

func (s *Scraper) scrape(ctx context.Context, apiKey, pageURL string) (*echogen.Document, error) {
	if err := providerhttp.CheckInput(name, apiKey, pageURL); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, providerhttp.ErrTimeout)
	defer cancel()

	body, err := json.Marshal(scrapeRequest{URL: pageURL, Formats: []string{"markdown"}, OnlyMainContent: true})
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindInternal, Code: CodeMisconfigured, Message: "the Firecrawl request could not be built", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+scrapePath, bytes.NewReader(body))
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindInternal, Code: CodeMisconfigured, Message: "the Firecrawl client is misconfigured", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
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
				Message: "Firecrawl's answer is larger than " + providerhttp.SizeText(s.maxBody)}
		}
		return nil, s.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, providerhttp.StatusError(name, resp, raw, apiKey)
	}

	var r scrapeResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, providerhttp.BadResponse(name, fmt.Errorf("decoding the scrape answer: %w", err))
	}
	if r.Success != nil && !*r.Success {
		msg := "Firecrawl could not scrape the page"
		if said := providerhttp.Clean(providerhttp.Scrub(providerhttp.JSONText(r.Error), apiKey)); said != "" {
			msg += ": " + said
		}
		return nil, &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeScrapeFailed, Message: msg}
	}
	if r.Data == nil {
		return nil, providerhttp.BadResponse(name, errors.New("the scrape answer has no data"))
	}
	md := r.Data.Metadata
	if code := md.Number("statusCode"); code >= 400 {
		msg := fmt.Sprintf("the page answered HTTP %d", code)
		if said := providerhttp.Clean(providerhttp.Scrub(md.Text("error"), apiKey)); said != "" {
			msg += ": " + said
		}
		return nil, &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeSourceHTTPError, Message: msg}
	}
	if strings.TrimSpace(r.Data.Markdown) == "" {
		return nil, echogen.Errorf(echogen.KindInvalid, CodeNoContent, "Firecrawl returned no content")
	}
	return md.Document(r.Data.Markdown, pageURL), nil
}

// transportError reports a request that got no complete answer.
func (s *Scraper) transportError(ctx context.Context, err error) error {
	return providerhttp.TransportError(ctx, name, err, fmt.Sprintf("Firecrawl did not answer within %s", s.timeout))
}

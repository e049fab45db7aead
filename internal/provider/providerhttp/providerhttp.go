// Package providerhttp holds what the provider clients (Firecrawl,
// Hyperbrowser, the key checks) share: input checks, the HTTP status
// mapping, message hygiene (cleaning, scrubbing secrets, Retry-After) and
// metadata reading.
//
// Functions whose messages name the service take its display name
// ("Firecrawl", "Hyperbrowser") as provider.
package providerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
)

// Error codes of the errors the scraping clients' Scrape returns.
const (
	CodeMissingKey      = "missing_api_key"         // no key given
	CodeInvalidKey      = "invalid_api_key"         // the key cannot be sent in a header
	CodeInvalidURL      = "invalid_url"             // not an http(s) URL
	CodeKeyRejected     = "api_key_rejected"        // 401
	CodeQuotaExceeded   = "provider_quota_exceeded" // 402
	CodeRateLimited     = "provider_rate_limited"   // 429
	CodeTimeout         = "provider_timeout"        // 408, 504, or no answer in time
	CodeUnavailable     = "provider_unavailable"    // 5xx or a network error
	CodeBadResponse     = "provider_bad_response"   // an answer we cannot read
	CodeRejected        = "scrape_rejected"         // another 4xx
	CodeScrapeFailed    = "scrape_failed"           // success=false
	CodeSourceHTTPError = "source_http_error"       // the page itself answered 4xx/5xx
	CodeNoContent       = "scrape_empty"            // no Markdown
	CodeTooLarge        = "scrape_too_large"        // the answer is over the cap
	CodeCanceled        = "scrape_canceled"         // the caller's context ended
	CodeMisconfigured   = "scraper_misconfigured"
)

const (
	maxMessage    = 300 // runes of a provider's text we keep
	maxRetryAfter = time.Hour
	redacted      = "[redacted]"
	minRedactLen  = 4 // shorter "secrets" are not worth mangling messages for
)

var (
	// ErrTimeout is the cause of a Scrape call's own deadline: a client
	// passes it to context.WithTimeoutCause, and TransportError tells it
	// from the caller's deadline.
	ErrTimeout = fmt.Errorf("scrape timed out: %w", context.DeadlineExceeded)
	// ErrTooLarge reports an answer over the cap.
	ErrTooLarge = errors.New("answer over the size cap")
)

// CheckInput validates the key and the URL before anything is sent.
func CheckInput(provider, apiKey, pageURL string) error {
	if strings.TrimSpace(apiKey) == "" {
		return echogen.Errorf(echogen.KindBadRequest, CodeMissingKey, "no %s API key", provider)
	}
	if !ValidHeaderValue(apiKey) {
		return echogen.Errorf(echogen.KindBadRequest, CodeInvalidKey, "the %s API key contains characters that cannot be sent in a request header", provider)
	}
	if echogen.CheckHTTPURL(pageURL) != nil {
		return echogen.Errorf(echogen.KindInvalid, CodeInvalidURL, "url must be an http or https URL")
	}
	return nil
}

// ValidHeaderValue rejects control characters, which would either fail
// the request or smuggle in another header.
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}

// ReadCapped reads r to the end, failing with ErrTooLarge past limit bytes.
func ReadCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge
	}
	return b, nil
}

// ImageType names the picture in b: image/png, image/jpeg or image/webp;
// ok is false for anything else, which a cover may not be.
func ImageType(b []byte) (contentType string, ok bool) {
	switch t := http.DetectContentType(b); t {
	case "image/png", "image/jpeg", "image/webp":
		return t, true
	}
	return "", false
}

// SizeText writes a byte count for people.
func SizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// StatusError maps a non-2xx answer to an error.
func StatusError(provider string, resp *http.Response, body []byte, secret string) error {
	code := resp.StatusCode
	said := Clean(Scrub(errorText(resp.Header.Get("Content-Type"), body), secret))
	with := func(msg string) string {
		if said != "" {
			return msg + ": " + said
		}
		return msg
	}
	after := RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case code == http.StatusUnauthorized:
		return &echogen.Error{Kind: echogen.KindUnauthenticated, Code: CodeKeyRejected,
			Message: "Invalid " + provider + " API key", Err: providerSaid(code, said)}
	case code == http.StatusPaymentRequired:
		return &echogen.Error{Kind: echogen.KindPermissionDenied, Code: CodeQuotaExceeded,
			Message: with(provider + " quota exceeded or payment required")}
	case code == http.StatusTooManyRequests:
		return &echogen.Error{Kind: echogen.KindRateLimited, Code: CodeRateLimited,
			Message: with("rate limited by " + provider + ", try again later"), RetryAfter: after}
	case code == http.StatusRequestTimeout || code == http.StatusGatewayTimeout:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeTimeout,
			Message: with(provider + " timed out scraping the page, try again later"), RetryAfter: after}
	case code >= 500:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeUnavailable,
			Message: with(fmt.Sprintf("%s is unavailable (HTTP %d)", provider, code)), RetryAfter: after}
	case code >= 400:
		return &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeRejected,
			Message: with(fmt.Sprintf("%s refused the request (HTTP %d)", provider, code))}
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeBadResponse,
		Message: fmt.Sprintf("%s sent an unexpected answer (HTTP %d)", provider, code)}
}

// providerSaid keeps the provider's words for the logs.
func providerSaid(code int, said string) error {
	if said == "" {
		return fmt.Errorf("HTTP %d", code)
	}
	return fmt.Errorf("HTTP %d: %s", code, said)
}

// BadResponse reports a 2xx answer we cannot read.
func BadResponse(provider string, err error) error {
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeBadResponse,
		Message: provider + " sent an answer that is not the JSON we expect", Err: err}
}

// TransportError reports a request that got no complete answer; timedOut
// is the message for the call's own deadline (a ctx whose cause is
// ErrTimeout).
func TransportError(ctx context.Context, provider string, err error, timedOut string) error {
	switch {
	case context.Cause(ctx) == ErrTimeout:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeTimeout, Message: timedOut, Err: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeTimeout,
			Message: provider + " did not answer in time", Err: context.Cause(ctx)}
	case ctx.Err() != nil:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeCanceled,
			Message: "the scrape was canceled", Err: context.Cause(ctx)}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is not the caller's business
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeUnavailable,
		Message: Clean("could not reach " + provider + ": " + cause.Error()), Err: err}
}

// errorText reads the error shapes of the scraping services:
//
//	{"success":false,"error":"…"}              Firecrawl
//	{"message":"…"} or {"error":"…"}           Hyperbrowser
//	{"error":{"message":"…"}}                  proxies and gateways
//
// A body that is not JSON counts only if it is plain text.
func errorText(contentType string, body []byte) string {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return ""
	}
	if trimmed[0] != '{' {
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/plain" {
			return trimmed
		}
		return ""
	}
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &top) != nil {
		return ""
	}
	if s := JSONText(top.Error); s != "" {
		return s
	}
	if len(top.Error) > 0 && top.Error[0] == '{' {
		var e struct {
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(top.Error, &e) == nil {
			if s := JSONText(e.Message); s != "" {
				return s
			}
		}
	}
	return JSONText(top.Message)
}

// JSONText returns raw as a string when it is a JSON string.
func JSONText(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// Clean makes a provider's text fit for a message: valid UTF-8, no control
// characters, single spaces, at most maxMessage runes.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessage {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:maxMessage-1])) + "…"
	}
	return s
}

// Scrub replaces the secret in s.
func Scrub(s, secret string) string {
	if len(secret) < minRedactLen {
		return s
	}
	return strings.ReplaceAll(s, secret, redacted)
}

// RedactError is the last guard on a finished error: neither its message
// nor its cause may carry the secret. A nil error stays nil, so a call can
// end in "return v, RedactError(err, key)".
func RedactError(err error, secret string) error {
	var e *echogen.Error
	if len(secret) < minRedactLen || !errors.As(err, &e) {
		return err
	}
	if strings.Contains(e.Message, secret) {
		e.Message = Clean(Scrub(e.Message, secret))
	}
	if e.Err != nil && strings.Contains(e.Err.Error(), secret) {
		e.Err = errors.New(Scrub(e.Err.Error(), secret))
	}
	return err
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at maxRetryAfter.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Metadata is a scraped page's metadata: the service's own fields
// (title, sourceURL, ogSiteName, …) next to the page's own meta tags, each
// a string, a list of strings (a tag that appears twice) or a number.
type Metadata map[string]json.RawMessage

// Text returns the first non-blank string among keys; for a list, its
// first non-blank item.
func (m Metadata) Text(keys ...string) string {
	for _, k := range keys {
		raw, ok := m[k]
		if !ok || len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"':
			if s := strings.TrimSpace(JSONText(raw)); s != "" {
				return s
			}
		case '[':
			var list []json.RawMessage
			if json.Unmarshal(raw, &list) == nil {
				for _, item := range list {
					if s := strings.TrimSpace(JSONText(item)); s != "" {
						return s
					}
				}
			}
		}
	}
	return ""
}

// Number returns key as an integer, 0 when absent or not a number.
func (m Metadata) Number(key string) int {
	var n float64
	if raw, ok := m[key]; ok && json.Unmarshal(raw, &n) == nil && n > 0 && n < 1e6 {
		return int(n)
	}
	if n, err := strconv.Atoi(m.Text(key)); err == nil {
		return n
	}
	return 0
}

// Document builds the Document of a scraped page.
func (m Metadata) Document(markdown, requested string) *echogen.Document {
	title := oneLine(m.Text("title", "ogTitle", "og:title"))
	if title == "" {
		title = "Untitled"
	}
	// url is where the scrape ended up (after redirects); sourceURL is
	// what was asked for.
	final := requested
	for _, k := range []string{"url", "sourceURL", "sourceUrl"} {
		if u := m.Text(k); echogen.CheckHTTPURL(u) == nil {
			final = u
			break
		}
	}
	return &echogen.Document{
		Title:       title,
		Markdown:    markdown,
		URL:         final,
		SiteName:    oneLine(m.Text("ogSiteName", "og:site_name", "siteName")),
		Author:      oneLine(m.Text("author", "article:author", "dcCreator")),
		Published:   parseDate(m.Text("publishedTime", "article:published_time", "datePublished", "dcTermsCreated", "dcDateCreated", "dcDate")),
		Language:    language(m.Text("language", "lang", "ogLocale", "og:locale")),
		ContentType: contentType(m.Text("contentType", "content-type"), final),
		Excerpt:     oneLine(m.Text("description", "ogDescription", "og:description")),
	}
}

// oneLine collapses whitespace and drops control characters.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, ""), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
}

// parseDate reads a publication date, nil when there is none we trust.
func parseDate(s string) *time.Time {
	if s == "" {
		return nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1900 || t.Year() > 2200 {
				return nil
			}
			t = t.UTC()
			return &t
		}
	}
	return nil
}

// language returns a BCP 47-looking tag ("en", "pt-BR"), or "".
func language(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "-")
	if s == "" || len(s) > 35 {
		return ""
	}
	for i, part := range strings.Split(s, "-") {
		if part == "" || len(part) > 8 || (i == 0 && len(part) > 3) {
			return ""
		}
		for _, r := range part {
			if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return ""
			}
		}
	}
	return s
}

// contentType returns the source's media type without parameters; when
// the service does not say, a URL ending in .pdf means a PDF and anything
// else an HTML page.
func contentType(s, pageURL string) string {
	if mt, _, err := mime.ParseMediaType(s); err == nil && mt != "" {
		return strings.ToLower(mt)
	}
	if u, err := url.Parse(pageURL); err == nil && strings.EqualFold(path.Ext(u.Path), ".pdf") {
		return "application/pdf"
	}
	return "text/html"
}

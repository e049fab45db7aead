package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// acceptHeader lists what FetchURL can read, HTML first.
const acceptHeader = "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8," +
	typeDOCX + ";q=0.8,text/markdown;q=0.7,text/plain;q=0.6"

// maxRetryAfter bounds a site's Retry-After so one answer cannot park a job.
const maxRetryAfter = time.Hour

var (
	errTooManyRedirects = errors.New("too many redirects")
	errFetchTimeout     = errors.New("fetch timeout")
)

// newClient builds the HTTP client: every connection goes through the guard.
func (f *Fetcher) newClient() *http.Client {
	t := &http.Transport{
		// No proxy: through one, the guard would only see the proxy's
		// address and the proxy would reach private hosts for us.
		Proxy:                  nil,
		DialContext:            f.guard.DialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
		MaxIdleConns:           20,
		IdleConnTimeout:        60 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > f.maxRedirects {
				return errTooManyRedirects
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %s: URL", req.URL.Scheme)
			}
			return nil
		},
	}
}

// FetchURL downloads rawURL and extracts it. Only public http(s) addresses
// are fetched; size, time and redirects are capped.
func (f *Fetcher) FetchURL(ctx context.Context, rawURL string) (*echogen.Document, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// The timeout covers the download; extraction runs under the caller's ctx.
	dlCtx, cancel := context.WithTimeoutCause(ctx, f.timeout, errFetchTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(dlCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_url", "invalid URL: %v", err)
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Accept-Language", "en;q=0.9, *;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.transportError(dlCtx, u, err)
	}
	defer resp.Body.Close()
	if err := statusError(resp); err != nil {
		return nil, err
	}

	final := *resp.Request.URL
	final.Fragment = "" // a redirect's #fragment is not part of the document's address
	ct, src, err := f.responseType(dlCtx, resp, &final)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > f.maxBytes {
		return nil, f.tooLarge(&final)
	}
	body, cleanup, err := f.download(dlCtx, resp, ct, &final)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return f.extract(ctx, body, ct, src)
}

// parseURL accepts absolute http and https URLs only.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_url", "invalid URL %q", clip(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_url", "only http and https URLs can be fetched, not %q", clip(raw))
	}
	if u.Hostname() == "" {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_url", "the URL %q has no host", clip(raw))
	}
	u.Fragment = ""
	return u, nil
}

// statusError maps a non-2xx answer to a coded error.
func statusError(resp *http.Response) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	site := resp.Request.URL.Host
	switch {
	case code == http.StatusTooManyRequests:
		return &echogen.Error{Kind: echogen.KindRateLimited, Code: "source_rate_limited",
			Message:    fmt.Sprintf("%s is rate limiting us (%s); try again later", site, status),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code >= 500:
		return echogen.Errorf(echogen.KindUnavailable, "source_unavailable", "%s answered %s", site, status)
	default:
		return echogen.Errorf(echogen.KindBadRequest, "source_refused", "%s answered %s for %s", site, status, resp.Request.URL.Redacted())
	}
}

// responseType returns the type to extract as; a missing or generic type is
// sniffed from the first bytes without consuming them.
func (f *Fetcher) responseType(ctx context.Context, resp *http.Response, final *url.URL) (string, source, error) {
	src := source{name: final.Redacted(), url: final.String(), file: urlFile(final)}
	declared := resp.Header.Get("Content-Type")
	ct, params, _ := mime.ParseMediaType(declared)
	src.charset = params["charset"]
	switch ct {
	case "", "application/octet-stream", "binary/octet-stream", "application/zip", "application/x-zip-compressed":
		head := make([]byte, 512)
		n, err := io.ReadFull(resp.Body, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return "", src, f.readError(ctx, final, err)
		}
		head = head[:n]
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		ct = sniffType(head, strings.ToLower(path.Ext(src.file)))
	default:
		ct, _ = detectType(declared, nil, src.file)
	}
	if !allowedType(ct) {
		return "", src, unsupportedType(ct)
	}
	return ct, src, nil
}

// download reads the body up to the cap: PDF and DOCX into a temporary file
// (their readers need random access), the rest into memory.
func (f *Fetcher) download(ctx context.Context, resp *http.Response, ct string, final *url.URL) (io.Reader, func(), error) {
	body := io.LimitReader(resp.Body, f.maxBytes+1)
	readErr := func(err error) error { return f.readError(ctx, final, err) }
	if ct == typePDF || ct == typeDOCX {
		tmp, err := os.CreateTemp("", "echogen-ingest-*")
		if err != nil {
			return nil, nil, fmt.Errorf("ingest: temporary file: %w", err)
		}
		cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
		n, err := io.Copy(tmp, body)
		if err != nil {
			cleanup()
			return nil, nil, readErr(err)
		}
		if n > f.maxBytes {
			cleanup()
			return nil, nil, f.tooLarge(final)
		}
		return &fileSection{io.NewSectionReader(tmp, 0, n), tmp.Name()}, cleanup, nil
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, nil, readErr(err)
	}
	if int64(len(b)) > f.maxBytes {
		return nil, nil, f.tooLarge(final)
	}
	return bytes.NewReader(b), func() {}, nil
}

// readError maps a body that stopped coming: the timeout, or a network
// failure worth a retry.
func (f *Fetcher) readError(ctx context.Context, u *url.URL, err error) error {
	if ctx.Err() != nil {
		return f.transportError(ctx, u, err)
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: "source_unavailable",
		Message: "the download from " + u.Host + " broke off", Err: err}
}

func (f *Fetcher) tooLarge(u *url.URL) error {
	return echogen.Errorf(echogen.KindTooLarge, "source_too_large",
		"%s is larger than the %s limit", u.Redacted(), formatBytes(f.maxBytes))
}

// transportError maps a failed request: refused addresses and bad URLs are
// the caller's to fix; timeouts and network failures are worth a retry.
func (f *Fetcher) transportError(ctx context.Context, u *url.URL, err error) error {
	var blocked *BlockedError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &blocked):
		return &echogen.Error{Kind: echogen.KindInvalid, Code: "url_refused", Message: blocked.Error(), Err: err}
	case errors.Is(err, errTooManyRedirects):
		return &echogen.Error{Kind: echogen.KindInvalid, Code: "too_many_redirects",
			Message: fmt.Sprintf("%s redirected more than %d times", u.Redacted(), f.maxRedirects), Err: err}
	case context.Cause(ctx) == errFetchTimeout:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: "source_timeout",
			Message: fmt.Sprintf("%s did not answer within %s", u.Host, f.timeout), Err: err}
	case ctx.Err() != nil:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: "canceled",
			Message: "the download was canceled", Err: context.Cause(ctx)}
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return &echogen.Error{Kind: echogen.KindInvalid, Code: "unknown_host",
			Message: fmt.Sprintf("no such host: %s", dnsErr.Name), Err: err}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: "source_unavailable",
		Message: fmt.Sprintf("could not fetch %s: %v", u.Host, cause), Err: err}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// urlFile is the last segment of u's path, "" for a directory.
func urlFile(u *url.URL) string {
	p := u.Path
	if p == "" || strings.HasSuffix(p, "/") {
		return ""
	}
	return path.Base(p)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// clip shortens user input quoted in a message.
func clip(s string) string {
	const maxLen = 200
	if len(s) <= maxLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxLen], "") + "…"
}

package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// testFetcher reaches the tests' own loopback servers: AllowPrivate is for
// exactly this.
func testFetcher(opts Options) *Fetcher {
	opts.AllowPrivate = true
	opts.NoPDFToText = true
	return New(opts)
}

const articleHTML = `<!DOCTYPE html><html lang="en"><head><title>A test article</title></head><body>
<article><h1>A test article</h1><p>This paragraph is long enough to count as the main text of a page, with
several sentences about nothing in particular. Readability wants a few hundred characters before it
believes a block is an article, so here are some more words about the weather, the harbour and the
price of bread in the old market.</p></article></body></html>`

// wantErr checks err's kind and code, and that its message holds msg.
func wantErr(t *testing.T, err error, kind echogen.Kind, code, msg string) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *echogen.Error %s", err, code)
	}
	if e.Kind != kind || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Errorf("err = kind %v code %q message %q, want kind %v code %q containing %q", e.Kind, e.Code, e.Message, kind, code, msg)
	}
}

func TestFetchURL(t *testing.T) {
	var gotUA atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/article", func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.Header.Get("User-Agent"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		writeString(w, articleHTML)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/article#top", http.StatusMovedPermanently)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, ua := range []string{"", "EchoGenTest/2.0"} {
		doc, err := testFetcher(Options{UserAgent: ua}).FetchURL(context.Background(), srv.URL+"/moved")
		if err != nil {
			t.Fatal(err)
		}
		want := ua
		if want == "" {
			want = DefaultUserAgent
		}
		if got := gotUA.Load(); got != want {
			t.Errorf("User-Agent = %q, want %q", got, want)
		}
		if doc.URL != srv.URL+"/article" || doc.Title != "A test article" || doc.ContentType != "text/html" || doc.Language != "en" {
			t.Errorf("doc = %+v", doc)
		}
		if !strings.Contains(doc.Markdown, "price of bread in the old market") {
			t.Errorf("markdown = %q", doc.Markdown)
		}
	}
}

func writeString(w http.ResponseWriter, s string) { w.Write([]byte(s)) }

func TestFetchStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", r.URL.Query().Get("retry"))
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	f := testFetcher(Options{})
	tests := []struct {
		path  string
		kind  echogen.Kind
		code  string
		msg   string
		retry time.Duration
	}{
		{"/404", echogen.KindBadRequest, "source_refused", "404 Not Found", 0},
		{"/403", echogen.KindBadRequest, "source_refused", "403 Forbidden", 0},
		{"/410", echogen.KindBadRequest, "source_refused", "410 Gone", 0},
		{"/500", echogen.KindUnavailable, "source_unavailable", "500 Internal Server Error", 0},
		{"/503", echogen.KindUnavailable, "source_unavailable", "503 Service Unavailable", 0},
		{"/429?retry=120", echogen.KindRateLimited, "source_rate_limited", "429 Too Many Requests", 2 * time.Minute},
		{"/429?retry=99999999", echogen.KindRateLimited, "source_rate_limited", "429", time.Hour},
		{"/429?retry=", echogen.KindRateLimited, "source_rate_limited", "429", 0},
	}
	for _, tt := range tests {
		_, err := f.FetchURL(context.Background(), srv.URL+tt.path)
		wantErr(t, err, tt.kind, tt.code, tt.msg)
		var e *echogen.Error
		if errors.As(err, &e) && e.RetryAfter != tt.retry {
			t.Errorf("%s: RetryAfter = %v, want %v", tt.path, e.RetryAfter, tt.retry)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"30":                            30 * time.Second,
		"-5":                            0,
		"":                              0,
		"soon":                          0,
		"Wed, 01 May 2024 12:10:00 GMT": 10 * time.Minute,
		"Wed, 01 May 2024 11:00:00 GMT": 0,
	}
	for h, want := range tests {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestFetchCaps(t *testing.T) {
	const limit = 64 << 10
	big := strings.Repeat("<p>All work and no play makes Jack a dull boy.</p>\n", 2*limit/50)
	var hops atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/declared", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		writeString(w, big)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := 0; i < len(big); i += 4096 {
			writeString(w, big[i:min(i+4096, len(big))])
			w.(http.Flusher).Flush() // no Content-Length: only counting catches it
		}
	})
	mux.HandleFunc("/gzip-bomb", func(w http.ResponseWriter, _ *http.Request) {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write([]byte(strings.Repeat(" ", 8*limit)))
		zw.Close()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(z.Bytes())
	})
	mux.HandleFunc("/pdf-too-big", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		writeString(w, "%PDF-1.4\n"+strings.Repeat("%", 2*limit))
	})
	mux.HandleFunc("/loop/", func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/loop/"))
		http.Redirect(w, r, fmt.Sprintf("/loop/%d", n+1), http.StatusFound)
	})
	mux.HandleFunc("/five/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/five/"))
		if n < 5 {
			http.Redirect(w, r, fmt.Sprintf("/five/%d", n+1), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		writeString(w, articleHTML)
	})
	for path, typed := range map[string]struct{ ct, body string }{
		"/image.png":   {"image/png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
		"/data.json":   {"application/json", `{"not": "an article"}`},
		"/video.mp4":   {"video/mp4", "\x00\x00\x00\x18ftypmp42"},
		"/app.js":      {"text/javascript", "console.log('hi')"},
		"/archive.zip": {"application/zip", "PK\x03\x04\x14\x00\x00\x00"},
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", typed.ct)
			writeString(w, typed.body)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := testFetcher(Options{MaxBytes: limit})

	tests := []struct {
		path string
		kind echogen.Kind
		code string
		msg  string
	}{
		{"/declared", echogen.KindTooLarge, "source_too_large", "larger than the 64 KiB limit"},
		{"/chunked", echogen.KindTooLarge, "source_too_large", "larger than the 64 KiB limit"},
		{"/gzip-bomb", echogen.KindTooLarge, "source_too_large", "larger than the 64 KiB limit"},
		{"/pdf-too-big", echogen.KindTooLarge, "source_too_large", "larger than the 64 KiB limit"},
		{"/loop/0", echogen.KindInvalid, "too_many_redirects", "redirected more than 5 times"},
		{"/image.png", echogen.KindInvalid, "unsupported_content_type", "unsupported content type image/png"},
		{"/data.json", echogen.KindInvalid, "unsupported_content_type", "unsupported content type application/json"},
		{"/video.mp4", echogen.KindInvalid, "unsupported_content_type", "unsupported content type video/mp4"},
		{"/app.js", echogen.KindInvalid, "unsupported_content_type", "unsupported content type text/javascript"},
		{"/archive.zip", echogen.KindInvalid, "unsupported_content_type", "unsupported content type application/zip"},
	}
	for _, tt := range tests {
		_, err := f.FetchURL(context.Background(), srv.URL+tt.path)
		wantErr(t, err, tt.kind, tt.code, tt.msg)
	}
	if n := hops.Load(); n != 6 {
		t.Errorf("the redirect loop was followed for %d requests, want 6 (the first and 5 redirects)", n)
	}
	if _, err := f.FetchURL(context.Background(), srv.URL+"/five/0"); err != nil {
		t.Errorf("exactly 5 redirects: %v", err)
	}
}

// TestFetchTimeout: servers that never answer, or stop mid-body, are cut
// off at Timeout. The handlers wait on their request's context, which ends
// when the client gives up; nothing sleeps.
func TestFetchTimeout(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/no-answer", func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/stalled-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		writeString(w, "<html><body><p>The first half of a page")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := testFetcher(Options{Timeout: 100 * time.Millisecond})
	for _, path := range []string{"/no-answer", "/stalled-body"} {
		_, err := f.FetchURL(context.Background(), srv.URL+path)
		wantErr(t, err, echogen.KindUnavailable, "source_timeout", "did not answer within 100ms")
	}

	// The caller's own cancellation is reported as such.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := testFetcher(Options{}).FetchURL(ctx, srv.URL+"/no-answer")
	wantErr(t, err, echogen.KindUnavailable, "canceled", "canceled")
}

func TestFetchNetworkFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	_, err = testFetcher(Options{}).FetchURL(context.Background(), "http://"+addr+"/")
	wantErr(t, err, echogen.KindUnavailable, "source_unavailable", "could not fetch")
	if echogen.Permanent(err) {
		t.Error("a network failure must be retried")
	}
}

// TestFetchTypes: declared types are honoured, generic ones sniffed.
func TestFetchTypes(t *testing.T) {
	pdf := pdfBytes(t, testPDF{title: "Sniffed report", pages: [][][]string{{{"A PDF served as application/octet-stream."}}}})
	mux := http.NewServeMux()
	serve := func(path, ct, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil // no sniffing by the server
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			writeString(w, body)
		})
	}
	serve("/report", "application/octet-stream", string(pdf))
	serve("/untyped.pdf", "", string(pdf))
	serve("/page", "", articleHTML)
	serve("/notes.md", "text/plain; charset=utf-8", "# Field notes\n\nHeron on the weir again.\n")
	serve("/readme", "text/markdown", "Plain first line\n\nMore text.\n")
	serve("/page.xhtml", "application/xhtml+xml", strings.Replace(articleHTML, "<!DOCTYPE html>", `<?xml version="1.0"?>`, 1))
	serve("/empty.html", "text/html", "<html><body><nav>Home</nav><p>   </p></body></html>")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := testFetcher(Options{})

	type summary struct{ Title, ContentType string }
	tests := []struct {
		path string
		want summary
	}{
		{"/report", summary{"Sniffed report", "application/pdf"}},
		{"/untyped.pdf", summary{"Sniffed report", "application/pdf"}},
		{"/page", summary{"A test article", "text/html"}},
		{"/notes.md", summary{"Field notes", "text/markdown"}},
		{"/readme", summary{"Plain first line", "text/markdown"}},
		{"/page.xhtml", summary{"A test article", "application/xhtml+xml"}},
	}
	for _, tt := range tests {
		doc, err := f.FetchURL(context.Background(), srv.URL+tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if diff := cmp.Diff(tt.want, summary{doc.Title, doc.ContentType}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.path, diff)
		}
	}
	_, err := f.FetchURL(context.Background(), srv.URL+"/empty.html")
	wantErr(t, err, echogen.KindInvalid, "no_text", "no readable text found in "+srv.URL+"/empty.html")
}

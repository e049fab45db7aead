package swaggerui

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

const specURL = "/openapi.json"

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPage(t *testing.T) {
	rec := get(t, Handler("/docs", specURL), http.MethodGet, "/docs", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /docs: %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	page := rec.Body.String()
	for _, want := range []string{
		"<!DOCTYPE html>",
		`<div id="swagger-ui"></div>`,
		"SwaggerUIBundle({",
		`url: "` + specURL + `"`,
		"validatorUrl: null",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, scheme := range []string{"http://", "https://", "//"} {
		if i := strings.Index(page, scheme); i >= 0 {
			t.Errorf("page holds %q, an external or protocol-relative URL: ...%s...", scheme, page[max(i-40, 0):min(i+40, len(page))])
		}
	}
}

var attrURL = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// TestPageURLsResolveUnderPrefix checks every src and href is relative and,
// from the page's address, lands on an asset this handler serves, also when
// a proxy mounts the server under a path.
func TestPageURLsResolveUnderPrefix(t *testing.T) {
	tests := []struct {
		prefix  string
		pageURL string // where the browser sees the page
		mount   string // path prefix a proxy strips
	}{
		{"/docs", "http://api.test/docs", ""},
		{"/docs", "http://api.test/echogen/docs", "/echogen"},
		{"/api/v1/docs", "http://api.test/api/v1/docs", ""},
	}
	for _, tt := range tests {
		t.Run(tt.pageURL, func(t *testing.T) {
			h := Handler(tt.prefix, specURL)
			page := get(t, h, http.MethodGet, tt.prefix, nil).Body.String()
			matches := attrURL.FindAllStringSubmatch(page, -1)
			if len(matches) != 3 {
				t.Fatalf("page has %d src/href attributes, want 3 (css, icon, js)", len(matches))
			}
			base, err := url.Parse(tt.pageURL)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range matches {
				ref, err := url.Parse(m[1])
				if err != nil {
					t.Fatalf("bad URL %q: %v", m[1], err)
				}
				if ref.IsAbs() || ref.Host != "" || strings.HasPrefix(ref.Path, "/") {
					t.Errorf("URL %q is not relative", m[1])
					continue
				}
				abs := base.ResolveReference(ref)
				if abs.Host != base.Host {
					t.Errorf("URL %q leaves the origin: %s", m[1], abs)
				}
				path, ok := strings.CutPrefix(abs.Path, tt.mount)
				if !ok {
					t.Fatalf("URL %q resolves to %s, outside the mount %q", m[1], abs, tt.mount)
				}
				if rec := get(t, h, http.MethodGet, path+"?"+abs.RawQuery, nil); rec.Code != http.StatusOK {
					t.Errorf("URL %q resolves to %s, which serves %d", m[1], abs, rec.Code)
				}
			}
		})
	}
}

func TestSpecURLIsEscaped(t *testing.T) {
	page := get(t, Handler("/docs", `/spec.json?a=1&b="</script><script>alert(1)//`), http.MethodGet, "/docs", nil).Body.String()
	if strings.Count(page, "<script") != 2 || strings.Count(page, "</script>") != 2 {
		t.Errorf("spec URL breaks out of its string:\n%s", page)
	}
	if !strings.Contains(page, `url: "/spec.json?a=1\u0026b=\"\u003c/script\u003e\u003cscript\u003ealert(1)//"`) {
		t.Errorf("spec URL not JS-escaped as expected:\n%s", page)
	}
}

func TestAssets(t *testing.T) {
	h := Handler("/docs", specURL)
	tests := []struct {
		path        string
		contentType string
		file        string // in assets/, to compare bodies with
		prefix      []byte // how the file starts
	}{
		{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "swagger-ui-bundle.js", nil},
		{"/docs/swagger-ui.css", "text/css; charset=utf-8", "swagger-ui.css", nil},
		{"/docs/favicon-32x32.png", "image/png", "favicon-32x32.png", []byte("\x89PNG\r\n\x1a\n")},
		{"/docs/swagger-ui.css?v=anything", "text/css; charset=utf-8", "swagger-ui.css", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, tt.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			hdr := rec.Header()
			for k, want := range map[string]string{
				"Content-Type":           tt.contentType,
				"Cache-Control":          "public, max-age=31536000, immutable",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := hdr.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if hdr.Get("ETag") == "" {
				t.Error("no ETag")
			}
			want, err := os.ReadFile("assets/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Body.Bytes(), want) {
				t.Errorf("body is not assets/%s (%d bytes, want %d)", tt.file, rec.Body.Len(), len(want))
			}
			if !bytes.HasPrefix(want, tt.prefix) {
				t.Errorf("assets/%s does not start with %q", tt.file, tt.prefix)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	h := Handler("/docs", specURL)
	for _, path := range []string{
		"/docs/nope.js",
		"/docs/index.html",
		"/docs/swagger-initializer.js",
		"/docs/swagger-ui-bundle.js.map",
		"/docs/LICENSE",
		"/docs/README.md",
		"/docs/assets/swagger-ui.css",
		"/docs/swagger-ui.css/",
		"/docs/../docs/swagger-ui.css/x",
		"/docsx",
		"/doc",
		"/",
		"/openapi.json",
	} {
		if rec := get(t, h, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestRequests(t *testing.T) {
	h := Handler("/docs", specURL)
	page := get(t, h, http.MethodGet, "/docs", nil)
	css := get(t, h, http.MethodGet, "/docs/swagger-ui.css", nil)
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		wantStatus int
		wantHeader map[string]string
		wantEmpty  bool
	}{
		{"trailing slash redirects", http.MethodGet, "/docs/", nil, http.StatusMovedPermanently, map[string]string{"Location": "../docs"}, false},
		{"HEAD page", http.MethodHead, "/docs", nil, http.StatusOK, map[string]string{"Content-Type": "text/html; charset=utf-8"}, true},
		{"page revalidates", http.MethodGet, "/docs", nil, http.StatusOK, map[string]string{"Cache-Control": "no-cache"}, false},
		{"page not modified", http.MethodGet, "/docs", http.Header{"If-None-Match": {page.Header().Get("ETag")}}, http.StatusNotModified, nil, true},
		{"asset not modified", http.MethodGet, "/docs/swagger-ui.css", http.Header{"If-None-Match": {css.Header().Get("ETag")}}, http.StatusNotModified, nil, true},
		{"POST page", http.MethodPost, "/docs", nil, http.StatusMethodNotAllowed, map[string]string{"Allow": "GET, HEAD"}, false},
		{"DELETE asset", http.MethodDelete, "/docs/swagger-ui.css", nil, http.StatusMethodNotAllowed, map[string]string{"Allow": "GET, HEAD"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.path, tt.header)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tt.wantEmpty && rec.Body.Len() != 0 {
				t.Errorf("body has %d bytes, want none", rec.Body.Len())
			}
		})
	}
}

func TestBadPrefixPanics(t *testing.T) {
	for _, prefix := range []string{"", "/", "docs", "/docs/"} {
		t.Run(prefix, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q) did not panic", prefix)
				}
			}()
			Handler(prefix, specURL)
		})
	}
}

func TestServeMux(t *testing.T) {
	mux := http.NewServeMux()
	h := Handler("/docs", specURL)
	mux.Handle("/docs", h)
	mux.Handle("/docs/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]int{
		"/docs":                      http.StatusOK,
		"/docs/swagger-ui-bundle.js": http.StatusOK,
		"/docs/missing.js":           http.StatusNotFound,
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// The client follows the relative redirect from /docs/ to /docs.
	resp, err := srv.Client().Get(srv.URL + "/docs/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/docs" {
		t.Errorf("GET /docs/ ended at %s with %d, want /docs 200", resp.Request.URL.Path, resp.StatusCode)
	}
}

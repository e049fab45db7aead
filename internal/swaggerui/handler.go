// Package swaggerui serves Swagger UI for the API docs from embedded
// assets, so /docs works without internet access: no CDN, no validator.
package swaggerui

import (
	"bytes"
	"net/http"
	"path"
	"strings"
	"time"
)

// Handler serves Swagger UI showing the OpenAPI document at specURL (as the
// browser should fetch it, e.g. "/openapi.json"). It answers GET and HEAD
// for prefix (e.g. "/docs") with the page, prefix+"/" with a redirect to
// it, and prefix+"/<asset>" with the page's assets; anything else is 404.
// Mount it at both prefix and the subtree under it, e.g. with ServeMux:
//
//	mux.Handle("/docs", h)
//	mux.Handle("/docs/", h)
//
// prefix must start with "/" and not end with one; Handler panics
// otherwise, as ServeMux does for a bad pattern.
func Handler(prefix, specURL string) http.Handler {
	if len(prefix) < 2 || prefix[0] != '/' || strings.HasSuffix(prefix, "/") {
		panic("swaggerui: prefix must look like /docs, got " + prefix)
	}
	assets, version, err := loadAssets()
	if err != nil {
		panic(err) // the assets are embedded; this is a build bug
	}
	base := path.Base(prefix)
	page, err := renderPage(base, specURL, version)
	if err != nil {
		panic(err) // the template is embedded; this is a build bug
	}
	return &handler{
		prefix: prefix,
		base:   base,
		page:   newFile("text/html; charset=utf-8", page),
		assets: assets,
	}
}

type handler struct {
	prefix string
	base   string
	page   file
	assets map[string]file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != h.prefix && !strings.HasPrefix(p, h.prefix+"/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch name := strings.TrimPrefix(p, h.prefix+"/"); {
	case p == h.prefix:
		// Revalidate every time: the page names the asset version.
		serve(w, r, h.page, "no-cache")
	case name == "":
		// Relative, so it survives a proxy that strips a path prefix.
		w.Header().Set("Location", "../"+h.base)
		w.WriteHeader(http.StatusMovedPermanently)
	default:
		f, ok := h.assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// The page asks for ?v=<version>, so a new build gets new URLs.
		serve(w, r, f, "public, max-age=31536000, immutable")
	}
}

// serve writes f, answering conditional, range and HEAD requests.
func serve(w http.ResponseWriter, r *http.Request, f file, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

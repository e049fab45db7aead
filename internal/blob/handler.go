package blob

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// Handler serves GET and HEAD on MediaPath<bucket>/<key>?exp=…&kid=…&sig=…,
// the URLs SignedURL hands out; mount it at MediaPath, outside the API's
// authentication (the signature is the credential). A bad or changed
// signature is 403 "invalid_signature", an expired URL 403 "url_expired", a
// deleted object 404, all as {"detail", "code"} JSON. The content is
// streamed by http.ServeContent, so Range, If-Range, If-None-Match and
// If-Modified-Since work as they do anywhere in net/http.
func (l *Local) Handler() http.Handler {
	return http.HandlerFunc(l.serveMedia)
}

func (l *Local) serveMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		return
	}
	g, err := l.signer.Verify(r.URL)
	if err != nil {
		writeProblem(w, http.StatusForbidden, echogen.ErrorCode(err), errorMessage(err))
		return
	}
	o, info, err := l.open(r.Context(), g.Bucket, g.Key)
	if err != nil {
		switch echogen.ErrorCode(err) {
		case "not_found", "unknown_bucket", "invalid_key": // signed once, gone now
			writeProblem(w, http.StatusNotFound, "not_found", "Object not found")
		default:
			writeProblem(w, http.StatusInternalServerError, "internal_error", "Internal Server Error")
		}
		return
	}
	defer o.Close()

	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("ETag", info.ETag)
	maxAge := max(0, int64(g.Expires.Sub(l.signer.clock.Now())/time.Second))
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(maxAge, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	// User uploads are served from the API's own origin: should one be
	// HTML or SVG and be opened directly, it runs with no script and no
	// origin of its own.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if g.Download {
		h.Set("Content-Disposition", attachment(path.Base(g.Key)))
	}
	if selectsNothing(r.Header.Get("Range"), info.Size) {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", info.ModTime, o)
}

// selectsNothing reports whether a Range header holds a suffix range that
// selects no bytes: "-0", or any suffix of an empty object. net/http serves
// those as a 206 with an invalid Content-Range such as "bytes 10-9/10"
// (golang/go#81262); RFC 9110 lets a server ignore Range, so such a request
// gets the whole object. The parsing follows net/http's.
func selectsNothing(header string, size int64) bool {
	specs, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return false
	}
	for spec := range strings.SplitSeq(specs, ",") {
		start, end, ok := strings.Cut(textproto.TrimString(spec), "-")
		end = textproto.TrimString(end)
		if !ok || textproto.TrimString(start) != "" || end == "" || end[0] == '-' {
			continue // not a suffix range
		}
		if n, err := strconv.ParseInt(end, 10, 64); err == nil && (n == 0 || size == 0) {
			return true
		}
	}
	return false
}

// attachment returns a Content-Disposition that saves the file under name
// (RFC 2231-encoded when it is not plain ASCII).
func attachment(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

func errorMessage(err error) string {
	var e *echogen.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Forbidden"
}

// writeProblem writes the API's error shape, {"detail": …, "code": …}.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{detail, code})
}

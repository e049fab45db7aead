package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

// FuzzVerify feeds the signed-URL parser and verifier arbitrary paths and
// queries. It must never panic, must refuse with one of its two codes, and
// may accept only what was signed: the seeds themselves.
func FuzzVerify(f *testing.F) {
	clock := echogentest.NewClock(testStart)
	s := newTestSigner(f, testKeys, clock)
	for _, c := range []struct {
		bucket, key string
		dl          bool
	}{
		{audio, "u1/a.mp3", false},
		{audio, "u1/a.mp3", true},
		{art, "u1/Épisode 1 (final)?.png", false},
		{audio, "u/" + strings.Repeat("deep/", 20) + "x", true},
	} {
		raw, err := s.SignedURL(c.bucket, c.key, time.Hour, c.dl)
		if err != nil {
			f.Fatal(err)
		}
		u, _ := url.Parse(raw)
		f.Add(u.EscapedPath(), u.RawQuery)
	}
	f.Add("/media/", "exp=&kid=&sig=")
	f.Add("/media//x", "exp=-1&kid=new&sig=AAAA")
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		if p, err := url.PathUnescape(path); err == nil {
			u.Path = p
		}
		g, err := s.Verify(u)
		if err != nil {
			if echogen.ErrorKind(err) != echogen.KindPermissionDenied {
				t.Fatalf("Verify(%q, %q): %v is not KindPermissionDenied", path, query, err)
			}
			if c := echogen.ErrorCode(err); c != "invalid_signature" && c != "url_expired" {
				t.Fatalf("Verify(%q, %q): code %q", path, query, c)
			}
			return
		}
		if err := validateKey(g.Key); err != nil || !validBucketName(g.Bucket) {
			t.Fatalf("Verify(%q, %q) granted %+v", path, query, g)
		}
		// Anything accepted must carry a genuine signature over the same
		// bucket, key, expiry and flag: signing them again gives the same URL.
		again, err := s.SignedURL(g.Bucket, g.Key, g.Expires.Sub(clock.Now()), g.Download)
		if err != nil {
			t.Fatalf("re-sign %+v: %v", g, err)
		}
		au, _ := url.Parse(again)
		if au.Query().Get("sig") != u.Query().Get("sig") {
			t.Fatalf("Verify(%q, %q) accepted a signature it would not make: %+v", path, query, g)
		}
	})
}

// FuzzRangeHeader fetches a signed object through the media handler with
// an arbitrary Range header. It must never answer 5xx; a 200 carries the
// whole object, and a 206 exactly the bytes its Content-Range (or each
// multipart part's) names, which must be the satisfiable ranges the header
// asked for when the header is a plain RFC 9110 byte-ranges-specifier.
func FuzzRangeHeader(f *testing.F) {
	clock := echogentest.NewClock(testStart)
	l, err := NewLocal(f.TempDir(), newTestSigner(f, testKeys, clock), audio)
	if err != nil {
		f.Fatal(err)
	}
	// Bytes that differ from their neighbours, so an off-by-one shows.
	objects := map[bool][]byte{false: make([]byte, 1000), true: {}}
	for i := range objects[false] {
		objects[false][i] = byte(i * 7 % 251)
	}
	urls := map[bool]string{}
	for empty, body := range objects {
		key := fmt.Sprintf("u1/%t.bin", empty)
		if _, err := l.Put(context.Background(), audio, key, bytes.NewReader(body), "application/octet-stream"); err != nil {
			f.Fatal(err)
		}
		if urls[empty], err = l.SignedURL(context.Background(), audio, key, time.Hour, false); err != nil {
			f.Fatal(err)
		}
	}
	for _, r := range []string{
		"", "bytes=0-0", "bytes=0-999", "bytes=100-199", "bytes=990-", "bytes=-100", "bytes=-0", "bytes=-1000", "bytes=-5000",
		"bytes=995-5000", "bytes=1000-1001", "bytes=5-4", "bytes=0-1,10-11", "bytes=0-1,-0", "bytes=0-499,500-999,0-0",
		"bytes=-0,-0", "bytes= 1 - 2 ,, 4-5", "bytes=+1-+2", "bytes=-+0", "bytes=0-9223372036854775807", "bytes=0-99999999999999999999",
		"Bytes=0-1", "bytes=0-0,1-1,2-2,3-3,4-4,5-5", "bytes=abc", "items=0-1", "bytes=-",
	} {
		f.Add(r, false)
		f.Add(r, true)
	}
	handler := l.Handler()
	f.Fuzz(func(t *testing.T, rangeHeader string, empty bool) {
		file := objects[empty]
		req := httptest.NewRequest(http.MethodGet, urls[empty], nil)
		req.Header["Range"] = []string{rangeHeader}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		res := rec.Result()
		body := rec.Body.Bytes()
		if res.StatusCode >= 500 {
			t.Fatalf("Range %q: %d %s", rangeHeader, res.StatusCode, body)
		}
		if cl := res.Header.Get("Content-Length"); (res.StatusCode == 200 || res.StatusCode == 206) && cl != strconv.Itoa(len(body)) {
			t.Fatalf("Range %q: Content-Length %q for %d bytes", rangeHeader, cl, len(body))
		}
		want, strict := satisfiableRanges(rangeHeader, int64(len(file)))
		switch res.StatusCode {
		case http.StatusOK: // a server may ignore Range
			if !bytes.Equal(body, file) {
				t.Fatalf("Range %q: 200 with %d bytes, not the object", rangeHeader, len(body))
			}
		case http.StatusPartialContent:
			got := servedRanges(t, rangeHeader, res, body, file)
			if strict && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("Range %q: served %v, want %v", rangeHeader, got, want)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if strict && len(want) > 0 {
				t.Fatalf("Range %q: 416, but %v are satisfiable", rangeHeader, want)
			}
		default:
			t.Fatalf("Range %q: unexpected status %d", rangeHeader, res.StatusCode)
		}
	})
}

var contentRange = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+)$`)

// servedRanges checks each part of a 206 against the file and returns the
// [first, last] pairs it served.
func servedRanges(t *testing.T, header string, res *http.Response, body, file []byte) [][2]int64 {
	t.Helper()
	check := func(cr string, part []byte) [2]int64 {
		m := contentRange.FindStringSubmatch(cr)
		if m == nil {
			t.Fatalf("Range %q: Content-Range %q", header, cr)
		}
		first, _ := strconv.ParseInt(m[1], 10, 64)
		last, _ := strconv.ParseInt(m[2], 10, 64)
		if m[3] != strconv.Itoa(len(file)) || first > last || last >= int64(len(file)) {
			t.Fatalf("Range %q: Content-Range %q for a %d-byte object", header, cr, len(file))
		}
		if !bytes.Equal(part, file[first:last+1]) {
			t.Fatalf("Range %q: the part for %q holds other bytes", header, cr)
		}
		return [2]int64{first, last}
	}
	mediaType, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/byteranges" {
		return [][2]int64{check(res.Header.Get("Content-Range"), body)}
	}
	if res.Header.Get("Content-Range") != "" {
		t.Fatalf("Range %q: a multipart answer with a Content-Range", header)
	}
	var got [][2]int64
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Range %q: multipart: %v", header, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("Range %q: multipart part: %v", header, err)
		}
		got = append(got, check(p.Header.Get("Content-Range"), b))
	}
	if len(got) < 2 {
		t.Fatalf("Range %q: a multipart answer with %d parts", header, len(got))
	}
	return got
}

// satisfiableRanges reads a Range header by RFC 9110 alone: "bytes=" and a
// list of first-last, first- and -suffix specs (digits only, optional
// whitespace around commas). It returns the satisfiable ranges as
// [first, last] pairs, clipped to the object, and whether the header was of
// that plain form. Numbers too long for int64 count as not plain.
func satisfiableRanges(header string, size int64) ([][2]int64, bool) {
	specs, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return nil, false
	}
	number := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	var out [][2]int64
	for spec := range strings.SplitSeq(specs, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // empty list elements are ignored
		}
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, false
		}
		if first == "" { // a suffix: the last n bytes
			n, ok := number(last)
			if !ok {
				return nil, false
			}
			if n > 0 && size > 0 {
				out = append(out, [2]int64{max(0, size-n), size - 1})
			}
			continue
		}
		a, ok := number(first)
		if !ok {
			return nil, false
		}
		b := size - 1
		if last != "" {
			if b, ok = number(last); !ok || b < a {
				return nil, false
			}
		}
		if a < size {
			out = append(out, [2]int64{a, min(b, size-1)})
		}
	}
	return out, true
}

package blob

import (
	"net/url"
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

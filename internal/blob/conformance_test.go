package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/echogen/server/internal/echogen"
)

// The two logical buckets every store under test accepts.
const (
	audio = "podcast-audio"
	art   = "cover-art"
)

// storeUnderTest is one fresh, empty store for the conformance suite.
type storeUnderTest struct {
	store echogen.BlobStore
	// realBucket names the bucket as it appears in signed URLs.
	realBucket func(logical string) string
	// fetchURL turns what SignedURL returned into a URL to GET.
	fetchURL func(signed string) string
	// advance moves the store's clock; nil when the store cannot be told
	// (S3's clock is the server's).
	advance func(time.Duration)
	// tampered and expired say how the server behind the signed URLs
	// refuses an edited URL and an expired one. The zero value is the local
	// store's and S3's answer: 403, with "url_expired" in the body for an
	// expired URL.
	tampered, expired refusal
}

// refusal is how a server refuses a signed URL: its HTTP status and text
// its body must contain ("" checks none).
type refusal struct {
	status int
	body   string
}

func (r refusal) or(fallback refusal) refusal {
	if r.status == 0 {
		return fallback
	}
	return r
}

// runConformance checks that a BlobStore behaves as echogen.BlobStore
// says, the same way on every implementation. newStore returns an empty
// store holding the buckets audio and art.
func runConformance(t *testing.T, newStore func(t *testing.T) storeUnderTest) {
	t.Run("round trip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("put replaces", func(t *testing.T) { testReplace(t, newStore(t)) })
	t.Run("missing is not found", func(t *testing.T) { testMissing(t, newStore(t)) })
	t.Run("delete twice", func(t *testing.T) { testDeleteTwice(t, newStore(t)) })
	t.Run("delete prefix", func(t *testing.T) { testDeletePrefix(t, newStore(t)) })
	t.Run("invalid names", func(t *testing.T) { testInvalidNames(t, newStore(t)) })
	t.Run("large put streams", func(t *testing.T) { testLargePut(t, newStore(t)) })
	t.Run("cancelled put leaves nothing", func(t *testing.T) { testCancelledPut(t, newStore(t)) })
	t.Run("signed URL", func(t *testing.T) { testSignedURL(t, newStore(t)) })
	t.Run("signed URL cannot be bent", func(t *testing.T) { testSignedURLTamper(t, newStore(t)) })
	t.Run("signed URL expires", func(t *testing.T) {
		s := newStore(t)
		if s.advance == nil {
			t.Skip("this store's clock cannot be moved; tampering is checked instead")
		}
		testSignedURLExpiry(t, s)
	})
}

func put(t *testing.T, s echogen.BlobStore, bucket, key, body, contentType string) {
	t.Helper()
	n, err := s.Put(context.Background(), bucket, key, strings.NewReader(body), contentType)
	if err != nil {
		t.Fatalf("Put(%s/%s): %v", bucket, key, err)
	}
	if n != int64(len(body)) {
		t.Fatalf("Put(%s/%s) = %d bytes, want %d", bucket, key, n, len(body))
	}
}

func read(t *testing.T, s echogen.BlobStore, bucket, key string) (string, *echogen.BlobInfo) {
	t.Helper()
	rc, info, err := s.Open(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("Open(%s/%s): %v", bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return string(b), info
}

func wantNotFound(t *testing.T, s echogen.BlobStore, bucket, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), bucket, key); echogen.ErrorKind(err) != echogen.KindNotFound {
		t.Errorf("Stat(%s/%s) = %v, want KindNotFound", bucket, key, err)
	}
	rc, _, err := s.Open(context.Background(), bucket, key)
	if echogen.ErrorKind(err) != echogen.KindNotFound {
		t.Errorf("Open(%s/%s) = %v, want KindNotFound", bucket, key, err)
	}
	if rc != nil {
		rc.Close()
	}
}

func testRoundTrip(t *testing.T, s storeUnderTest) {
	tests := []struct {
		name, key, body, contentType, wantType string
	}{
		{"empty", "u1/empty.txt", "", "text/plain", "text/plain"},
		{"text with parameters", "u1/notes.txt", "hello, world\n", "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"no content type", "u1/blob.bin", "\x00\x01\x02\xff", "", "application/octet-stream"},
		{"over a part", "u1/deep/er/big.mp3", strings.Repeat("0123456789abcdef", DefaultPartSize/16+1000), "audio/mpeg", "audio/mpeg"},
		{"odd characters", "u1/Épisode 1 (final) #2?&=+.mp3", "odd", "audio/mpeg", "audio/mpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			put(t, s.store, audio, tt.key, tt.body, tt.contentType)
			stat, err := s.store.Stat(context.Background(), audio, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			want := &echogen.BlobInfo{Size: int64(len(tt.body)), ContentType: tt.wantType}
			opts := cmpopts.IgnoreFields(echogen.BlobInfo{}, "ModTime", "ETag")
			if diff := cmp.Diff(want, stat, opts); diff != "" {
				t.Errorf("Stat (-want +got):\n%s", diff)
			}
			if stat.ModTime.IsZero() || len(stat.ETag) < 3 || !strings.HasPrefix(stat.ETag, `"`) || !strings.HasSuffix(stat.ETag, `"`) {
				t.Errorf("Stat = %+v, want a modification time and a quoted ETag", stat)
			}
			got, info := read(t, s.store, audio, tt.key)
			if got != tt.body {
				t.Errorf("read %d bytes, want the %d put", len(got), len(tt.body))
			}
			if diff := cmp.Diff(stat, info); diff != "" {
				t.Errorf("Open's info differs from Stat's (-stat +open):\n%s", diff)
			}
		})
	}
}

func testReplace(t *testing.T, s storeUnderTest) {
	put(t, s.store, audio, "u1/a.mp3", "first version, longer", "audio/mpeg")
	before, err := s.store.Stat(context.Background(), audio, "u1/a.mp3")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s.store, audio, "u1/a.mp3", "second", "audio/ogg")
	got, info := read(t, s.store, audio, "u1/a.mp3")
	if got != "second" || info.Size != 6 || info.ContentType != "audio/ogg" {
		t.Errorf("after replacing: %q, %+v", got, info)
	}
	if info.ETag == before.ETag {
		t.Errorf("ETag %s did not change with the content", info.ETag)
	}
}

func testMissing(t *testing.T, s storeUnderTest) {
	put(t, s.store, audio, "u1/a.mp3", "x", "audio/mpeg")
	wantNotFound(t, s.store, audio, "u1/b.mp3")
	wantNotFound(t, s.store, audio, "u2/a.mp3")
	wantNotFound(t, s.store, art, "u1/a.mp3") // the same key in another bucket
	wantNotFound(t, s.store, audio, "u1")     // a "folder" is no object
	if err := s.store.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testDeleteTwice(t *testing.T, s storeUnderTest) {
	ctx := context.Background()
	put(t, s.store, audio, "u1/a.mp3", "x", "audio/mpeg")
	put(t, s.store, audio, "u1/b.mp3", "y", "audio/mpeg")
	for i := range 2 {
		if err := s.store.Delete(ctx, audio, "u1/a.mp3"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if err := s.store.Delete(ctx, audio, "never/was.mp3"); err != nil {
		t.Fatalf("Delete of a key never put: %v", err)
	}
	wantNotFound(t, s.store, audio, "u1/a.mp3")
	if got, _ := read(t, s.store, audio, "u1/b.mp3"); got != "y" {
		t.Errorf("the neighbour changed: %q", got)
	}
}

func testDeletePrefix(t *testing.T, s storeUnderTest) {
	ctx := context.Background()
	objects := []struct{ bucket, key string }{
		{audio, "alice/a.mp3"},
		{audio, "alice/sub/b.mp3"},
		{audio, "alice/sub/deeper/c.mp3"},
		{audio, "alice2/d.mp3"}, // shares "alice", not "alice/"
		{audio, "bob/e.mp3"},
		{audio, "bob/ef.mp3"},
		{audio, "bob/g.mp3"},
		{art, "alice/cover.png"}, // another bucket
	}
	for _, o := range objects {
		put(t, s.store, o.bucket, o.key, "x", "application/octet-stream")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if n, err := s.store.DeletePrefix(done, audio, "alice/"); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("DeletePrefix with a done context = %d, %v; want 0, context.Canceled", n, err)
	}
	tests := []struct {
		bucket, prefix string
		want           int
	}{
		{audio, "alice/", 3},
		{audio, "alice/", 0},
		{audio, "bob/e", 2},
		{audio, "nobody/", 0},
		{audio, "nobody/deeper/", 0},
	}
	for _, tt := range tests {
		n, err := s.store.DeletePrefix(ctx, tt.bucket, tt.prefix)
		if err != nil || n != tt.want {
			t.Errorf("DeletePrefix(%s, %q) = %d, %v; want %d", tt.bucket, tt.prefix, n, err, tt.want)
		}
	}
	for _, o := range objects {
		_, err := s.store.Stat(ctx, o.bucket, o.key)
		gone := strings.HasPrefix(o.key, "alice/") && o.bucket == audio || strings.HasPrefix(o.key, "bob/e")
		if gone && echogen.ErrorKind(err) != echogen.KindNotFound || !gone && err != nil {
			t.Errorf("after the deletes, Stat(%s/%s) = %v; want gone: %v", o.bucket, o.key, err, gone)
		}
	}
	for _, prefix := range []string{"", "/", "../", "alice//"} {
		if _, err := s.store.DeletePrefix(ctx, audio, prefix); echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("DeletePrefix(%q) = %v, want KindInvalid", prefix, err)
		}
	}
	if _, err := s.store.DeletePrefix(ctx, "no-such-bucket", "u/"); err == nil {
		t.Error("DeletePrefix on an unknown bucket: no error")
	}
}

func testInvalidNames(t *testing.T, s storeUnderTest) {
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "../escape", "u/../../escape", "u//x", `u\x`, "u/.hidden", strings.Repeat("k", MaxKeyLen+1)} {
		if _, err := s.store.Put(ctx, audio, key, strings.NewReader("x"), ""); echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("Put(%q) = %v, want KindInvalid", key, err)
		}
		if _, err := s.store.Stat(ctx, audio, key); echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("Stat(%q) = %v, want KindInvalid", key, err)
		}
		if err := s.store.Delete(ctx, audio, key); echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("Delete(%q) = %v, want KindInvalid", key, err)
		}
		if _, err := s.store.SignedURL(ctx, audio, key, time.Minute, false); echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("SignedURL(%q) = %v, want KindInvalid", key, err)
		}
	}
	if _, err := s.store.Put(ctx, "no-such-bucket", "u/a", strings.NewReader("x"), ""); err == nil {
		t.Error("Put to an unknown bucket: no error")
	}
	if _, err := s.store.Put(ctx, audio, "u/a", strings.NewReader("x"), "text/plain\r\nX-Evil: 1"); echogen.ErrorKind(err) != echogen.KindInvalid {
		t.Errorf("Put with a header-breaking content type = %v, want KindInvalid", err)
	}
}

// largeSize is big enough that holding it would show in the heap.
const largeSize = 100 << 20

// maxPutGrowth is how much a streaming Put of largeSize may allocate in
// all: the S3 store's one part buffer and the copy buffers, with room.
const maxPutGrowth = 32 << 20

func testLargePut(t *testing.T, s storeUnderTest) {
	if testing.Short() {
		t.Skip("moves 100 MB")
	}
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := s.store.Put(ctx, audio, "u1/large.bin", newPattern(largeSize), "application/octet-stream")
	runtime.ReadMemStats(&after)
	if err != nil || n != largeSize {
		t.Fatalf("Put = %d, %v; want %d bytes", n, err, largeSize)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > maxPutGrowth {
		t.Errorf("Put of %d MiB allocated %d MiB, want under %d MiB: it does not stream", largeSize>>20, grew>>20, maxPutGrowth>>20)
	}
	if after.HeapInuse > before.HeapInuse && after.HeapInuse-before.HeapInuse > maxPutGrowth {
		t.Errorf("heap in use grew by %d MiB during the Put", (after.HeapInuse-before.HeapInuse)>>20)
	}
	t.Logf("Put of %d MiB allocated %.1f MiB", largeSize>>20, float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))

	rc, info, err := s.store.Open(ctx, audio, "u1/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, want := sha256.New(), sha256.New()
	if _, err := io.Copy(got, rc); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(want, newPattern(largeSize)); err != nil {
		t.Fatal(err)
	}
	if info.Size != largeSize || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes that differ from those put", info.Size)
	}
}

// pattern is a deterministic stream of size pseudo-random bytes
// (xorshift64), so large objects need not be held anywhere.
type pattern struct {
	x       uint64
	n, size int64
}

func newPattern(size int64) *pattern { return &pattern{x: 0x9e3779b97f4a7c15, size: size} }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n >= p.size {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.size-p.n)]
	x, n := p.x, p.n
	for i := range b {
		if n%8 == 0 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		b[i] = byte(x >> (8 * (n % 8)))
		n++
	}
	p.x, p.n = x, n
	return len(b), nil
}

// cancelAfter reads from r and cancels after n bytes, then goes on
// reading as if nothing happened: the store has to notice by itself.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	if c.n -= int64(k); c.n <= 0 {
		c.cancel()
	}
	return k, err
}

func testCancelledPut(t *testing.T, s storeUnderTest) {
	put(t, s.store, audio, "u1/kept.mp3", "old content", "audio/mpeg")
	tests := []struct {
		name, key string
		cancelAt  int64
	}{
		{"new key, early", "u1/new.mp3", 1 << 10},
		{"new key, after a part", "u1/new2.mp3", DefaultPartSize + 1<<20},
		{"existing key", "u1/kept.mp3", DefaultPartSize + 1<<20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &cancelAfter{r: newPattern(3 * DefaultPartSize), n: tt.cancelAt, cancel: cancel}
			_, err := s.store.Put(ctx, audio, tt.key, r, "audio/mpeg")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put = %v, want context.Canceled", err)
			}
			if tt.key == "u1/kept.mp3" {
				if got, _ := read(t, s.store, audio, tt.key); got != "old content" {
					t.Errorf("the old object changed: %.20q", got)
				}
				return
			}
			wantNotFound(t, s.store, audio, tt.key)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.store.Put(ctx, audio, "u1/late.mp3", strings.NewReader("x"), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a done context = %v, want context.Canceled", err)
	}
	wantNotFound(t, s.store, audio, "u1/late.mp3")
}

// fetch GETs url with extra request headers.
func fetch(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func signedURL(t *testing.T, s storeUnderTest, bucket, key string, ttl time.Duration, download bool) string {
	t.Helper()
	u, err := s.store.SignedURL(context.Background(), bucket, key, ttl, download)
	if err != nil {
		t.Fatalf("SignedURL(%s/%s): %v", bucket, key, err)
	}
	return s.fetchURL(u)
}

func testSignedURL(t *testing.T, s storeUnderTest) {
	body := strings.Repeat("0123456789", 1000)
	const key = "u1/Épisode 1 (final).mp3"
	put(t, s.store, audio, key, body, "audio/mpeg")
	tests := []struct {
		name        string
		download    bool
		header      []string
		wantStatus  int
		wantBody    string
		wantDispose string
	}{
		{name: "whole", wantStatus: http.StatusOK, wantBody: body},
		{name: "range", header: []string{"Range", "bytes=100-199"}, wantStatus: http.StatusPartialContent, wantBody: body[100:200]},
		{name: "suffix range", header: []string{"Range", "bytes=-10"}, wantStatus: http.StatusPartialContent, wantBody: body[len(body)-10:]},
		{name: "download", download: true, wantStatus: http.StatusOK, wantBody: body, wantDispose: "attachment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := fetch(t, signedURL(t, s, audio, key, time.Hour, tt.download), tt.header...)
			if resp.StatusCode != tt.wantStatus || got != tt.wantBody {
				t.Fatalf("GET = %d with %d bytes, want %d with %d", resp.StatusCode, len(got), tt.wantStatus, len(tt.wantBody))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "audio/mpeg" {
				t.Errorf("Content-Type = %q", ct)
			}
			cd := resp.Header.Get("Content-Disposition")
			if !strings.HasPrefix(cd, tt.wantDispose) || tt.wantDispose == "" && cd != "" {
				t.Errorf("Content-Disposition = %q, want %q…", cd, tt.wantDispose)
			}
			if tt.download && !strings.Contains(cd, "filename") {
				t.Errorf("Content-Disposition = %q names no file", cd)
			}
		})
	}
}

func testSignedURLTamper(t *testing.T, s storeUnderTest) {
	put(t, s.store, audio, "alice/a.mp3", "alice's", "audio/mpeg")
	put(t, s.store, audio, "alice/b.mp3", "alice's other", "audio/mpeg")
	put(t, s.store, audio, "bob/a.mp3", "bob's", "audio/mpeg")
	put(t, s.store, art, "alice/a.mp3", "in another bucket", "audio/mpeg")
	u := signedURL(t, s, audio, "alice/a.mp3", time.Hour, false)
	if resp, got := fetch(t, u); resp.StatusCode != http.StatusOK || got != "alice's" {
		t.Fatalf("the genuine URL: %d %q", resp.StatusCode, got)
	}
	tests := []struct{ name, url string }{
		{"other key", strings.Replace(u, "/alice/a.mp3", "/alice/b.mp3", 1)},
		{"other user", strings.Replace(u, "/alice/a.mp3", "/bob/a.mp3", 1)},
		{"other bucket", strings.Replace(u, "/"+s.realBucket(audio)+"/", "/"+s.realBucket(art)+"/", 1)},
	}
	want := s.tampered.or(refusal{status: http.StatusForbidden})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == u {
				t.Fatalf("could not edit %s", u)
			}
			resp, got := fetch(t, tt.url)
			if resp.StatusCode != want.status || !strings.Contains(got, want.body) {
				t.Errorf("edited URL %s: %d %.80q, want %d with %q", tt.url, resp.StatusCode, got, want.status, want.body)
			}
		})
	}
}

func testSignedURLExpiry(t *testing.T, s storeUnderTest) {
	put(t, s.store, audio, "u1/a.mp3", "x", "audio/mpeg")
	u := signedURL(t, s, audio, "u1/a.mp3", time.Minute, false)
	s.advance(59 * time.Second)
	if resp, _ := fetch(t, u); resp.StatusCode != http.StatusOK {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	s.advance(time.Second)
	want := s.expired.or(refusal{status: http.StatusForbidden, body: `"url_expired"`})
	resp, got := fetch(t, u)
	if resp.StatusCode != want.status || !strings.Contains(got, want.body) {
		t.Errorf("after expiry: %d %s, want %d with %q", resp.StatusCode, got, want.status, want.body)
	}
}

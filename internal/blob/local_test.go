package blob

import (
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

// newTestLocal returns an empty local store with the buckets audio and
// art, its root, its clock and a server for its Handler.
func newTestLocal(t *testing.T) (*Local, string, *echogentest.Clock, *httptest.Server) {
	t.Helper()
	clock := echogentest.NewClock(testStart)
	root := t.TempDir()
	l, err := NewLocal(root, newTestSigner(t, testKeys, clock), audio, art)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	return l, root, clock, srv
}

func TestLocalConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) storeUnderTest {
		l, _, clock, srv := newTestLocal(t)
		return storeUnderTest{
			store:      l,
			realBucket: func(b string) string { return b },
			fetchURL:   func(u string) string { return srv.URL + u },
			advance:    clock.Advance,
		}
	})
}

func TestNewLocal(t *testing.T) {
	signer := newTestSigner(t, testKeys, nil)
	tests := []struct {
		name    string
		signer  *Signer
		buckets []string
		ok      bool
	}{
		{"fine", signer, []string{audio, art}, true},
		{"no signer", nil, []string{audio}, false},
		{"no buckets", signer, nil, false},
		{"bucket with a slash", signer, []string{"a/b"}, false},
		{"bucket that climbs", signer, []string{".."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := NewLocal(root, tt.signer, tt.buckets...)
			if (err == nil) != tt.ok {
				t.Fatalf("NewLocal = %v, want ok: %v", err, tt.ok)
			}
			if tt.ok {
				for _, b := range tt.buckets {
					if st, err := os.Stat(filepath.Join(root, b)); err != nil || !st.IsDir() {
						t.Errorf("bucket folder %s: %v", b, err)
					}
				}
			}
		})
	}
}

// TestLocalLayout checks what lands on disk: each object at
// root/<bucket>/<key>, nothing outside the root, no temporary files left,
// and empty folders pruned on delete.
func TestLocalLayout(t *testing.T) {
	l, root, _, _ := newTestLocal(t)
	ctx := context.Background()
	put(t, l, audio, "u1/sub/a.mp3", "abc", "audio/mpeg")
	if st, err := os.Stat(filepath.Join(root, audio, "u1", "sub", "a.mp3")); err != nil || st.Size() != headerSize+3 {
		t.Fatalf("object file: %v, %v", st, err)
	}
	ctxCancelled, cancel := context.WithCancel(ctx)
	r := &cancelAfter{r: newPattern(1 << 20), n: 1, cancel: cancel}
	if _, err := l.Put(ctxCancelled, audio, "u1/sub/b.mp3", r, ""); err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	if err := l.Delete(ctx, audio, "u1/sub/a.mp3"); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		left = append(left, strings.TrimPrefix(p, root))
		return err
	})
	if got := strings.Join(left, " "); got != " /"+art+" /"+audio {
		t.Errorf("left on disk: %s", got)
	}
}

func TestLocalKeyConflicts(t *testing.T) {
	l, _, _, _ := newTestLocal(t)
	ctx := context.Background()
	put(t, l, audio, "u1/a", "file", "")
	put(t, l, audio, "u1/b/c", "nested", "")
	for _, key := range []string{"u1/a/x", "u1/b"} {
		if _, err := l.Put(ctx, audio, key, strings.NewReader("x"), ""); echogen.ErrorKind(err) != echogen.KindConflict {
			t.Errorf("Put(%s) = %v, want KindConflict", key, err)
		}
	}
	if err := l.Delete(ctx, audio, "u1/b"); err != nil {
		t.Errorf("Delete of a folder-shaped key: %v", err)
	}
	if got, _ := read(t, l, audio, "u1/b/c"); got != "nested" {
		t.Errorf("Delete of the folder removed its object: %q", got)
	}
}

func TestLocalCorruptFile(t *testing.T) {
	l, root, _, srv := newTestLocal(t)
	p := filepath.Join(root, audio, "u1", "foreign.mp3")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not written by the store"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stat(context.Background(), audio, "u1/foreign.mp3"); err == nil || echogen.ErrorKind(err) == echogen.KindNotFound {
		t.Errorf("Stat of a foreign file = %v, want an internal error", err)
	}
	resp, body := fetch(t, srv.URL+mustSign(t, l, audio, "u1/foreign.mp3", time.Hour, false))
	if resp.StatusCode != 500 || !strings.Contains(body, `"internal_error"`) || strings.Contains(body, root) {
		t.Errorf("GET of a foreign file: %d %s", resp.StatusCode, body)
	}
}

func TestLocalPing(t *testing.T) {
	l, root, _, _ := newTestLocal(t)
	if err := l.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, art)); err != nil {
		t.Fatal(err)
	}
	if err := l.Ping(context.Background()); err == nil {
		t.Error("Ping with a bucket folder gone: no error")
	}
}

func mustSign(t *testing.T, l *Local, bucket, key string, ttl time.Duration, download bool) string {
	t.Helper()
	u, err := l.SignedURL(context.Background(), bucket, key, ttl, download)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

package blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

const (
	testAccessKey = testenv.VersityAccessKey
	testSecretKey = testenv.VersitySecretKey
)

func startVersityGW(t *testing.T) string { return testenv.StartVersityGW(t) }

// newTestS3 returns a store on endpoint whose logical buckets audio and art
// map to fresh real buckets, created.
func newTestS3(t *testing.T, endpoint string, seq *atomic.Int64, tweak ...func(*S3Config)) (*S3, map[string]string) {
	t.Helper()
	n := seq.Add(1)
	buckets := map[string]string{audio: fmt.Sprintf("t%d-audio", n), art: fmt.Sprintf("t%d-art", n)}
	cfg := S3Config{Endpoint: endpoint, AccessKey: testAccessKey, SecretKey: testSecretKey, PathStyle: true, Buckets: buckets}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBuckets(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, buckets
}

// TestS3 runs everything that needs the S3 server under one server.
func TestS3(t *testing.T) {
	endpoint := startVersityGW(t)
	var seq atomic.Int64

	t.Run("conformance", func(t *testing.T) {
		runConformance(t, func(t *testing.T) storeUnderTest {
			s, buckets := newTestS3(t, endpoint, &seq)
			return storeUnderTest{
				store:      s,
				realBucket: func(b string) string { return buckets[b] },
				fetchURL:   func(u string) string { return u },
			}
		})
	})

	t.Run("presigned URL", func(t *testing.T) {
		s, buckets := newTestS3(t, endpoint, &seq)
		put(t, s, audio, "u1/a.mp3", "data", "audio/mpeg")
		raw, err := s.SignedURL(t.Context(), audio, "u1/a.mp3", time.Hour, true)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Scheme + "://" + u.Host; got != endpoint {
			t.Errorf("presigned URL goes to %s, want the S3 server %s", got, endpoint)
		}
		if u.Path != "/"+buckets[audio]+"/u1/a.mp3" || u.Query().Get("X-Amz-Expires") != "3600" {
			t.Errorf("presigned URL %s", raw)
		}
		if cd := u.Query().Get("response-content-disposition"); cd != `attachment; filename=a.mp3` {
			t.Errorf("response-content-disposition = %q", cd)
		}
	})

	t.Run("ping and ensure buckets", func(t *testing.T) {
		s, _ := newTestS3(t, endpoint, &seq)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := s.EnsureBuckets(t.Context()); err != nil {
			t.Fatalf("EnsureBuckets again: %v", err)
		}
		missing, err := NewS3(S3Config{Endpoint: endpoint, AccessKey: testAccessKey, SecretKey: testSecretKey, PathStyle: true,
			Buckets: map[string]string{audio: "never-created"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := missing.Ping(t.Context()); echogen.ErrorKind(err) != echogen.KindUnavailable {
			t.Errorf("Ping with a missing bucket = %v, want KindUnavailable", err)
		}
		wrong, err := NewS3(S3Config{Endpoint: endpoint, AccessKey: testAccessKey, SecretKey: "wrong-secret", PathStyle: true,
			Buckets: map[string]string{audio: "whatever"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := wrong.Ping(t.Context()); err == nil {
			t.Error("Ping with a wrong secret: no error")
		}
	})

	t.Run("cancelled put is aborted", func(t *testing.T) {
		s, buckets := newTestS3(t, endpoint, &seq)
		ctx, cancel := context.WithCancel(t.Context())
		r := &cancelAfter{r: newPattern(3 * DefaultPartSize), n: DefaultPartSize + 1, cancel: cancel}
		if _, err := s.Put(ctx, audio, "u1/big.bin", r, ""); err == nil {
			t.Fatal("cancelled Put succeeded")
		}
		for u := range s.client.ListIncompleteUploads(t.Context(), buckets[audio], "", true) {
			t.Errorf("multipart upload left behind: %+v", u)
		}
	})
}

func TestNewS3(t *testing.T) {
	ok := map[string]string{audio: "real-audio"}
	tests := []struct {
		name    string
		cfg     S3Config
		wantErr string
	}{
		{"aws", S3Config{Endpoint: "https://s3.eu-central-1.amazonaws.com", Region: "eu-central-1", AccessKey: "a", SecretKey: "s", Buckets: ok}, ""},
		{"minio", S3Config{Endpoint: "http://127.0.0.1:9000/", AccessKey: "a", SecretKey: "s", PathStyle: true, Buckets: ok}, ""},
		{"supabase", S3Config{Endpoint: "https://abc.supabase.co/storage/v1/s3", AccessKey: "a", SecretKey: "s", PathStyle: true, Buckets: ok}, ""},
		{"path without path style", S3Config{Endpoint: "https://abc.supabase.co/storage/v1/s3", AccessKey: "a", SecretKey: "s", Buckets: ok}, "path-style"},
		{"no scheme", S3Config{Endpoint: "s3.amazonaws.com", AccessKey: "a", SecretKey: "s", Buckets: ok}, "want http(s)"},
		{"ftp", S3Config{Endpoint: "ftp://host", AccessKey: "a", SecretKey: "s", Buckets: ok}, "want http(s)"},
		{"query", S3Config{Endpoint: "https://host/?x=1", AccessKey: "a", SecretKey: "s", Buckets: ok}, "want http(s)"},
		{"credentials in URL", S3Config{Endpoint: "https://a:s@host", AccessKey: "a", SecretKey: "s", Buckets: ok}, "want http(s)"},
		{"no secret", S3Config{Endpoint: "https://host", AccessKey: "a", Buckets: ok}, "secret key"},
		{"no buckets", S3Config{Endpoint: "https://host", AccessKey: "a", SecretKey: "s"}, "no buckets"},
		{"bad real bucket", S3Config{Endpoint: "https://host", AccessKey: "a", SecretKey: "s", Buckets: map[string]string{audio: "Bad_Name"}}, "invalid bucket"},
		{"small parts", S3Config{Endpoint: "https://host", AccessKey: "a", SecretKey: "s", Buckets: ok, PartSize: 1 << 20}, "5 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewS3(tt.cfg)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("NewS3 = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "wrong") {
				t.Fatalf("error shows a secret: %v", err)
			}
		})
	}
}

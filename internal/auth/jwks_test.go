package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

func ecJWK(t testing.TB, kid string) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig", "key_ops": []string{"verify"},
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]), "y": base64.RawURLEncoding.EncodeToString(b[33:])}, k
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func rsaJWK(t testing.TB, kid string, bits int) map[string]any {
	t.Helper()
	var k *rsa.PrivateKey
	if bits == 2048 {
		rsaOnce.Do(func() { rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
		k = rsaKey
	} else {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestParseJWKS(t *testing.T) {
	ec, _ := ecJWK(t, "ec-1")
	rs := rsaJWK(t, "rsa-1", 2048)
	weak := rsaJWK(t, "rsa-weak", 1024)
	offCurve := with(ec, "kid", "off-curve", "y", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	for _, tc := range []struct {
		name    string
		keys    []map[string]any
		want    map[string]string // kid → alg
		skipped int
	}{
		{"EC and RSA", []map[string]any{ec, rs}, map[string]string{"ec-1": "ES256", "rsa-1": "RS256"}, 0},
		{"no alg, no use, no key_ops", []map[string]any{with(ec, "alg", nil, "use", nil, "key_ops", nil)}, map[string]string{"ec-1": "ES256"}, 0},
		{"padded base64", []map[string]any{with(ec, "x", ec["x"].(string)+"=")}, map[string]string{"ec-1": "ES256"}, 0},
		{"symmetric key", []map[string]any{{"kty": "oct", "kid": "hs", "k": "c2VjcmV0", "alg": "HS256"}}, map[string]string{}, 1},
		{"encryption key", []map[string]any{with(ec, "use", "enc")}, map[string]string{}, 1},
		{"key_ops without verify", []map[string]any{with(ec, "key_ops", []string{"encrypt"})}, map[string]string{}, 1},
		{"no kid", []map[string]any{with(ec, "kid", nil)}, map[string]string{}, 1},
		{"EC key claiming RS256", []map[string]any{with(ec, "alg", "RS256")}, map[string]string{}, 1},
		{"RSA key claiming ES256", []map[string]any{with(rs, "alg", "ES256")}, map[string]string{}, 1},
		{"P-384", []map[string]any{with(ec, "crv", "P-384")}, map[string]string{}, 1},
		{"point off the curve", []map[string]any{offCurve}, map[string]string{}, 1},
		{"short coordinate", []map[string]any{with(ec, "x", "AAAA")}, map[string]string{}, 1},
		{"weak RSA", []map[string]any{weak}, map[string]string{}, 1},
		{"even exponent", []map[string]any{with(rs, "e", "AAE")}, map[string]string{}, 1},
		{"OKP", []map[string]any{{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}}, map[string]string{}, 1},
		{"duplicate kid: trust neither", []map[string]any{ec, with(rs, "kid", "ec-1")}, map[string]string{}, 1},
		{"one bad key does not spoil the rest", []map[string]any{weak, ec}, map[string]string{"ec-1": "ES256"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := json.Marshal(map[string]any{"keys": tc.keys})
			keys, skipped, err := parseJWKS(doc)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for kid, k := range keys {
				got[kid] = k.alg
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if len(skipped) != tc.skipped {
				t.Errorf("skipped = %q, want %d", skipped, tc.skipped)
			}
		})
	}
	for _, doc := range []string{``, `[]`, `{"keys": 5}`, `{"other": []}`, `not json`} {
		if _, _, err := parseJWKS([]byte(doc)); err == nil {
			t.Errorf("parseJWKS(%q) succeeded", doc)
		}
	}
}

// jwksServer serves a key set that tests change, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	status  int
	doc     string
	fetches int
	block   chan struct{} // when set, fetches wait on it…
	started chan struct{} // …after closing this
	once    sync.Once
}

func (j *jwksServer) set(status int, keys ...map[string]any) {
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status, j.doc = status, string(doc)
}

func (j *jwksServer) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

func (j *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	j.fetches++
	status, doc, block := j.status, j.doc, j.block
	j.mu.Unlock()
	if r.Header.Get("apikey") != "the-anon-key" {
		http.Error(w, `{"message":"No API key found in request"}`, http.StatusUnauthorized)
		return
	}
	if block != nil {
		j.once.Do(func() { close(j.started) })
		<-block
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(doc))
}

func newTestKeySet(t *testing.T, j *jwksServer) (*keySet, *echogentest.Clock, *syncBuffer) {
	t.Helper()
	srv := httptest.NewServer(j)
	t.Cleanup(srv.Close)
	clock := echogentest.NewClock(sbStart)
	logs := &syncBuffer{}
	ks := newKeySet(srv.URL, http.Header{"Apikey": {"the-anon-key"}}, srv.Client(), 5*time.Second, clock,
		slog.New(slog.NewTextHandler(logs, nil)))
	return ks, clock, logs
}

func TestKeySet(t *testing.T) {
	ctx := context.Background()
	ec, _ := ecJWK(t, "ec-1")
	ec2, _ := ecJWK(t, "ec-2")
	rs := rsaJWK(t, "rsa-1", 2048)
	j := &jwksServer{}
	j.set(200, ec, rs)
	ks, clock, logs := newTestKeySet(t, j)

	if _, err := ks.key(ctx, "ec-1", "ES256"); err != nil {
		t.Fatalf("ec-1: %v", err)
	}
	if _, err := ks.key(ctx, "rsa-1", "RS256"); err != nil {
		t.Fatalf("rsa-1: %v", err)
	}
	// A key answers only for its own algorithm.
	for _, c := range []struct{ kid, alg string }{{"ec-1", "RS256"}, {"rsa-1", "ES256"}, {"ec-1", "HS256"}} {
		if k, err := ks.key(ctx, c.kid, c.alg); err == nil {
			t.Errorf("key(%s, %s) = %T", c.kid, c.alg, k)
		}
	}
	if j.count() != 1 {
		t.Errorf("%d fetches, want 1", j.count())
	}

	// Unknown kid: refetch at most once per window.
	j.set(200, ec, rs, ec2)
	if _, err := ks.key(ctx, "ec-2", "ES256"); err != errUnknownKey {
		t.Errorf("within the window: %v, want errUnknownKey", err)
	}
	clock.Advance(jwksMinRefetch - time.Second)
	if _, err := ks.key(ctx, "ec-2", "ES256"); err != errUnknownKey || j.count() != 1 {
		t.Errorf("still within the window: %v, %d fetches", err, j.count())
	}
	clock.Advance(time.Second)
	if _, err := ks.key(ctx, "ec-2", "ES256"); err != nil || j.count() != 2 {
		t.Errorf("after the window: %v, %d fetches", err, j.count())
	}

	// Stale set and a failing fetch: the known keys keep working.
	j.set(500)
	clock.Advance(jwksMaxAge)
	if _, err := ks.key(ctx, "ec-1", "ES256"); err != nil {
		t.Errorf("stale key during an outage: %v", err)
	}
	if j.count() != 3 || !strings.Contains(logs.String(), "status 500") {
		t.Errorf("%d fetches; logs %s", j.count(), logs.String())
	}
	if _, err := ks.key(ctx, "ec-3", "ES256"); err != errUnknownKey {
		t.Errorf("unknown kid during an outage with known keys: %v", err)
	}

	// A fresh fetch drops withdrawn keys.
	j.set(200, ec2)
	clock.Advance(jwksMinRefetch)
	if _, err := ks.key(ctx, "ec-1", "ES256"); err != errUnknownKey {
		t.Errorf("withdrawn key: %v", err)
	}
	if _, err := ks.key(ctx, "ec-2", "ES256"); err != nil {
		t.Errorf("kept key: %v", err)
	}
}

func TestKeySetUnavailable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status int
		doc    string
	}{
		{"500", 500, `{}`},
		{"not a key set", 200, `<html></html>`},
		{"oversized", 200, `{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &jwksServer{status: tc.status, doc: tc.doc}
			ks, clock, _ := newTestKeySet(t, j)
			_, err := ks.key(ctx, "k", "ES256")
			if echogen.ErrorKind(err) != echogen.KindUnavailable {
				t.Fatalf("error = %v, want KindUnavailable", err)
			}
			ec, _ := ecJWK(t, "k")
			j.set(200, ec)
			if _, err := ks.key(ctx, "k", "ES256"); echogen.ErrorKind(err) != echogen.KindUnavailable || j.count() != 1 {
				t.Errorf("throttled: %v, %d fetches", err, j.count())
			}
			clock.Advance(jwksMinRefetch)
			if _, err := ks.key(ctx, "k", "ES256"); err != nil {
				t.Errorf("after recovery: %v", err)
			}
		})
	}
}

func TestKeySetFetchOutlivesACancelledCaller(t *testing.T) {
	ec, _ := ecJWK(t, "ec-1")
	j := &jwksServer{}
	j.set(200, ec)
	ks, _, _ := newTestKeySet(t, j)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the first caller has gone away
	if _, err := ks.key(ctx, "ec-1", "ES256"); err != nil {
		t.Errorf("lookup of a gone caller: %v", err)
	}
	if _, err := ks.key(context.Background(), "ec-1", "ES256"); err != nil || j.count() != 1 {
		t.Errorf("next lookup: %v, %d fetches", err, j.count())
	}
}

func TestKeySetOneFetchForConcurrentMisses(t *testing.T) {
	ctx := context.Background()
	ec, _ := ecJWK(t, "ec-1")
	j := &jwksServer{block: make(chan struct{}), started: make(chan struct{})}
	j.set(200, ec)
	ks, _, _ := newTestKeySet(t, j)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ks.key(ctx, "ec-1", "ES256")
			errs <- err
		}()
	}
	// Let the fetch through once it has started; the other lookups are
	// then waiting on it or about to find its keys.
	<-j.started
	close(j.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("key: %v", err)
		}
	}
	if j.count() != 1 || ks.fetchCount() != 1 {
		t.Errorf("%d fetches (%d attempts), want 1", j.count(), ks.fetchCount())
	}
}

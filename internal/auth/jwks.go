package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// JWKS cache policy.
const (
	// jwksMinRefetch is the shortest time between two fetches of the key
	// set, so a flood of tokens with made-up key ids costs one fetch per
	// period, not one per token.
	jwksMinRefetch = 30 * time.Second
	// jwksMaxAge is how long a fetched key set is trusted before the next
	// lookup fetches it again, so a key withdrawn from the set stops
	// verifying tokens.
	jwksMaxAge = 10 * time.Minute
	// maxJWKSBytes caps the key set document.
	maxJWKSBytes = 256 << 10
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
	// maxRSABits bounds verification cost.
	maxRSABits = 8192
)

// publicKey is one verification key of a key set and the one JWT algorithm
// it may verify.
type publicKey struct {
	alg string // ES256 or RS256
	key crypto.PublicKey
}

// jwk is the JSON shape of a JSON Web Key (RFC 7517, 7518).
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// parseJWKS reads a JSON Web Key Set and returns its usable verification
// keys by key id. Keys we cannot or must not use are skipped, with the
// reason in skipped: symmetric keys (a shared secret is never taken from a
// published document), keys not meant for signature verification,
// algorithms other than ES256 and RS256, weak or malformed keys, keys
// without a kid, and duplicate kids. Only a document that is not a key set
// at all is an error.
func parseJWKS(data []byte) (keys map[string]publicKey, skipped []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("parse JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New("parse JWKS: no \"keys\" member")
	}
	keys = make(map[string]publicKey, len(doc.Keys))
	dup := map[string]bool{}
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, k.Kid, err))
			continue
		}
		if dup[k.Kid] {
			continue
		}
		if _, ok := keys[k.Kid]; ok {
			// Two keys claim one kid: trust neither.
			delete(keys, k.Kid)
			dup[k.Kid] = true
			skipped = append(skipped, fmt.Sprintf("kid %q: appears twice", k.Kid))
			continue
		}
		keys[k.Kid] = pk
	}
	return keys, skipped, nil
}

// publicKey checks k and returns the key it describes.
func (k jwk) publicKey() (publicKey, error) {
	if k.Kid == "" {
		return publicKey{}, errors.New("no kid")
	}
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, fmt.Errorf("use %q is not sig", k.Use)
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return publicKey{}, errors.New("key_ops lacks verify")
	}
	switch k.Kty {
	case "EC":
		if k.Alg != "" && k.Alg != "ES256" {
			return publicKey{}, fmt.Errorf("algorithm %q is not supported", k.Alg)
		}
		if k.Crv != "P-256" {
			return publicKey{}, fmt.Errorf("curve %q is not supported", k.Crv)
		}
		x, err := b64url(k.X)
		if err != nil || len(x) != 32 {
			return publicKey{}, errors.New("bad x coordinate")
		}
		y, err := b64url(k.Y)
		if err != nil || len(y) != 32 {
			return publicKey{}, errors.New("bad y coordinate")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return publicKey{}, fmt.Errorf("EC point: %w", err)
		}
		return publicKey{alg: "ES256", key: pub}, nil
	case "RSA":
		if k.Alg != "" && k.Alg != "RS256" {
			return publicKey{}, fmt.Errorf("algorithm %q is not supported", k.Alg)
		}
		nb, err := b64url(k.N)
		if err != nil || len(nb) == 0 {
			return publicKey{}, errors.New("bad modulus")
		}
		n := new(big.Int).SetBytes(nb)
		if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
			return publicKey{}, fmt.Errorf("RSA modulus of %d bits: want %d to %d", bits, minRSABits, maxRSABits)
		}
		eb, err := b64url(k.E)
		if err != nil || len(eb) == 0 || len(eb) > 4 {
			return publicKey{}, errors.New("bad exponent")
		}
		e := new(big.Int).SetBytes(eb)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return publicKey{}, errors.New("bad exponent")
		}
		return publicKey{alg: "RS256", key: &rsa.PublicKey{N: n, E: int(e.Int64())}}, nil
	case "oct":
		return publicKey{}, errors.New("symmetric keys are never taken from a key set")
	}
	return publicKey{}, fmt.Errorf("key type %q is not supported", k.Kty)
}

// b64url decodes base64url, with or without padding.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// keySet is a remote JSON Web Key Set: fetched on first use, kept for
// jwksMaxAge, fetched again when a token names an unknown key id, and
// never fetched more than once per jwksMinRefetch. Lookups that arrive
// while a fetch is under way wait for it. Safe for concurrent use.
type keySet struct {
	url     string
	header  http.Header
	client  *http.Client
	timeout time.Duration
	clock   echogen.Clock
	log     *slog.Logger

	mu        sync.Mutex
	keys      map[string]publicKey
	fetched   time.Time     // last successful fetch
	attempted time.Time     // last fetch attempt, successful or not
	lastErr   error         // of the last attempt
	inflight  chan struct{} // closed when the fetch under way ends; nil when none
	fetches   int           // attempts so far, for tests
}

func newKeySet(url string, header http.Header, client *http.Client, timeout time.Duration, clock echogen.Clock, log *slog.Logger) *keySet {
	return &keySet{url: url, header: header, client: client, timeout: timeout, clock: clock, log: log}
}

// errUnknownKey is the cause for a token naming a key the set lacks.
var errUnknownKey = errors.New("token names a key that is not in the key set")

// key returns the key with id kid for algorithm alg. A key of another
// algorithm is refused, so an RS256 key never verifies an ES256 token and
// no public key ever verifies an HMAC one. When the key set could not be
// fetched and no keys are known, the error is KindUnavailable.
func (k *keySet) key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	k.mu.Lock()
	pk, ok := k.keys[kid]
	now := k.clock.Now()
	fresh := !k.fetched.IsZero() && now.Sub(k.fetched) < jwksMaxAge
	canFetch := k.attempted.IsZero() || now.Sub(k.attempted) >= jwksMinRefetch
	seen, inflight := k.attempted, k.inflight
	k.mu.Unlock()

	if !(ok && fresh) {
		if canFetch {
			k.refresh(ctx, seen)
		} else if inflight != nil {
			wait(ctx, inflight) // throttled, but a fetch is under way: use its keys
		}
		k.mu.Lock()
		pk, ok = k.keys[kid]
		k.mu.Unlock()
	}
	if !ok {
		k.mu.Lock()
		known, lastErr := len(k.keys), k.lastErr
		k.mu.Unlock()
		if known == 0 && lastErr != nil {
			return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: "auth_unavailable",
				Message: "Sign-in keys are unavailable; try again shortly", Err: lastErr}
		}
		return nil, errUnknownKey
	}
	if pk.alg != alg {
		return nil, fmt.Errorf("key %q is for %s, not %s", kid, pk.alg, alg)
	}
	return pk.key, nil
}

func wait(ctx context.Context, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// refresh fetches the key set, unless another fetch is under way (then it
// waits for that one) or happened since the caller looked (seen is the
// attempt time the caller saw).
func (k *keySet) refresh(ctx context.Context, seen time.Time) {
	k.mu.Lock()
	if ch := k.inflight; ch != nil {
		k.mu.Unlock()
		wait(ctx, ch)
		return
	}
	if !k.attempted.Equal(seen) {
		k.mu.Unlock()
		return
	}
	done := make(chan struct{})
	k.attempted, k.inflight = k.clock.Now(), done
	k.fetches++
	k.mu.Unlock()

	keys, err := k.fetch(ctx)

	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight = nil
	close(done)
	k.lastErr = err
	if err != nil {
		k.log.WarnContext(ctx, "fetch Supabase Auth signing keys", "error", err.Error(), "known_keys", len(k.keys))
		return
	}
	k.keys = keys
	k.fetched = k.clock.Now()
}

// fetch gets and parses the key set. Other lookups may be waiting on it,
// so the caller's cancellation does not end it; the timeout does.
func (k *keySet) fetch(ctx context.Context) (map[string]publicKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	for name, v := range k.header {
		req.Header[name] = v
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /.well-known/jwks.json: %w", stripURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET /.well-known/jwks.json: read: %w", stripURL(err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /.well-known/jwks.json: status %d", resp.StatusCode)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET /.well-known/jwks.json: over %d bytes", maxJWKSBytes)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		k.log.InfoContext(ctx, "skipped keys of the Supabase Auth key set", "skipped", skipped)
	}
	return keys, nil
}

// fetchCount reports how many times the set was fetched.
func (k *keySet) fetchCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

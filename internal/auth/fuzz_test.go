package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/echogen/server/internal/auth/gotruetest"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

// jwtSegment decodes one segment of a compact JWT as the verifier does:
// base64url, padding tolerated.
func jwtSegment(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// hmacSigned reports whether token carries a genuine HMAC-SHA256 over its
// header and payload, checked without the JWT library.
func hmacSigned(token string, secret []byte) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	sig, ok := jwtSegment(parts[2])
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(m.Sum(nil), sig)
}

// ecSigned reports whether token carries a genuine ES256 signature by pub,
// checked without the JWT library.
func ecSigned(token string, pub *ecdsa.PublicKey) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || pub == nil {
		return false
	}
	sig, ok := jwtSegment(parts[2])
	if !ok || len(sig) != 64 {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// wantUnauthenticated fails unless err is a KindUnauthenticated
// *echogen.Error with one of codes.
func wantUnauthenticated(t *testing.T, what string, err error, codes ...string) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) || e.Kind != echogen.KindUnauthenticated {
		t.Fatalf("%s: %v is not a KindUnauthenticated *echogen.Error", what, err)
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Fatalf("%s: code %q, want one of %q", what, e.Code, codes)
}

// FuzzTokenSignerParse feeds the built-in access-token verifier arbitrary
// strings, and its own tokens with one byte changed. Parse must never
// panic; it fails with KindUnauthenticated (invalid_token or
// token_expired), or returns the principal of a token the signer issued,
// whose HMAC checks out independently. A changed token never verifies to
// another principal.
func FuzzTokenSignerParse(f *testing.F) {
	clock := echogentest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := NewTokenSigner(SignerConfig{Secret: testSecret}, clock)
	if err != nil {
		f.Fatal(err)
	}
	bob := echogen.Principal{UserID: "9a8b7c6d-1111-4222-8333-944455566677", SessionID: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", Role: "authenticated"}
	issued := map[echogen.Principal]bool{}
	for _, p := range []echogen.Principal{alice, bob} {
		tok, err := s.Sign(p)
		if err != nil {
			f.Fatal(err)
		}
		issued[p] = true
		f.Add(tok, uint16(0), byte(0))
		f.Add(tok, uint16(len(tok)-1), byte(1))
		f.Add(tok, uint16(strings.IndexByte(tok, '.')+3), byte(0x20))
	}
	// Tokens the signer must refuse: other keys, algorithms and claims.
	other, _ := NewTokenSigner(SignerConfig{Secret: []byte(strings.Repeat("x", 32))}, clock)
	wrongKey, _ := other.Sign(alice)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "a", "sid": "b", "aud": Audience, "exp": 2e9}).SignedString(testSecret)
	noSid, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "a", "aud": Audience, "exp": 2e9}).SignedString(testSecret)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "a", "sid": "b", "aud": Audience, "exp": 1}).SignedString(testSecret)
	for _, tok := range []string{wrongKey, hs512, noSid, expired, "", ".", "..", "a.b.c",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwic2lkIjoiYiIsImF1ZCI6ImF1dGhlbnRpY2F0ZWQiLCJleHAiOjJlOX0."} {
		f.Add(tok, uint16(0), byte(0))
	}

	f.Fuzz(func(t *testing.T, token string, at uint16, xor byte) {
		check := func(tok string) *echogen.Principal {
			p, err := s.Parse(tok)
			if err != nil {
				if p != nil {
					t.Fatalf("Parse(%q) returned %+v with %v", tok, p, err)
				}
				wantUnauthenticated(t, "Parse("+tok+")", err, "invalid_token", "token_expired")
				return nil
			}
			if !issued[*p] || !hmacSigned(tok, testSecret) {
				t.Fatalf("Parse(%q) accepted %+v, which the signer did not issue", tok, p)
			}
			return p
		}
		orig := check(token)
		if len(token) == 0 || xor == 0 {
			return
		}
		b := []byte(token)
		b[int(at)%len(b)] ^= xor
		if p := check(string(b)); p != nil && (orig == nil || *p != *orig) {
			t.Fatalf("changing %q to %q verified as %+v, not %+v", token, b, p, orig)
		}
	})
}

// FuzzParseJWKS feeds the key-set parser arbitrary documents. It must never
// panic, and everything it returns must be a verification key it may use:
// a non-empty kid, ES256 with a P-256 point, or RS256 with a modulus of
// 2048 to 8192 bits and a small odd exponent.
func FuzzParseJWKS(f *testing.F) {
	ec, _ := ecJWK(f, "ec-1")
	rs := rsaJWK(f, "rsa-1", 2048)
	for _, keys := range [][]map[string]any{
		{ec},
		{ec, rs},
		{with(ec, "kid", "rsa-1"), rs},
		{with(ec, "use", "enc"), with(rs, "key_ops", []string{"sign"})},
		{with(ec, "crv", "P-384"), with(rs, "alg", "RS512"), with(ec, "kid", nil)},
		{{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}},
		{with(ec, "x", "AAAA"), with(rs, "e", "AQ"), with(rs, "n", "AQAB")},
	} {
		doc, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, doc := range []string{``, `[]`, `{"keys": 5}`, `{"other": []}`, `not json`, `{"keys":[null,1,"x",{}]}`} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, skipped, err := parseJWKS(data)
		if err != nil {
			if keys != nil || skipped != nil {
				t.Fatalf("parseJWKS failed (%v) but returned keys", err)
			}
			return
		}
		for kid, k := range keys {
			if kid == "" {
				t.Fatalf("a key without a kid: %+v", k)
			}
			switch pub := k.key.(type) {
			case *ecdsa.PublicKey:
				if k.alg != "ES256" || pub.Curve.Params().Name != "P-256" {
					t.Fatalf("kid %q: EC key for %s on %s", kid, k.alg, pub.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if bits := pub.N.BitLen(); k.alg != "RS256" || bits < minRSABits || bits > maxRSABits || pub.E < 3 || pub.E%2 == 0 {
					t.Fatalf("kid %q: RSA key for %s, %d bits, e=%d", kid, k.alg, bits, pub.E)
				}
			default:
				t.Fatalf("kid %q: key of type %T", kid, k.key)
			}
		}
	})
}

// fuzzSupabase is a Supabase backend whose key set is whatever doc holds.
type fuzzSupabase struct {
	mu  sync.Mutex
	doc []byte
}

func (j *fuzzSupabase) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	doc := j.doc
	j.mu.Unlock()
	_, _ = w.Write(doc)
}

// FuzzSupabaseVerify feeds the Supabase access-token verifier arbitrary
// tokens, with the JWT secret (HS256) and a published ES256 key. It must
// never panic, fail only with KindUnauthenticated, and accept only tokens
// whose signature checks out independently, by the secret or the key, for
// the user and sessions the stand-in issued.
func FuzzSupabaseVerify(f *testing.F) {
	clock := echogentest.NewClock(sbStart)
	gt := gotruetest.New(f, gotruetest.Options{Algorithm: "ES256", JWTSecret: sbSecret, AnonKey: sbAnon, ServiceRoleKey: sbService, Now: clock.Now})
	sb, err := NewSupabase(SupabaseConfig{URL: gt.URL, AnonKey: sbAnon, ServiceRoleKey: sbService, JWTSecret: sbSecret}, clock)
	if err != nil {
		f.Fatal(err)
	}
	ada := gt.AddUser(gotruetest.User{Email: adaEmail, Password: sbPassword, CreatedAt: sbStart.Add(-time.Hour)})
	pub, _ := gt.PublicKey().(*ecdsa.PublicKey)
	for range 2 {
		access, _, sid := gt.NewSession(ada.ID)
		f.Add(access)
		claims := jwt.MapClaims(gt.Claims(ada.ID, sid))
		hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(sbSecret))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(hs)
		// The same claims under an algorithm swap and with no signature.
		parts := strings.Split(access, ".")
		f.Add(b64(map[string]any{"alg": "HS256", "kid": gt.KeyID()}) + "." + parts[1] + "." + parts[2])
		f.Add(b64(map[string]any{"alg": "none"}) + "." + parts[1] + ".")
		f.Add(b64(map[string]any{"alg": "ES256", "kid": "unknown"}) + "." + parts[1] + "." + parts[2])
		f.Add(b64(map[string]any{"alg": "RS256", "kid": gt.KeyID()}) + "." + parts[1] + "." + parts[2])
	}
	f.Add("")
	f.Add(strings.Repeat("a.", 9000))

	f.Fuzz(func(t *testing.T, token string) {
		p, err := sb.Authenticate(context.Background(), token)
		if err != nil {
			if p != nil {
				t.Fatalf("Authenticate returned %+v with %v", p, err)
			}
			wantUnauthenticated(t, "Authenticate", err, "invalid_token", "token_expired", "session_revoked")
			return
		}
		if !hmacSigned(token, []byte(sbSecret)) && !ecSigned(token, pub) {
			t.Fatalf("Authenticate(%q) accepted a token nobody signed: %+v", token, p)
		}
		// The principal is what the signed claims say. (Seeds are made in
		// the coordinating process, whose stand-in has other keys and
		// sessions than a fuzzing worker's; the HMAC secret is shared.)
		payload, _ := jwtSegment(strings.Split(token, ".")[1])
		var c struct {
			Sub       string `json:"sub"`
			SessionID string `json:"session_id"`
			Email     string `json:"email"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatalf("Authenticate(%q) accepted unreadable claims: %v", token, err)
		}
		if p.UserID != c.Sub || p.SessionID != c.SessionID || p.Email != c.Email || p.Role != "authenticated" || !echogen.IsID(p.UserID) {
			t.Fatalf("Authenticate(%q) = %+v, but the token says %+v", token, p, c)
		}
	})
}

// FuzzSupabaseKeySet serves an arbitrary key set and feeds the verifier
// arbitrary tokens. Whatever the document says, a token verifies only when
// its ES256 signature is genuinely by our key and the document publishes
// that key under the token's kid; there is no JWT secret, so nothing else
// may pass.
func FuzzSupabaseKeySet(f *testing.F) {
	clock := echogentest.NewClock(sbStart)
	src := &fuzzSupabase{}
	srv := httptest.NewServer(src)
	f.Cleanup(srv.Close)
	// A fixed key: seeds are signed in the coordinating process and
	// checked in the fuzzing workers.
	scalar := sha256.Sum256([]byte("FuzzSupabaseKeySet"))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	if err != nil {
		f.Fatal(err)
	}
	pb, _ := priv.PublicKey.Bytes()
	jwkMap := map[string]any{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pb[1:33]), "y": base64.RawURLEncoding.EncodeToString(pb[33:])}
	sign := func(kid string, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(priv)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	claims := jwt.MapClaims{"sub": "6f1c1a52-4c3c-4d7e-9a43-1d2b3c4d5e6f", "session_id": "s", "role": "authenticated",
		"aud": Audience, "exp": sbStart.Add(time.Hour).Unix()}
	good := sign("k1", claims)
	rs := rsaJWK(f, "k1", 2048)
	for _, c := range []struct {
		keys  []map[string]any
		token string
	}{
		{[]map[string]any{jwkMap}, good},
		{[]map[string]any{jwkMap}, sign("k2", claims)},
		{[]map[string]any{with(jwkMap, "kid", "k2")}, good},
		{[]map[string]any{rs}, good},
		{[]map[string]any{jwkMap, rs}, good},
		{[]map[string]any{with(jwkMap, "kty", "oct", "k", base64.RawURLEncoding.EncodeToString([]byte("secret")))},
			func() string {
				s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("secret"))
				return s
			}()},
	} {
		doc, _ := json.Marshal(map[string]any{"keys": c.keys})
		f.Add(doc, c.token)
	}
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"k1"}]}`), good)
	f.Add([]byte(`not json`), good)

	f.Fuzz(func(t *testing.T, doc []byte, token string) {
		src.mu.Lock()
		src.doc = doc
		src.mu.Unlock()
		sb, err := NewSupabase(SupabaseConfig{URL: srv.URL, AnonKey: sbAnon, ServiceRoleKey: sbService, HTTPClient: srv.Client(), Timeout: 5 * time.Second}, clock)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sb.Authenticate(context.Background(), token)
		if err != nil {
			var e *echogen.Error
			if !errors.As(err, &e) || (e.Kind != echogen.KindUnauthenticated && e.Kind != echogen.KindUnavailable) {
				t.Fatalf("Authenticate: %v is neither KindUnauthenticated nor KindUnavailable", err)
			}
			return
		}
		if !ecSigned(token, &priv.PublicKey) {
			t.Fatalf("Authenticate(%q) with key set %s accepted a token we did not sign: %+v", token, doc, p)
		}
		// The kid must name our key in the document.
		h, _ := jwtSegment(strings.Split(token, ".")[0])
		var hdr struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(h, &hdr)
		keys, _, err := parseJWKS(doc)
		k, ok := keys[hdr.Kid]
		if err != nil || !ok {
			t.Fatalf("Authenticate accepted kid %q, which key set %s does not publish", hdr.Kid, doc)
		}
		if ek, isEC := k.key.(*ecdsa.PublicKey); !isEC || !ek.Equal(&priv.PublicKey) {
			t.Fatalf("Authenticate accepted kid %q, published as another key in %s", hdr.Kid, doc)
		}
	})
}

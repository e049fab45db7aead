package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func newTestClock() *echogentest.Clock {
	return echogentest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newTestSigner(t *testing.T, cfg SignerConfig, clock echogen.Clock) *TokenSigner {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	s, err := NewTokenSigner(cfg, clock)
	if err != nil {
		t.Fatalf("NewTokenSigner: %v", err)
	}
	return s
}

var alice = echogen.Principal{
	UserID:    "6f1c1a52-4c3c-4d7e-9a43-1d2b3c4d5e6f",
	SessionID: "0b9d7a2e-8f41-4a55-b2c3-9e8d7c6b5a41",
	Email:     "alice@example.com",
	Role:      "authenticated",
}

func TestTokenSignerRoundTrip(t *testing.T) {
	for _, alg := range []string{"", "HS256", "HS384", "HS512"} {
		t.Run("alg "+alg, func(t *testing.T) {
			clock := newTestClock()
			s := newTestSigner(t, SignerConfig{Algorithm: alg}, clock)
			tok, err := s.Sign(alice)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Parse(tok)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&alice, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			want := alg
			if want == "" {
				want = "HS256"
			}
			if h := decodeSegment(t, tok, 0); h["alg"] != want {
				t.Errorf("alg header = %v, want %s", h["alg"], want)
			}
		})
	}
}

func TestTokenSignerClaims(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, SignerConfig{TTL: 10 * time.Minute}, clock)
	tok, err := s.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now().Unix()
	want := map[string]any{
		"sub":   alice.UserID,
		"sid":   alice.SessionID,
		"email": alice.Email,
		"role":  "authenticated",
		"aud":   []any{"authenticated"},
		"iat":   float64(now),
		"exp":   float64(now + 600),
	}
	if diff := cmp.Diff(want, decodeSegment(t, tok, 1)); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if s.TTL() != 10*time.Minute {
		t.Errorf("TTL = %v", s.TTL())
	}
}

func TestTokenSignerRejects(t *testing.T) {
	clock := newTestClock()
	signer := newTestSigner(t, SignerConfig{}, clock)
	valid, err := signer.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(*accessClaims)) accessClaims {
		now := clock.Now()
		c := accessClaims{
			SessionID: alice.SessionID, Email: alice.Email, Role: alice.Role,
			RegisteredClaims: jwt.RegisteredClaims{
				Subject:   alice.UserID,
				Audience:  jwt.ClaimStrings{Audience},
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
			},
		}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c accessClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(valid, ".")
	tampered := func() string {
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		evil := strings.Replace(string(payload), alice.UserID, "00000000-0000-4000-8000-000000000000", 1)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(evil)) + "." + parts[2]
	}()
	hs256Signer := newTestSigner(t, SignerConfig{Algorithm: "HS256"}, clock)
	hs512Signer := newTestSigner(t, SignerConfig{Algorithm: "HS512"}, clock)
	hs256Token, err := hs256Signer.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	issuerSigner := newTestSigner(t, SignerConfig{Issuer: "https://echogen.example"}, clock)

	for _, tc := range []struct {
		name   string
		signer *TokenSigner
		token  string
		code   string
	}{
		{"empty", signer, "", "invalid_token"},
		{"garbage", signer, "not.a.jwt", "invalid_token"},
		{"wrong secret", signer, sign(jwt.SigningMethodHS256, []byte("another secret that is long enough!!"), claims(nil)), "invalid_token"},
		{"alg none", signer, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), "invalid_token"},
		{"signature stripped", signer, parts[0] + "." + parts[1] + ".", "invalid_token"},
		{"HS256 token to an HS512 signer", hs512Signer, hs256Token, "invalid_token"},
		{"HS384 with the same secret", signer, sign(jwt.SigningMethodHS384, testSecret, claims(nil)), "invalid_token"},
		{"tampered payload", signer, tampered, "invalid_token"},
		{"wrong audience", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"service_role"} })), "invalid_token"},
		{"no audience", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.Audience = nil })), "invalid_token"},
		{"no expiry", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.ExpiresAt = nil })), "invalid_token"},
		{"no session id", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.SessionID = "" })), "invalid_token"},
		{"no subject", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) { c.Subject = "" })), "invalid_token"},
		{"missing issuer", issuerSigner, valid, "invalid_token"},
		{"expired", signer, sign(jwt.SigningMethodHS256, testSecret, claims(func(c *accessClaims) {
			c.ExpiresAt = jwt.NewNumericDate(clock.Now().Add(-time.Second))
		})), "token_expired"},
		{"expired with a wrong secret", signer, sign(jwt.SigningMethodHS256, []byte("another secret that is long enough!!"), claims(func(c *accessClaims) {
			c.ExpiresAt = jwt.NewNumericDate(clock.Now().Add(-time.Second))
		})), "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.signer.Parse(tc.token)
			checkTokenError(t, p, err, tc.code)
		})
	}
}

func TestTokenSignerExpiryFollowsClock(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, SignerConfig{}, clock)
	tok, err := s.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultAccessTokenTTL - time.Second)
	if _, err := s.Parse(tok); err != nil {
		t.Fatalf("Parse a second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	p, err := s.Parse(tok)
	checkTokenError(t, p, err, "token_expired")
}

func TestTokenSignerIssuer(t *testing.T) {
	clock := newTestClock()
	s := newTestSigner(t, SignerConfig{Issuer: "https://echogen.example"}, clock)
	tok, err := s.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeSegment(t, tok, 1)["iss"]; got != "https://echogen.example" {
		t.Errorf("iss = %v", got)
	}
	if _, err := s.Parse(tok); err != nil {
		t.Errorf("Parse: %v", err)
	}
}

func TestNewTokenSignerRefusesBadConfig(t *testing.T) {
	clock := newTestClock()
	for _, cfg := range []SignerConfig{
		{Algorithm: "none", Secret: testSecret},
		{Algorithm: "RS256", Secret: testSecret},
		{Algorithm: "hs256", Secret: testSecret},
		{Secret: []byte("short")},
		{Secret: testSecret, TTL: -time.Minute},
	} {
		if _, err := NewTokenSigner(cfg, clock); err == nil {
			t.Errorf("NewTokenSigner(%+v) succeeded, want an error", cfg)
		} else if strings.Contains(err.Error(), string(testSecret)) {
			t.Errorf("error %q contains the secret", err)
		}
	}
}

func checkTokenError(t *testing.T, p *echogen.Principal, err error, code string) {
	t.Helper()
	if p != nil {
		t.Errorf("principal = %+v, want nil", p)
	}
	e, ok := err.(*echogen.Error)
	if !ok {
		t.Fatalf("error = %v (%T), want *echogen.Error", err, err)
	}
	if e.Kind != echogen.KindUnauthenticated || e.Code != code || e.Message != "Invalid or expired token" {
		t.Errorf("error = kind %v code %q message %q; want kind %v code %q message %q",
			e.Kind, e.Code, e.Message, echogen.KindUnauthenticated, code, "Invalid or expired token")
	}
}

func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	var m map[string]any
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

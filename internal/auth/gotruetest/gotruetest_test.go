package gotruetest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/auth/gotruetest"
)

const (
	secret   = "stand-in-secret-with-at-least-32-characters"
	password = "a good passphrase"
)

// recorder captures the stand-in's test failures instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs
	r.errs = nil
	return e
}

type client struct {
	t    *testing.T
	base string
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (c client) do(method, path string, header map[string]string, body any) answer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, c.base+"/auth/v1"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

var anon = map[string]string{"apikey": gotruetest.DefaultAnonKey}

func user(tok string) map[string]string {
	return map[string]string{"apikey": gotruetest.DefaultAnonKey, "Authorization": "Bearer " + tok}
}

var admin = map[string]string{"apikey": gotruetest.DefaultServiceRoleKey, "Authorization": "Bearer " + gotruetest.DefaultServiceRoleKey}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: has %v", what, k, keysOf(m))
		}
	}
}

func TestFlowsHS256(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := gotruetest.New(t, gotruetest.Options{JWTSecret: secret, Now: clock})
	c := client{t, s.URL}

	// Sign-up with autoconfirm: a session.
	a := c.do("POST", "/signup", anon, map[string]any{"email": "Ada@Example.com", "password": password, "data": map[string]any{"full_name": "Ada"}})
	if a.status != 200 {
		t.Fatalf("signup: %d %s", a.status, a.raw)
	}
	wantKeys(t, "session", a.body, "access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user")
	u := a.body["user"].(map[string]any)
	wantKeys(t, "user", u, "id", "aud", "role", "email", "phone", "app_metadata", "user_metadata", "identities", "created_at", "last_sign_in_at", "email_confirmed_at")
	if u["email"] != "ada@example.com" || u["user_metadata"].(map[string]any)["full_name"] != "Ada" {
		t.Errorf("user = %v", u)
	}
	id := u["id"].(string)

	// The access token is a real HS256 JWT with GoTrue's claims.
	access := a.body["access_token"].(string)
	claims := jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clock)).ParseWithClaims(access, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil {
		t.Fatalf("access token: %v", err)
	}
	for k, want := range map[string]any{"sub": id, "aud": "authenticated", "role": "authenticated", "email": "ada@example.com", "iss": s.URL + "/auth/v1"} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	sid, _ := claims["session_id"].(string)
	if !s.SessionActive(sid) {
		t.Errorf("session %q not active", sid)
	}

	// Taken address.
	if a := c.do("POST", "/signup", anon, map[string]any{"email": "ada@example.com", "password": password}); a.status != 422 || a.body["error_code"] != "user_already_exists" {
		t.Errorf("second signup: %d %s", a.status, a.raw)
	}
	// Weak password.
	if a := c.do("POST", "/signup", anon, map[string]any{"email": "bob@example.com", "password": "12345"}); a.status != 422 || a.body["error_code"] != "weak_password" {
		t.Errorf("weak password: %d %s", a.status, a.raw)
	}

	// Password grant, wrong and right.
	if a := c.do("POST", "/token?grant_type=password", anon, map[string]any{"email": "ada@example.com", "password": "nope"}); a.status != 400 || a.body["error_code"] != "invalid_credentials" {
		t.Errorf("wrong password: %d %s", a.status, a.raw)
	}
	a = c.do("POST", "/token?grant_type=password", anon, map[string]any{"email": "ada@example.com", "password": password})
	if a.status != 200 {
		t.Fatalf("sign in: %d %s", a.status, a.raw)
	}
	refresh := a.body["refresh_token"].(string)
	access2 := a.body["access_token"].(string)

	// Refresh rotates; the old token is then Already Used.
	a = c.do("POST", "/token?grant_type=refresh_token", anon, map[string]any{"refresh_token": refresh})
	if a.status != 200 || a.body["refresh_token"] == refresh {
		t.Fatalf("refresh: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/token?grant_type=refresh_token", anon, map[string]any{"refresh_token": refresh}); a.status != 400 || a.body["error_code"] != "refresh_token_already_used" {
		t.Errorf("reuse: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/token?grant_type=refresh_token", anon, map[string]any{"refresh_token": "unknown"}); a.status != 400 || a.body["error_code"] != "refresh_token_not_found" {
		t.Errorf("unknown: %d %s", a.status, a.raw)
	}

	// GET and PUT /user.
	if a := c.do("GET", "/user", user(access), nil); a.status != 200 || a.body["id"] != id {
		t.Errorf("get user: %d %s", a.status, a.raw)
	}
	if a := c.do("PUT", "/user", user(access), map[string]any{"password": password}); a.status != 422 || a.body["error_code"] != "same_password" {
		t.Errorf("same password: %d %s", a.status, a.raw)
	}
	if a := c.do("PUT", "/user", user(access), map[string]any{"password": "another passphrase"}); a.status != 200 {
		t.Errorf("new password: %d %s", a.status, a.raw)
	}

	// Logout: others keeps the caller's session.
	if len(s.Sessions(id)) != 2 {
		t.Fatalf("sessions = %v", s.Sessions(id))
	}
	if a := c.do("POST", "/logout?scope=others", user(access), nil); a.status != 204 {
		t.Errorf("logout others: %d %s", a.status, a.raw)
	}
	if diff := cmp.Diff([]string{sid}, s.Sessions(id)); diff != "" {
		t.Errorf("after logout others (-want +got):\n%s", diff)
	}
	if a := c.do("POST", "/logout", user(access2), nil); a.status != 403 || a.body["error_code"] != "session_not_found" {
		t.Errorf("logout of an ended session: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/logout?scope=local", user(access), nil); a.status != 204 || len(s.Sessions(id)) != 0 {
		t.Errorf("logout local: %d %s, sessions %v", a.status, a.raw, s.Sessions(id))
	}

	// Recover, verify, expiry.
	if a := c.do("POST", "/recover", anon, map[string]any{"email": "ada@example.com"}); a.status != 200 {
		t.Errorf("recover: %d", a.status)
	}
	if a := c.do("POST", "/recover", anon, map[string]any{"email": "nobody@example.com"}); a.status != 200 {
		t.Errorf("recover unknown: %d", a.status)
	}
	m, ok := s.LastMail("recovery", "ada@example.com")
	if !ok || len(s.Mails()) != 1 {
		t.Fatalf("mails = %v", s.Mails())
	}
	if a := c.do("POST", "/verify", anon, map[string]any{"type": "signup", "token_hash": m.TokenHash}); a.status != 403 || a.body["error_code"] != "otp_expired" {
		t.Errorf("recovery hash as signup: %d %s", a.status, a.raw)
	}
	a = c.do("POST", "/verify", anon, map[string]any{"type": "recovery", "token_hash": m.TokenHash})
	if a.status != 200 || a.body["access_token"] == nil {
		t.Errorf("verify: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/verify", anon, map[string]any{"type": "recovery", "token_hash": m.TokenHash}); a.status != 403 {
		t.Errorf("verify twice: %d", a.status)
	}
	c.do("POST", "/recover", anon, map[string]any{"email": "ada@example.com"})
	m, _ = s.LastMail("recovery", "ada@example.com")
	mu.Lock()
	now = now.Add(25 * time.Hour)
	mu.Unlock()
	if a := c.do("POST", "/verify", anon, map[string]any{"type": "recovery", "token_hash": m.TokenHash}); a.status != 403 {
		t.Errorf("expired link: %d", a.status)
	}

	// Expired access token.
	if a := c.do("GET", "/user", user(access), nil); a.status != 403 || a.body["error_code"] != "bad_jwt" {
		t.Errorf("expired token: %d %s", a.status, a.raw)
	}

	// Admin.
	if a := c.do("GET", "/admin/users/"+id, admin, nil); a.status != 200 || a.body["id"] != id {
		t.Errorf("admin get: %d %s", a.status, a.raw)
	}
	if a := c.do("DELETE", "/admin/users/"+id, admin, nil); a.status != 200 {
		t.Errorf("admin delete: %d %s", a.status, a.raw)
	}
	if a := c.do("GET", "/admin/users/"+id, admin, nil); a.status != 404 || a.body["error_code"] != "user_not_found" {
		t.Errorf("admin get deleted: %d %s", a.status, a.raw)
	}
	if a := c.do("DELETE", "/admin/users/"+id, map[string]string{"apikey": gotruetest.DefaultServiceRoleKey}, nil); a.status != 404 {
		t.Errorf("admin delete with apikey alone: %d %s", a.status, a.raw)
	}

	// JWKS of an HS256 project: empty.
	if a := c.do("GET", "/.well-known/jwks.json", anon, nil); a.status != 200 || a.raw != "{\"keys\":[]}\n" {
		t.Errorf("jwks: %d %s", a.status, a.raw)
	}
}

func TestConfirmEmail(t *testing.T) {
	s := gotruetest.New(t, gotruetest.Options{JWTSecret: secret, ConfirmEmail: true})
	c := client{t, s.URL}
	a := c.do("POST", "/signup", anon, map[string]any{"email": "ada@example.com", "password": password})
	if a.status != 200 || a.body["access_token"] != nil || a.body["id"] == nil {
		t.Fatalf("signup: %d %s", a.status, a.raw)
	}
	if ids, _ := a.body["identities"].([]any); len(ids) != 1 {
		t.Errorf("identities = %v", a.body["identities"])
	}
	if a := c.do("POST", "/token?grant_type=password", anon, map[string]any{"email": "ada@example.com", "password": password}); a.status != 400 || a.body["error_code"] != "email_not_confirmed" {
		t.Errorf("sign in unconfirmed: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/resend", anon, map[string]any{"type": "signup", "email": "ada@example.com"}); a.status != 200 {
		t.Errorf("resend: %d", a.status)
	}
	if n := len(s.Mails()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	m, _ := s.LastMail("signup", "ada@example.com")
	if a := c.do("POST", "/verify", anon, map[string]any{"type": "email", "token_hash": m.TokenHash}); a.status != 200 {
		t.Fatalf("verify: %d %s", a.status, a.raw)
	}
	if u, _ := s.UserByEmail("ada@example.com"); u.EmailConfirmedAt == nil {
		t.Error("not confirmed")
	}
	// A confirmed address signing up again gets a made-up user.
	a = c.do("POST", "/signup", anon, map[string]any{"email": "ada@example.com", "password": password})
	u, _ := s.UserByEmail("ada@example.com")
	if a.status != 200 || a.body["id"] == u.ID || a.body["id"] == nil {
		t.Errorf("repeat signup: %d %s", a.status, a.raw)
	}
	if ids, ok := a.body["identities"].([]any); !ok || len(ids) != 0 {
		t.Errorf("repeat signup identities = %v, want []", a.body["identities"])
	}
	if a := c.do("POST", "/token?grant_type=password", anon, map[string]any{"email": "ada@example.com", "password": password}); a.status != 200 {
		t.Errorf("sign in confirmed: %d %s", a.status, a.raw)
	}
}

// jwkKey turns a published JWK into a public key.
func jwkKey(t *testing.T, k map[string]any) any {
	t.Helper()
	dec := func(f string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(k[f].(string))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		return b
	}
	switch k["kty"] {
	case "EC":
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, dec("x")...), dec("y")...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(dec("n")), E: int(new(big.Int).SetBytes(dec("e")).Int64())}
	}
	t.Fatalf("kty %v", k["kty"])
	return nil
}

func TestAsymmetricKeysAndRotation(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			s := gotruetest.New(t, gotruetest.Options{Algorithm: alg})
			c := client{t, s.URL}
			u := s.AddUser(gotruetest.User{Email: "ada@example.com", Password: password})
			access, _, _ := s.NewSession(u.ID)

			jwks := func() map[string]any {
				a := c.do("GET", "/.well-known/jwks.json", anon, nil)
				keys := map[string]any{}
				for _, k := range a.body["keys"].([]any) {
					km := k.(map[string]any)
					if km["alg"] != alg || km["use"] != "sig" {
						t.Errorf("key %v", km)
					}
					keys[km["kid"].(string)] = jwkKey(t, km)
				}
				return keys
			}
			verify := func(tok string, keys map[string]any) error {
				_, err := jwt.NewParser(jwt.WithValidMethods([]string{alg})).Parse(tok, func(tk *jwt.Token) (any, error) {
					k, ok := keys[tk.Header["kid"].(string)]
					if !ok {
						return nil, fmt.Errorf("kid %v", tk.Header["kid"])
					}
					return k, nil
				})
				return err
			}
			keys := jwks()
			if len(keys) != 1 {
				t.Fatalf("keys = %v", keys)
			}
			if err := verify(access, keys); err != nil {
				t.Fatalf("token does not verify with the JWKS: %v", err)
			}
			old := s.KeyID()
			kid := s.RotateKey()
			if kid == old || s.KeyID() != kid {
				t.Fatalf("rotate: %q → %q", old, kid)
			}
			access2, _, _ := s.NewSession(u.ID)
			keys = jwks()
			if len(keys) != 2 || verify(access2, keys) != nil || verify(access, keys) != nil {
				t.Errorf("after rotation: %d keys", len(keys))
			}
			s.WithdrawKey(old)
			keys = jwks()
			if len(keys) != 1 || verify(access, keys) == nil {
				t.Errorf("after withdrawal: %d keys, old token verifies", len(keys))
			}
			if a := c.do("GET", "/user", user(access), nil); a.status != 403 {
				t.Errorf("token of a withdrawn key: %d", a.status)
			}
			if a := c.do("GET", "/user", user(access2), nil); a.status != 200 {
				t.Errorf("token of the current key: %d %s", a.status, a.raw)
			}
		})
	}
}

func TestStrictness(t *testing.T) {
	rec := &recorder{TB: t}
	s := gotruetest.New(rec, gotruetest.Options{JWTSecret: secret})
	c := client{t, s.URL}
	u := s.AddUser(gotruetest.User{Email: "ada@example.com", Password: password})
	access, _, _ := s.NewSession(u.ID)

	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   any
		status int
		want   string // in the recorded failure
	}{
		{"no apikey", "POST", "/recover", nil, map[string]any{"email": "a@b.c"}, 401, "no apikey"},
		{"wrong apikey", "POST", "/recover", map[string]string{"apikey": "guess"}, map[string]any{"email": "a@b.c"}, 401, "neither"},
		{"service key on a public call", "POST", "/recover", map[string]string{"apikey": gotruetest.DefaultServiceRoleKey}, map[string]any{"email": "a@b.c"}, 200, "public call"},
		{"Authorization on a public call", "POST", "/recover", user(access), map[string]any{"email": "a@b.c"}, 200, "unexpected Authorization"},
		{"unknown field", "POST", "/signup", anon, map[string]any{"email": "a@b.c", "password": password, "fullName": "x"}, 400, `unexpected field "fullName"`},
		{"both email and phone", "POST", "/signup", anon, map[string]any{"email": "a@b.c", "phone": "+14155550123", "password": password}, 400, "exactly one"},
		{"extra data", "POST", "/signup", anon, map[string]any{"email": "a@b.c", "password": password, "data": map[string]any{"admin": "yes"}}, 400, "full_name"},
		{"missing password", "POST", "/token?grant_type=password", anon, map[string]any{"email": "a@b.c"}, 400, `missing field "password"`},
		{"number for a string", "POST", "/token?grant_type=refresh_token", anon, map[string]any{"refresh_token": 5}, 400, "non-empty string"},
		{"unknown grant", "POST", "/token?grant_type=pkce", anon, map[string]any{"auth_code": "x"}, 404, "no such endpoint"},
		{"extra query", "POST", "/token?grant_type=password&x=1", anon, map[string]any{"email": "a@b.c", "password": password}, 400, "grant_type alone"},
		{"not JSON", "POST", "/recover", anon, "email=a@b.c", 400, "not a JSON object"},
		{"bad verify type", "POST", "/verify", anon, map[string]any{"type": "phone", "token_hash": "x"}, 400, "verification type"},
		{"verify with a token", "POST", "/verify", anon, map[string]any{"type": "email", "token": "123456", "email": "a@b.c"}, 400, "unexpected field"},
		{"bad scope", "POST", "/logout?scope=all", user(access), nil, 400, "Unsupported logout scope"},
		{"logout without a token", "POST", "/logout", anon, nil, 401, "Bearer"},
		{"admin with the anon key", "GET", "/admin/users/" + u.ID, map[string]string{"apikey": gotruetest.DefaultAnonKey, "Authorization": "Bearer " + gotruetest.DefaultServiceRoleKey}, nil, 403, "service role key"},
		{"admin with a user token", "GET", "/admin/users/" + u.ID, map[string]string{"apikey": gotruetest.DefaultServiceRoleKey, "Authorization": "Bearer " + access}, nil, 403, "service role key"},
		{"body on a GET", "GET", "/user", user(access), map[string]any{"x": "y"}, 400, "unexpected body"},
		{"empty update", "PUT", "/user", user(access), map[string]any{}, 400, "nothing to update"},
		{"unknown path", "GET", "/settings", anon, nil, 404, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do(tc.method, tc.path, tc.header, tc.body)
			if a.status != tc.status {
				t.Errorf("status = %d, want %d (%s)", a.status, tc.status, a.raw)
			}
			errs := rec.take()
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Errorf("recorded failures = %q, want one containing %q", errs, tc.want)
			}
			if a.status >= 400 && a.body == nil {
				t.Errorf("error body is not JSON: %s", a.raw)
			}
		})
	}

	// Wrong content type.
	req, _ := http.NewRequest("POST", s.URL+"/auth/v1/recover", strings.NewReader(`{"email":"a@b.c"}`))
	req.Header.Set("apikey", gotruetest.DefaultAnonKey)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if errs := rec.take(); resp.StatusCode != 400 || len(errs) != 1 || !strings.Contains(errs[0], "Content-Type") {
		t.Errorf("text/plain: %d %q", resp.StatusCode, errs)
	}

	// Every request is recorded, the bad ones too.
	if n := len(s.Requests()); n < 20 {
		t.Errorf("%d requests recorded", n)
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Errorf("leftover failures: %q", errs)
	}
}

func TestFail(t *testing.T) {
	s := gotruetest.New(t, gotruetest.Options{JWTSecret: secret})
	c := client{t, s.URL}
	confirmed := time.Now()
	s.AddUser(gotruetest.User{Email: "ada@example.com", Password: password, EmailConfirmedAt: &confirmed})
	s.Fail(gotruetest.TokenPassword, gotruetest.Failure{Status: 429, Body: gotruetest.BodyRequestRateLimit, Header: http.Header{"Retry-After": {"9"}}})
	s.Fail(gotruetest.TokenPassword, gotruetest.Failure{Status: 400, Body: gotruetest.BodyOAuthInvalidLogin})
	body := map[string]any{"email": "ada@example.com", "password": password}
	a := c.do("POST", "/token?grant_type=password", anon, body)
	if a.status != 429 || a.header.Get("Retry-After") != "9" || a.raw != gotruetest.BodyRequestRateLimit {
		t.Errorf("first: %d %v %s", a.status, a.header, a.raw)
	}
	a = c.do("POST", "/token?grant_type=password", anon, body)
	if a.status != 400 || a.body["error_description"] != "Invalid login credentials" {
		t.Errorf("second: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/token?grant_type=password", anon, body); a.status != 200 {
		t.Errorf("third: %d %s", a.status, a.raw)
	}
	if a := c.do("POST", "/token?grant_type=refresh_token", anon, map[string]any{"refresh_token": "x"}); a.body["error_code"] != "refresh_token_not_found" {
		t.Errorf("failures leaked to another endpoint: %s", a.raw)
	}
	if n := len(s.RequestsTo(gotruetest.TokenPassword)); n != 3 {
		t.Errorf("%d password grants recorded", n)
	}
}

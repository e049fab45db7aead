package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/auth/gotruetest"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
)

var sbStart = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const (
	sbSecret   = "super-secret-jwt-token-with-at-least-32-characters-long"
	sbAnon     = "anon-key-4a1f9c0d"
	sbService  = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VydmljZS1yb2xlLXNpZw" // JWT-shaped, like a legacy service_role key
	sbPassword = "correct horse battery"
	adaEmail   = "ada@example.com"
)

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// sbEnv is a Supabase backend wired to a GoTrue stand-in, sharing a clock.
type sbEnv struct {
	sb    *Supabase
	gt    *gotruetest.Server
	clock *echogentest.Clock
	logs  *syncBuffer

	mu      sync.Mutex
	secrets []string // must never appear in an error or a log line
}

func newSBEnv(t *testing.T, opts gotruetest.Options, mutate ...func(*SupabaseConfig)) *sbEnv {
	t.Helper()
	clock := echogentest.NewClock(sbStart)
	opts.Now = clock.Now
	if opts.AnonKey == "" {
		opts.AnonKey = sbAnon
	}
	if opts.ServiceRoleKey == "" {
		opts.ServiceRoleKey = sbService
	}
	gt := gotruetest.New(t, opts)
	logs := &syncBuffer{}
	cfg := SupabaseConfig{
		URL: gt.URL, AnonKey: opts.AnonKey, ServiceRoleKey: opts.ServiceRoleKey, JWTSecret: opts.JWTSecret,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	sb, err := NewSupabase(cfg, clock)
	if err != nil {
		t.Fatalf("NewSupabase: %v", err)
	}
	e := &sbEnv{sb: sb, gt: gt, clock: clock, logs: logs}
	e.secret(opts.AnonKey, opts.ServiceRoleKey, sbPassword)
	if opts.JWTSecret != "" {
		e.secret(opts.JWTSecret)
	}
	t.Cleanup(func() { e.noSecrets(t, "log output", logs.String()) })
	return e
}

func (e *sbEnv) secret(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range s {
		if v != "" {
			e.secrets = append(e.secrets, v)
		}
	}
}

func (e *sbEnv) noSecrets(t *testing.T, what, text string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.6s…): %s", what, s, text)
		}
	}
}

// wantErr checks an error's kind and code and that it leaks nothing.
func (e *sbEnv) wantErr(t *testing.T, err error, kind echogen.Kind, code string) *echogen.Error {
	t.Helper()
	var de *echogen.Error
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want *echogen.Error kind %v code %q", err, err, kind, code)
	}
	if de.Kind != kind || de.Code != code {
		t.Errorf("error = kind %v code %q (%v); want kind %v code %q", de.Kind, de.Code, err, kind, code)
	}
	e.noSecrets(t, "error", err.Error())
	return de
}

func (e *sbEnv) addAda(t *testing.T, confirmed bool) gotruetest.User {
	t.Helper()
	u := gotruetest.User{Email: adaEmail, Password: sbPassword, UserMetadata: map[string]any{"full_name": "Ada Lovelace"},
		CreatedAt: sbStart.Add(-48 * time.Hour)}
	if confirmed {
		at := sbStart.Add(-47 * time.Hour)
		u.EmailConfirmedAt = &at
	}
	return e.gt.AddUser(u)
}

// session opens a stand-in session and authenticates its access token.
func (e *sbEnv) session(t *testing.T, userID string) (echogen.Principal, string) {
	t.Helper()
	access, refresh, _ := e.gt.NewSession(userID)
	e.secret(access, refresh)
	p, err := e.sb.Authenticate(context.Background(), access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return *p, access
}

func (e *sbEnv) lastReq(t *testing.T, ep gotruetest.Endpoint) gotruetest.Request {
	t.Helper()
	rs := e.gt.RequestsTo(ep)
	if len(rs) == 0 {
		t.Fatalf("no request to %s", ep)
	}
	return rs[len(rs)-1]
}

func emailCred(email, password string) echogen.Credentials {
	return echogen.Credentials{Method: echogen.MethodEmail, Email: email, Password: password}
}

func hs256(opts gotruetest.Options) gotruetest.Options {
	opts.JWTSecret = sbSecret
	return opts
}

// wantHeaders checks the credentials of a request.
func wantHeaders(t *testing.T, r gotruetest.Request, apikey, authorization string) {
	t.Helper()
	if got := r.Header.Get("apikey"); got != apikey {
		t.Errorf("%s apikey = %.8q…, want %.8q…", r.Endpoint, got, apikey)
	}
	if got := r.Header.Get("Authorization"); got != authorization {
		t.Errorf("%s Authorization = %.16q…, want %.16q…", r.Endpoint, got, authorization)
	}
}

// ---------------------------------------------------------------------------

func TestNewSupabaseRefusesBadConfig(t *testing.T) {
	good := SupabaseConfig{URL: "https://abc.supabase.co", AnonKey: sbAnon, ServiceRoleKey: sbService}
	clock := echogentest.NewClock(sbStart)
	for _, tc := range []struct {
		name string
		mut  func(*SupabaseConfig)
	}{
		{"no URL", func(c *SupabaseConfig) { c.URL = "" }},
		{"not http", func(c *SupabaseConfig) { c.URL = "ftp://abc.supabase.co" }},
		{"no host", func(c *SupabaseConfig) { c.URL = "https://" }},
		{"credentials in URL", func(c *SupabaseConfig) { c.URL = "https://user:" + sbService + "@abc.supabase.co" }},
		{"query in URL", func(c *SupabaseConfig) { c.URL = "https://abc.supabase.co?apikey=" + sbAnon }},
		{"no anon key", func(c *SupabaseConfig) { c.AnonKey = " " }},
		{"no service key", func(c *SupabaseConfig) { c.ServiceRoleKey = "" }},
		{"short secret", func(c *SupabaseConfig) { c.JWTSecret = "short-secret" }},
		{"negative timeout", func(c *SupabaseConfig) { c.Timeout = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mut(&cfg)
			_, err := NewSupabase(cfg, clock)
			if err == nil {
				t.Fatal("NewSupabase accepted the config")
			}
			for _, s := range []string{sbService, sbAnon, "short-secret"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
	if _, err := NewSupabase(good, nil); err == nil {
		t.Error("NewSupabase accepted a nil clock")
	}
	sb, err := NewSupabase(SupabaseConfig{URL: "https://abc.supabase.co/", AnonKey: sbAnon, ServiceRoleKey: sbService, JWTSecret: sbSecret}, clock)
	if err != nil {
		t.Fatal(err)
	}
	if sb.base != "https://abc.supabase.co/auth/v1" {
		t.Errorf("base = %q", sb.base)
	}
}

func TestSupabaseSignUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		confirm   bool
		seed      func(e *sbEnv)
		cred      echogen.Credentials
		wantBody  map[string]any // nil: no request expected
		wantID    *echogen.Identity
		wantToken bool
		kind      echogen.Kind
		code      string
	}{
		{
			name:      "email, autoconfirm, with name",
			cred:      echogen.Credentials{Method: echogen.MethodEmail, Email: " Ada@Example.com ", Password: sbPassword, FullName: " Ada Lovelace "},
			wantBody:  map[string]any{"email": adaEmail, "password": sbPassword, "data": map[string]any{"full_name": "Ada Lovelace"}},
			wantID:    &echogen.Identity{Email: adaEmail, FullName: "Ada Lovelace", CreatedAt: sbStart, LastSignInAt: &sbStart},
			wantToken: true,
		},
		{
			name:      "email, autoconfirm, no name",
			cred:      emailCred(adaEmail, sbPassword),
			wantBody:  map[string]any{"email": adaEmail, "password": sbPassword},
			wantID:    &echogen.Identity{Email: adaEmail, CreatedAt: sbStart, LastSignInAt: &sbStart},
			wantToken: true,
		},
		{
			name:      "phone, autoconfirm",
			cred:      echogen.Credentials{Method: echogen.MethodPhone, Phone: "+14155550123", Password: sbPassword},
			wantBody:  map[string]any{"phone": "+14155550123", "password": sbPassword},
			wantID:    &echogen.Identity{Phone: "+14155550123", CreatedAt: sbStart, LastSignInAt: &sbStart},
			wantToken: true,
		},
		{
			name:     "email confirmation on: identity and 403",
			confirm:  true,
			cred:     echogen.Credentials{Method: echogen.MethodEmail, Email: adaEmail, Password: sbPassword, FullName: "Ada Lovelace"},
			wantBody: map[string]any{"email": adaEmail, "password": sbPassword, "data": map[string]any{"full_name": "Ada Lovelace"}},
			wantID:   &echogen.Identity{Email: adaEmail, FullName: "Ada Lovelace", CreatedAt: sbStart},
			kind:     echogen.KindPermissionDenied, code: "email_confirmation_required",
		},
		{
			name:     "email confirmation on, address taken: no identity (Supabase's made-up user)",
			confirm:  true,
			seed:     func(e *sbEnv) { e.addAda(t, true) },
			cred:     emailCred(adaEmail, sbPassword),
			wantBody: map[string]any{"email": adaEmail, "password": sbPassword},
			kind:     echogen.KindPermissionDenied, code: "email_confirmation_required",
		},
		{
			name:     "autoconfirm, address taken",
			seed:     func(e *sbEnv) { e.addAda(t, true) },
			cred:     emailCred(adaEmail, sbPassword),
			wantBody: map[string]any{"email": adaEmail, "password": sbPassword},
			kind:     echogen.KindBadRequest, code: "user_already_exists",
		},
		{name: "short password, checked here", cred: emailCred(adaEmail, "short"), kind: echogen.KindInvalid, code: "validation_error"},
		{name: "no password", cred: emailCred(adaEmail, ""), kind: echogen.KindInvalid, code: "validation_error"},
		{name: "bad email", cred: emailCred("not-an-email", sbPassword), kind: echogen.KindInvalid, code: "validation_error"},
		{name: "google", cred: echogen.Credentials{Method: echogen.MethodGoogle}, kind: echogen.KindNotImplemented, code: "method_not_supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSBEnv(t, hs256(gotruetest.Options{ConfirmEmail: tc.confirm}))
			if tc.seed != nil {
				tc.seed(e)
			}
			id, tokens, err := e.sb.SignUp(context.Background(), tc.cred)
			if tokens != nil {
				e.secret(tokens.AccessToken, tokens.RefreshToken)
			}
			if tc.code != "" {
				e.wantErr(t, err, tc.kind, tc.code)
			} else if err != nil {
				t.Fatalf("SignUp: %v", err)
			}
			reqs := e.gt.RequestsTo(gotruetest.Signup)
			if tc.wantBody == nil {
				if len(reqs) != 0 {
					t.Errorf("%d sign-up requests, want none", len(reqs))
				}
				return
			}
			r := e.lastReq(t, gotruetest.Signup)
			if diff := cmp.Diff(tc.wantBody, r.Body); diff != "" {
				t.Errorf("request body (-want +got):\n%s", diff)
			}
			wantHeaders(t, r, sbAnon, "")
			if (tokens != nil) != tc.wantToken {
				t.Fatalf("tokens = %v, want tokens %v", tokens, tc.wantToken)
			}
			if tc.wantID == nil {
				if id != nil {
					t.Errorf("identity = %+v, want nil", id)
				}
				return
			}
			if id == nil {
				t.Fatal("no identity")
			}
			u, ok := e.gt.User(id.UserID)
			if !ok {
				t.Fatalf("identity %s is not a stand-in user", id.UserID)
			}
			want := *tc.wantID
			want.UserID, want.EmailConfirmedAt = u.ID, u.EmailConfirmedAt
			if diff := cmp.Diff(want, *id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if tokens != nil {
				if tokens.ExpiresIn != time.Hour || tokens.RefreshToken == "" {
					t.Errorf("tokens: expires in %v, has refresh token %v", tokens.ExpiresIn, tokens.RefreshToken != "")
				}
				p, err := e.sb.Authenticate(context.Background(), tokens.AccessToken)
				if err != nil || p.UserID != u.ID {
					t.Errorf("Authenticate(new access token) = %+v, %v", p, err)
				}
			}
		})
	}
}

// gotrueFailures are GoTrue error answers and what every operation that is
// not special-cased makes of them.
var gotrueFailures = []struct {
	name   string
	status int
	body   string
	header http.Header
	kind   echogen.Kind
	code   string
	msg    string
}{
	{"user already registered", 422, gotruetest.BodyUserAlreadyExists, nil, echogen.KindBadRequest, "user_already_exists", "User already registered"},
	{"old 400 user already registered", 400, `{"code":400,"msg":"User already registered"}`, nil, echogen.KindBadRequest, "user_already_exists", "User already registered"},
	{"email exists", 422, `{"code":422,"error_code":"email_exists","msg":"A user with this email address has already been registered"}`, nil, echogen.KindBadRequest, "user_already_exists", "User already registered"},
	{"weak password", 422, gotruetest.BodyWeakPassword, nil, echogen.KindInvalid, "validation_error", "Password should be at least 6 characters."},
	{"signups disabled", 403, gotruetest.BodySignupDisabled, nil, echogen.KindPermissionDenied, "signup_disabled", "Signups not allowed for this instance"},
	{"email provider disabled", 400, `{"code":400,"error_code":"email_provider_disabled","msg":"Email signups are disabled"}`, nil, echogen.KindNotImplemented, "method_not_supported", "Email signups are disabled"},
	{"invalid email", 400, `{"code":400,"error_code":"email_address_invalid","msg":"Email address \"x@y.z\" is invalid"}`, nil, echogen.KindInvalid, "validation_error", "value is not a valid email address"},
	{"banned", 400, `{"code":400,"error_code":"user_banned","msg":"User is banned"}`, nil, echogen.KindPermissionDenied, "user_banned", "User is banned"},
	{"rate limited with Retry-After", 429, gotruetest.BodyEmailRateLimit, http.Header{"Retry-After": {"17"}}, echogen.KindRateLimited, "rate_limited", "email rate limit exceeded"},
	{"unknown 4xx keeps the message", 400, `{"code":400,"error_code":"email_address_not_authorized","msg":"Email address not authorized"}`, nil, echogen.KindBadRequest, "email_address_not_authorized", "Email address not authorized"},
	{"unknown 4xx without a code", 409, `{"message":"conflicting request"}`, nil, echogen.KindBadRequest, "auth_error", "conflicting request"},
	{"2024-01-01 shape", 422, `{"code":"user_already_exists","message":"User already registered"}`, nil, echogen.KindBadRequest, "user_already_exists", "User already registered"},
	{"5xx", 500, gotruetest.BodyUnexpectedFailure, nil, echogen.KindUnavailable, "auth_unavailable", "The sign-in service is unavailable; try again shortly"},
	{"502 from the gateway, not JSON", 502, `<html>bad gateway</html>`, nil, echogen.KindUnavailable, "auth_unavailable", "The sign-in service is unavailable; try again shortly"},
	{"gateway refuses the apikey", 401, gotruetest.BodyInvalidAPIKey, nil, echogen.KindInternal, "auth_misconfigured", "Supabase Auth refused the API key"},
}

func TestSupabaseSignUpErrors(t *testing.T) {
	for _, tc := range gotrueFailures {
		t.Run(tc.name, func(t *testing.T) {
			e := newSBEnv(t, hs256(gotruetest.Options{}))
			e.gt.Fail(gotruetest.Signup, gotruetest.Failure{Status: tc.status, Body: tc.body, Header: tc.header})
			id, tokens, err := e.sb.SignUp(context.Background(), emailCred(adaEmail, sbPassword))
			if id != nil || tokens != nil {
				t.Errorf("SignUp = %v, %v; want nothing", id, tokens)
			}
			de := e.wantErr(t, err, tc.kind, tc.code)
			if de.Message != tc.msg {
				t.Errorf("message = %q, want %q", de.Message, tc.msg)
			}
			if tc.kind == echogen.KindRateLimited && de.RetryAfter != 17*time.Second {
				t.Errorf("RetryAfter = %v, want 17s", de.RetryAfter)
			}
		})
	}
}

func TestSupabaseSignIn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		confirm bool // ada's email is confirmed
		cred    echogen.Credentials
		fail    *gotruetest.Failure
		kind    echogen.Kind
		code    string
		msg     string
	}{
		{name: "ok", confirm: true, cred: emailCred("ADA@example.com", sbPassword)},
		{name: "wrong password", confirm: true, cred: emailCred(adaEmail, "wrong password"), kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
		{name: "unknown account", confirm: true, cred: emailCred("bob@example.com", sbPassword), kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
		{name: "email not confirmed", cred: emailCred(adaEmail, sbPassword), kind: echogen.KindUnauthenticated, code: "email_not_confirmed", msg: "Email not confirmed"},
		{name: "OAuth shape", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 400, Body: gotruetest.BodyOAuthInvalidLogin},
			kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
		{name: "2024-01-01 shape", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 400, Body: gotruetest.BodyV2024InvalidCredentials},
			kind: echogen.KindUnauthenticated, code: "invalid_credentials", msg: "Invalid login credentials"},
		{name: "old email not confirmed", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 400, Body: `{"error":"invalid_grant","error_description":"Email not confirmed"}`},
			kind: echogen.KindUnauthenticated, code: "email_not_confirmed", msg: "Email not confirmed"},
		{name: "other 400 is a 401 with Supabase's message", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 400, Body: `{"error":"invalid_grant","error_description":"Something else"}`},
			kind: echogen.KindUnauthenticated, code: "sign_in_failed", msg: "Something else"},
		{name: "rate limited", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 429, Body: gotruetest.BodyRequestRateLimit},
			kind: echogen.KindRateLimited, code: "rate_limited", msg: "Request rate limit reached"},
		{name: "outage", confirm: true, cred: emailCred(adaEmail, sbPassword), fail: &gotruetest.Failure{Status: 503, Body: `{"message":"upstream"}`},
			kind: echogen.KindUnavailable, code: "auth_unavailable", msg: "The sign-in service is unavailable; try again shortly"},
		{name: "no password", cred: emailCred(adaEmail, ""), kind: echogen.KindInvalid, code: "validation_error", msg: "Field required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSBEnv(t, hs256(gotruetest.Options{}))
			ada := e.addAda(t, tc.confirm)
			if tc.fail != nil {
				e.gt.Fail(gotruetest.TokenPassword, *tc.fail)
			}
			id, tokens, err := e.sb.SignIn(context.Background(), tc.cred)
			if tokens != nil {
				e.secret(tokens.AccessToken, tokens.RefreshToken)
			}
			if tc.code != "" {
				de := e.wantErr(t, err, tc.kind, tc.code)
				if de.Message != tc.msg {
					t.Errorf("message = %q, want %q", de.Message, tc.msg)
				}
				if id != nil || tokens != nil {
					t.Errorf("SignIn = %v, %v; want nothing", id, tokens)
				}
			} else {
				if err != nil {
					t.Fatalf("SignIn: %v", err)
				}
				want := echogen.Identity{UserID: ada.ID, Email: adaEmail, FullName: "Ada Lovelace", CreatedAt: ada.CreatedAt, LastSignInAt: &sbStart, EmailConfirmedAt: ada.EmailConfirmedAt}
				if diff := cmp.Diff(want, *id); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				if tokens.AccessToken == "" || tokens.RefreshToken == "" || tokens.ExpiresIn != time.Hour {
					t.Errorf("tokens = %+v", tokens)
				}
			}
			if tc.code == "validation_error" {
				if n := len(e.gt.RequestsTo(gotruetest.TokenPassword)); n != 0 {
					t.Errorf("%d requests for a request refused here", n)
				}
				return
			}
			r := e.lastReq(t, gotruetest.TokenPassword)
			wantBody := map[string]any{"email": adaEmail, "password": tc.cred.Password}
			if tc.cred.Email == "bob@example.com" {
				wantBody["email"] = "bob@example.com"
			}
			if diff := cmp.Diff(wantBody, r.Body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(url.Values{"grant_type": {"password"}}, r.Query); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			wantHeaders(t, r, sbAnon, "")
		})
	}
}

func TestSupabaseSignInPhone(t *testing.T) {
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	at := sbStart
	u := e.gt.AddUser(gotruetest.User{Phone: "+14155550123", Password: sbPassword, PhoneConfirmedAt: &at})
	id, tokens, err := e.sb.SignIn(context.Background(), echogen.Credentials{Method: echogen.MethodPhone, Phone: "+14155550123", Password: sbPassword})
	if err != nil {
		t.Fatal(err)
	}
	e.secret(tokens.AccessToken, tokens.RefreshToken)
	if id.UserID != u.ID || id.Phone != "+14155550123" {
		t.Errorf("identity = %+v", id)
	}
	if diff := cmp.Diff(map[string]any{"phone": "+14155550123", "password": sbPassword}, e.lastReq(t, gotruetest.TokenPassword).Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestSupabaseRefresh(t *testing.T) {
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	ada := e.addAda(t, true)
	_, refresh, _ := e.gt.NewSession(ada.ID)
	e.secret(refresh)
	ctx := context.Background()

	id, tokens, err := e.sb.Refresh(ctx, refresh, echogen.ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	e.secret(tokens.AccessToken, tokens.RefreshToken)
	if id.UserID != ada.ID || tokens.RefreshToken == refresh || tokens.AccessToken == "" {
		t.Errorf("Refresh = %+v, rotated %v", id, tokens.RefreshToken != refresh)
	}
	r := e.lastReq(t, gotruetest.TokenRefresh)
	if diff := cmp.Diff(map[string]any{"refresh_token": refresh}, r.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(url.Values{"grant_type": {"refresh_token"}}, r.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	wantHeaders(t, r, sbAnon, "")

	// The old token again: Supabase says Already Used.
	_, _, err = e.sb.Refresh(ctx, refresh, echogen.ClientInfo{})
	e.wantErr(t, err, echogen.KindUnauthenticated, "refresh_token_reused")

	for _, tc := range []struct {
		name  string
		token string
		fail  *gotruetest.Failure
		kind  echogen.Kind
		code  string
	}{
		{name: "unknown token", token: "nope-nope", kind: echogen.KindUnauthenticated, code: "invalid_refresh_token"},
		{name: "empty token, no request", token: " ", kind: echogen.KindUnauthenticated, code: "invalid_refresh_token"},
		{name: "OAuth shape", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 400, Body: gotruetest.BodyOAuthRefreshUnknown}, kind: echogen.KindUnauthenticated, code: "invalid_refresh_token"},
		{name: "401", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 401, Body: `{"code":401,"error_code":"bad_jwt","msg":"invalid"}`}, kind: echogen.KindUnauthenticated, code: "invalid_refresh_token"},
		{name: "session expired", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 400, Body: `{"code":400,"error_code":"session_expired","msg":"Invalid Refresh Token: Session Expired"}`}, kind: echogen.KindUnauthenticated, code: "session_expired"},
		{name: "old session expired", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 400, Body: `{"error":"invalid_grant","error_description":"Invalid Refresh Token: Session Expired (Inactivity)"}`}, kind: echogen.KindUnauthenticated, code: "session_expired"},
		{name: "rate limited", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 429, Body: gotruetest.BodyRequestRateLimit}, kind: echogen.KindRateLimited, code: "rate_limited"},
		{name: "outage", token: tokens.RefreshToken, fail: &gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure}, kind: echogen.KindUnavailable, code: "auth_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.gt.RequestsTo(gotruetest.TokenRefresh))
			if tc.fail != nil {
				e.gt.Fail(gotruetest.TokenRefresh, *tc.fail)
			}
			id, tokens, err := e.sb.Refresh(ctx, tc.token, echogen.ClientInfo{})
			if id != nil || tokens != nil {
				t.Errorf("Refresh = %v, %v", id, tokens)
			}
			e.wantErr(t, err, tc.kind, tc.code)
			after := len(e.gt.RequestsTo(gotruetest.TokenRefresh))
			if strings.TrimSpace(tc.token) == "" && after != before {
				t.Error("an empty refresh token was sent")
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Access tokens

func TestSupabaseAuthenticateAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			opts := gotruetest.Options{Algorithm: alg}
			if alg == "HS256" {
				opts.JWTSecret = sbSecret
			}
			e := newSBEnv(t, opts)
			ada := e.addAda(t, true)
			access, refresh, sid := e.gt.NewSession(ada.ID)
			e.secret(access, refresh)
			p, err := e.sb.Authenticate(context.Background(), access)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			want := echogen.Principal{UserID: ada.ID, SessionID: sid, Email: adaEmail, Role: "authenticated", AccessToken: echogen.BearerToken(access)}
			if diff := cmp.Diff(want, *p); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			// Local verification: no call to Supabase Auth but the key set.
			for _, r := range e.gt.Requests() {
				if r.Endpoint != gotruetest.JWKS {
					t.Errorf("Authenticate called %s", r.Endpoint)
				}
			}
			wantFetches := 1
			if alg == "HS256" {
				wantFetches = 0
			}
			if n := len(e.gt.RequestsTo(gotruetest.JWKS)); n != wantFetches {
				t.Errorf("%d key set fetches, want %d", n, wantFetches)
			}
			for i := 0; i < 3; i++ { // cached
				if _, err := e.sb.Authenticate(context.Background(), access); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(e.gt.RequestsTo(gotruetest.JWKS)); n != wantFetches {
				t.Errorf("%d key set fetches after reuse, want %d", n, wantFetches)
			}
			if wantFetches == 1 {
				wantHeaders(t, e.lastReq(t, gotruetest.JWKS), sbAnon, "")
			}
		})
	}
}

// b64 encodes a JWT segment.
func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSupabaseAuthenticateRefuses(t *testing.T) {
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	type mode struct {
		name   string
		opts   gotruetest.Options
		secret bool // the backend is given the JWT secret
	}
	modes := []mode{
		{"HS256", gotruetest.Options{JWTSecret: sbSecret}, true},
		{"ES256 without secret", gotruetest.Options{Algorithm: "ES256"}, false},
		{"ES256 with secret", gotruetest.Options{Algorithm: "ES256", JWTSecret: sbSecret}, true},
		{"RS256", gotruetest.Options{Algorithm: "RS256"}, false},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := newSBEnv(t, m.opts, func(c *SupabaseConfig) {
				if !m.secret {
					c.JWTSecret = ""
				}
			})
			ada := e.addAda(t, true)
			access, refresh, sid := e.gt.NewSession(ada.ID)
			e.secret(access, refresh)
			claims := func(mut func(map[string]any)) map[string]any {
				c := e.gt.Claims(ada.ID, sid)
				if mut != nil {
					mut(c)
				}
				return c
			}
			sign := func(mut func(map[string]any)) string { return e.gt.Sign(claims(mut)) }
			parts := strings.Split(access, ".")

			hmacWith := func(key []byte, header map[string]any) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims(nil)))
				for k, v := range header {
					tok.Header[k] = v
				}
				s, err := tok.SignedString(key)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			var pubDER, pubPEM []byte
			if pk := e.gt.PublicKey(); pk != nil {
				pubDER, _ = x509.MarshalPKIXPublicKey(pk)
				pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
			}

			cases := []struct {
				name  string
				token func() string
				code  string
				prep  func()
			}{
				{name: "empty", token: func() string { return "" }, code: "invalid_token"},
				{name: "garbage", token: func() string { return "not.a.jwt" }, code: "invalid_token"},
				{name: "oversized", token: func() string { return strings.Repeat("a", maxAccessTokenLen+1) }, code: "invalid_token"},
				{name: "wrong audience", token: func() string { return sign(func(c map[string]any) { c["aud"] = "other" }) }, code: "invalid_token"},
				{name: "no audience", token: func() string { return sign(func(c map[string]any) { delete(c, "aud") }) }, code: "invalid_token"},
				{name: "role anon", token: func() string { return sign(func(c map[string]any) { c["role"] = "anon" }) }, code: "invalid_token"},
				{name: "role service_role", token: func() string { return sign(func(c map[string]any) { c["role"] = "service_role" }) }, code: "invalid_token"},
				{name: "sub not a UUID", token: func() string { return sign(func(c map[string]any) { c["sub"] = "admin" }) }, code: "invalid_token"},
				{name: "no exp", token: func() string { return sign(func(c map[string]any) { delete(c, "exp") }) }, code: "invalid_token"},
				{name: "expired", token: func() string {
					return sign(func(c map[string]any) { c["exp"] = sbStart.Add(-time.Second).Unix() })
				}, code: "token_expired"},
				{name: "not yet valid", token: func() string {
					return sign(func(c map[string]any) { c["nbf"] = sbStart.Add(time.Hour).Unix() })
				}, code: "invalid_token"},
				{name: "tampered payload", token: func() string {
					c := claims(nil)
					c["sub"] = echogen.NewID()
					return parts[0] + "." + b64(c) + "." + parts[2]
				}, code: "invalid_token"},
				{name: "tampered signature", token: func() string {
					sig := []byte(parts[2])
					sig[5] ^= 1
					return parts[0] + "." + parts[1] + "." + string(sig)
				}, code: "invalid_token"},
				{name: "alg none", token: func() string {
					return b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."
				}, code: "invalid_token"},
				{name: "alg None with a signature", token: func() string {
					return b64(map[string]any{"alg": "None", "typ": "JWT"}) + "." + parts[1] + "." + parts[2]
				}, code: "invalid_token"},
				{name: "HS512", token: func() string {
					tok := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims(claims(nil)))
					s, _ := tok.SignedString([]byte(sbSecret))
					return s
				}, code: "invalid_token"},
				{name: "HS256 with another secret", token: func() string {
					return hmacWith([]byte("another-secret-that-is-at-least-32-bytes"), nil)
				}, code: "invalid_token"},
				{name: "foreign ES256 key, unknown kid", token: func() string {
					tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims(nil)))
					tok.Header["kid"] = "made-up"
					s, _ := tok.SignedString(foreign)
					return s
				}, code: "invalid_token"},
			}
			if e.gt.KeyID() != "" {
				kid := e.gt.KeyID()
				cases = append(cases,
					struct {
						name  string
						token func() string
						code  string
						prep  func()
					}{name: "HS256 keyed with the public key (DER), kid of the real key", token: func() string {
						return hmacWith(pubDER, map[string]any{"kid": kid})
					}, code: "invalid_token"},
					struct {
						name  string
						token func() string
						code  string
						prep  func()
					}{name: "HS256 keyed with the public key (PEM), kid of the real key", token: func() string {
						return hmacWith(pubPEM, map[string]any{"kid": kid})
					}, code: "invalid_token"},
					struct {
						name  string
						token func() string
						code  string
						prep  func()
					}{name: "foreign key under the real kid", token: func() string {
						tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims(nil)))
						tok.Header["kid"] = kid
						s, _ := tok.SignedString(foreign)
						return s
					}, code: "invalid_token"},
					struct {
						name  string
						token func() string
						code  string
						prep  func()
					}{name: "no kid", token: func() string {
						tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims(nil)))
						s, _ := tok.SignedString(foreign)
						return s
					}, code: "invalid_token"},
				)
			}
			if !m.secret {
				cases = append(cases, struct {
					name  string
					token func() string
					code  string
					prep  func()
				}{name: "HS256 with the project secret, but none configured", token: func() string {
					return hmacWith([]byte(sbSecret), nil)
				}, code: "invalid_token"})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tok := tc.token()
					p, err := e.sb.Authenticate(context.Background(), tok)
					if p != nil {
						t.Fatalf("Authenticate accepted it: %+v", p)
					}
					de := e.wantErr(t, err, echogen.KindUnauthenticated, tc.code)
					if de.Message != "Invalid or expired token" {
						t.Errorf("message = %q", de.Message)
					}
				})
			}
			// The genuine token still works, and expires with the clock.
			if _, err := e.sb.Authenticate(context.Background(), access); err != nil {
				t.Fatalf("genuine token: %v", err)
			}
			e.clock.Advance(time.Hour)
			_, err := e.sb.Authenticate(context.Background(), access)
			e.wantErr(t, err, echogen.KindUnauthenticated, "token_expired")
		})
	}
}

func TestSupabaseKeyRotationAndThrottle(t *testing.T) {
	e := newSBEnv(t, gotruetest.Options{Algorithm: "ES256"})
	ada := e.addAda(t, true)
	ctx := context.Background()
	fetches := func() int { return len(e.gt.RequestsTo(gotruetest.JWKS)) }
	access1, r1, sid := e.gt.NewSession(ada.ID)
	e.secret(access1, r1)
	if _, err := e.sb.Authenticate(ctx, access1); err != nil {
		t.Fatal(err)
	}
	if fetches() != 1 {
		t.Fatalf("%d fetches, want 1", fetches())
	}
	kid1 := e.gt.KeyID()

	// Supabase rotates: tokens now carry a kid we have not seen. Right
	// after a fetch the refetch is throttled…
	kid2 := e.gt.RotateKey()
	access2 := e.gt.Sign(e.gt.Claims(ada.ID, sid))
	e.secret(access2)
	_, err := e.sb.Authenticate(ctx, access2)
	e.wantErr(t, err, echogen.KindUnauthenticated, "invalid_token")
	if fetches() != 1 {
		t.Errorf("%d fetches within the throttle window, want 1", fetches())
	}
	// …and once the window has passed, the unknown kid triggers one.
	e.clock.Advance(jwksMinRefetch)
	if _, err := e.sb.Authenticate(ctx, access2); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if fetches() != 2 {
		t.Errorf("%d fetches, want 2", fetches())
	}
	// Tokens of the old key still verify while it is published.
	if _, err := e.sb.Authenticate(ctx, access1); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}

	// A flood of made-up kids costs one fetch per window.
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(e.gt.Claims(ada.ID, sid)))
		tok.Header["kid"] = kid
		s, _ := tok.SignedString(foreign)
		return s
	}
	e.clock.Advance(jwksMinRefetch)
	for i := range 20 {
		_, err := e.sb.Authenticate(ctx, forged(fmt.Sprintf("kid-%d", i)))
		e.wantErr(t, err, echogen.KindUnauthenticated, "invalid_token")
	}
	if fetches() != 3 {
		t.Errorf("%d fetches after a flood, want 3", fetches())
	}
	var wg sync.WaitGroup
	e.clock.Advance(jwksMinRefetch)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.sb.Authenticate(ctx, forged(fmt.Sprintf("parallel-%d", i)))
			if echogen.ErrorKind(err) != echogen.KindUnauthenticated {
				t.Errorf("forged token: %v", err)
			}
		}()
	}
	wg.Wait()
	if fetches() != 4 {
		t.Errorf("%d fetches after a parallel flood, want 4", fetches())
	}

	// The old key is withdrawn; once the cached set is old, it is fetched
	// again and the old key's tokens stop verifying.
	e.gt.WithdrawKey(kid1)
	if _, err := e.sb.Authenticate(ctx, access1); err != nil {
		t.Fatalf("before the set is stale: %v", err)
	}
	e.clock.Advance(jwksMaxAge)
	_, err = e.sb.Authenticate(ctx, access1)
	e.wantErr(t, err, echogen.KindUnauthenticated, "invalid_token")
	if _, err := e.sb.Authenticate(ctx, access2); err != nil {
		t.Fatalf("token of %s: %v", kid2, err)
	}
}

func TestSupabaseKeySetUnavailable(t *testing.T) {
	e := newSBEnv(t, gotruetest.Options{Algorithm: "RS256"})
	ada := e.addAda(t, true)
	access, refresh, _ := e.gt.NewSession(ada.ID)
	e.secret(access, refresh)
	ctx := context.Background()
	e.gt.Fail(gotruetest.JWKS, gotruetest.Failure{Status: 503, Body: `{"message":"down"}`})
	_, err := e.sb.Authenticate(ctx, access)
	e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
	_, err = e.sb.Authenticate(ctx, access) // throttled: no new fetch, same answer
	e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
	if n := len(e.gt.RequestsTo(gotruetest.JWKS)); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	e.clock.Advance(jwksMinRefetch)
	if _, err := e.sb.Authenticate(ctx, access); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if !strings.Contains(e.logs.String(), "fetch Supabase Auth signing keys") {
		t.Errorf("the failed fetch was not logged: %s", e.logs.String())
	}
}

// ---------------------------------------------------------------------------
// Identity, sessions

func TestSupabaseIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, serviceKey, wantAuthz string
	}{
		{"legacy service_role JWT", sbService, "Bearer " + sbService},
		{"new secret key", "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSBEnv(t, hs256(gotruetest.Options{ServiceRoleKey: tc.serviceKey}))
			ada := e.addAda(t, true)
			p, _ := e.session(t, ada.ID)
			ctx := context.Background()
			id, err := e.sb.Identity(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := e.gt.User(ada.ID)
			want := echogen.Identity{UserID: ada.ID, Email: adaEmail, FullName: "Ada Lovelace", CreatedAt: ada.CreatedAt, LastSignInAt: u.LastSignInAt, EmailConfirmedAt: u.EmailConfirmedAt}
			if diff := cmp.Diff(want, *id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			r := e.lastReq(t, gotruetest.AdminGetUser)
			if r.Path != "/admin/users/"+ada.ID {
				t.Errorf("path = %q", r.Path)
			}
			wantHeaders(t, r, tc.serviceKey, tc.wantAuthz)

			// Cached for 30 seconds, then read again.
			id.Email = "changed by the caller"
			for range 3 {
				again, err := e.sb.Identity(ctx, p)
				if err != nil || again.Email != adaEmail {
					t.Fatalf("cached Identity = %+v, %v", again, err)
				}
			}
			if n := len(e.gt.RequestsTo(gotruetest.AdminGetUser)); n != 1 {
				t.Errorf("%d admin reads within the cache time, want 1", n)
			}
			e.clock.Advance(identityCacheTTL)
			if _, err := e.sb.Identity(ctx, p); err != nil {
				t.Fatal(err)
			}
			if n := len(e.gt.RequestsTo(gotruetest.AdminGetUser)); n != 2 {
				t.Errorf("%d admin reads after the cache time, want 2", n)
			}
		})
	}
}

func TestSupabaseIdentityAfterSignInIsCached(t *testing.T) {
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	e.addAda(t, true)
	_, tokens, err := e.sb.SignIn(context.Background(), emailCred(adaEmail, sbPassword))
	if err != nil {
		t.Fatal(err)
	}
	e.secret(tokens.AccessToken, tokens.RefreshToken)
	p, err := e.sb.Authenticate(context.Background(), tokens.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.Identity(context.Background(), *p); err != nil {
		t.Fatal(err)
	}
	if n := len(e.gt.RequestsTo(gotruetest.AdminGetUser)); n != 0 {
		t.Errorf("/auth/me right after sign-in read the user %d times, want 0", n)
	}
}

func TestSupabaseIdentityErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail gotruetest.Failure
		kind echogen.Kind
		code string
	}{
		{"not found", gotruetest.Failure{Status: 404, Body: gotruetest.BodyUserNotFound}, echogen.KindNotFound, "not_found"},
		{"service key refused", gotruetest.Failure{Status: 403, Body: gotruetest.BodyNotAdmin}, echogen.KindInternal, "auth_misconfigured"},
		{"service key refused by the gateway", gotruetest.Failure{Status: 401, Body: gotruetest.BodyInvalidAPIKey}, echogen.KindInternal, "auth_misconfigured"},
		{"outage", gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure}, echogen.KindUnavailable, "auth_unavailable"},
		{"rate limited", gotruetest.Failure{Status: 429, Body: gotruetest.BodyRequestRateLimit}, echogen.KindRateLimited, "rate_limited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSBEnv(t, hs256(gotruetest.Options{}))
			ada := e.addAda(t, true)
			p, _ := e.session(t, ada.ID)
			e.gt.Fail(gotruetest.AdminGetUser, tc.fail)
			id, err := e.sb.Identity(context.Background(), p)
			if id != nil {
				t.Errorf("identity = %+v", id)
			}
			de := e.wantErr(t, err, tc.kind, tc.code)
			if tc.kind == echogen.KindNotFound && de.Message != "User not found" {
				t.Errorf("message = %q", de.Message)
			}
		})
	}
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	_, err := e.sb.Identity(context.Background(), echogen.Principal{UserID: "../../etc"})
	e.wantErr(t, err, echogen.KindNotFound, "not_found")
	if n := len(e.gt.Requests()); n != 0 {
		t.Errorf("a malformed user id made %d requests", n)
	}
}

func TestSupabaseSignOut(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		scope     echogen.SignOutScope
		wantQuery string
		alive     []int // of the three sessions, 0 being the caller's
		callerOK  bool  // the caller's token still authenticates here
	}{
		{"", "local", []int{1, 2}, false},
		{echogen.SignOutLocal, "local", []int{1, 2}, false},
		{echogen.SignOutOthers, "others", []int{0}, true},
		{echogen.SignOutGlobal, "global", nil, false},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			e := newSBEnv(t, gotruetest.Options{Algorithm: "ES256"})
			ada := e.addAda(t, true)
			var sids []string
			var principals []echogen.Principal
			var tokens []string
			for range 3 {
				p, access := e.session(t, ada.ID)
				sids = append(sids, p.SessionID)
				principals = append(principals, p)
				tokens = append(tokens, access)
			}
			if err := e.sb.SignOut(ctx, principals[0], tc.scope); err != nil {
				t.Fatalf("SignOut: %v", err)
			}
			r := e.lastReq(t, gotruetest.Logout)
			if diff := cmp.Diff(url.Values{"scope": {tc.wantQuery}}, r.Query); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if r.Body != nil {
				t.Errorf("body = %v, want none", r.Body)
			}
			wantHeaders(t, r, sbAnon, "Bearer "+tokens[0])
			var alive []int
			for i, sid := range sids {
				if e.gt.SessionActive(sid) {
					alive = append(alive, i)
				}
			}
			if diff := cmp.Diff(tc.alive, alive); diff != "" {
				t.Errorf("sessions alive (-want +got):\n%s", diff)
			}
			_, err := e.sb.Authenticate(ctx, tokens[0])
			if tc.callerOK {
				if err != nil {
					t.Errorf("caller's token after sign-out of the others: %v", err)
				}
			} else {
				e.wantErr(t, err, echogen.KindUnauthenticated, "session_revoked")
			}
			// Signing out again is not an error (GoTrue: session not found).
			if err := e.sb.SignOut(ctx, principals[0], tc.scope); err != nil {
				t.Errorf("second SignOut: %v", err)
			}
		})
	}
}

func TestSupabaseSignOutErrors(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	ada := e.addAda(t, true)
	p, _ := e.session(t, ada.ID)

	err := e.sb.SignOut(ctx, p, "everything")
	e.wantErr(t, err, echogen.KindInvalid, "validation_error")
	if n := len(e.gt.RequestsTo(gotruetest.Logout)); n != 0 {
		t.Errorf("a bad scope made %d requests", n)
	}
	for _, f := range []gotruetest.Failure{
		{Status: 403, Body: gotruetest.BodyBadJWT},
		{Status: 401, Body: `{"code":401,"error_code":"no_authorization","msg":"This endpoint requires a Bearer token"}`},
		{Status: 404, Body: gotruetest.BodyUserNotFound},
	} {
		e.gt.Fail(gotruetest.Logout, f)
		if err := e.sb.SignOut(ctx, p, echogen.SignOutGlobal); err != nil {
			t.Errorf("SignOut with Supabase answering %d: %v", f.Status, err)
		}
	}
	p2, _ := e.session(t, ada.ID)
	e.gt.Fail(gotruetest.Logout, gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure})
	err = e.sb.SignOut(ctx, p2, echogen.SignOutLocal)
	e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
	if _, err := e.sb.Authenticate(ctx, string(p2.AccessToken)); err != nil {
		t.Errorf("a failed sign-out revoked the session here: %v", err)
	}
	if err := e.sb.SignOut(ctx, echogen.Principal{UserID: ada.ID, SessionID: p2.SessionID}, echogen.SignOutLocal); err == nil {
		t.Error("SignOut without the access token succeeded")
	}
}

func TestSupabaseSessions(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	ada := e.addAda(t, true)
	e.clock.Advance(10 * time.Minute)
	issued := e.clock.Now()
	p, _ := e.session(t, ada.ID)
	e.clock.Advance(5 * time.Minute)
	got, err := e.sb.Sessions(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	want := []echogen.Session{{ID: p.SessionID, UserID: ada.ID, CreatedAt: issued, LastUsedAt: now, ExpiresAt: issued.Add(time.Hour)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if n := len(e.gt.Requests()); n != 0 {
		t.Errorf("Sessions made %d requests", n)
	}

	err = e.sb.RevokeSession(ctx, p, echogen.NewID())
	de := e.wantErr(t, err, echogen.KindNotImplemented, "sessions_managed_by_supabase")
	if !strings.Contains(de.Message, "Supabase") {
		t.Errorf("message = %q", de.Message)
	}
	if err := e.sb.RevokeSession(ctx, p, p.SessionID); err != nil {
		t.Fatalf("RevokeSession(own): %v", err)
	}
	if e.gt.SessionActive(p.SessionID) {
		t.Error("own session still active")
	}
	got, err = e.sb.Sessions(ctx, echogen.Principal{UserID: ada.ID})
	if err != nil || len(got) != 0 {
		t.Errorf("Sessions without a session id = %v, %v", got, err)
	}
}

// ---------------------------------------------------------------------------
// Mail flows

func TestSupabaseForgotPassword(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	e.addAda(t, true)

	if err := e.sb.ForgotPassword(ctx, " ADA@example.com "); err != nil {
		t.Fatal(err)
	}
	r := e.lastReq(t, gotruetest.Recover)
	if diff := cmp.Diff(map[string]any{"email": adaEmail}, r.Body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	wantHeaders(t, r, sbAnon, "")
	if _, ok := e.gt.LastMail("recovery", adaEmail); !ok {
		t.Error("no recovery mail")
	}
	if err := e.sb.ForgotPassword(ctx, "nobody@example.com"); err != nil {
		t.Errorf("unknown address: %v", err)
	}

	for _, tc := range []struct {
		name string
		fail gotruetest.Failure
	}{
		{"per-address rate limit", gotruetest.Failure{Status: 429, Body: `{"code":429,"error_code":"over_email_send_rate_limit","msg":"For security purposes, you can only request this after 42 seconds."}`}},
		{"email rate limit", gotruetest.Failure{Status: 429, Body: gotruetest.BodyEmailRateLimit}},
		{"user not found", gotruetest.Failure{Status: 404, Body: gotruetest.BodyUserNotFound}},
		{"not authorized address", gotruetest.Failure{Status: 400, Body: `{"code":400,"error_code":"email_address_not_authorized","msg":"Email address not authorized"}`}},
	} {
		t.Run(tc.name+" is silent", func(t *testing.T) {
			e.gt.Fail(gotruetest.Recover, tc.fail)
			if err := e.sb.ForgotPassword(ctx, adaEmail); err != nil {
				t.Errorf("ForgotPassword: %v", err)
			}
		})
	}
	e.gt.Fail(gotruetest.Recover, gotruetest.Failure{Status: 400, Body: `{"code":400,"error_code":"email_address_invalid","msg":"Email address \"a@b.c\" is invalid"}`})
	e.wantErr(t, e.sb.ForgotPassword(ctx, adaEmail), echogen.KindInvalid, "validation_error")
	e.gt.Fail(gotruetest.Recover, gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure})
	e.wantErr(t, e.sb.ForgotPassword(ctx, adaEmail), echogen.KindUnavailable, "auth_unavailable")
	e.gt.Fail(gotruetest.Recover, gotruetest.Failure{Status: 401, Body: gotruetest.BodyInvalidAPIKey})
	e.wantErr(t, e.sb.ForgotPassword(ctx, adaEmail), echogen.KindInternal, "auth_misconfigured")

	before := len(e.gt.Requests())
	e.wantErr(t, e.sb.ForgotPassword(ctx, ""), echogen.KindInvalid, "validation_error")
	e.wantErr(t, e.sb.ForgotPassword(ctx, "not-an-email"), echogen.KindInvalid, "validation_error")
	if len(e.gt.Requests()) != before {
		t.Error("a malformed address was sent")
	}
}

func TestSupabaseResetPassword(t *testing.T) {
	ctx := context.Background()
	const newPassword = "a brand new passphrase"
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	e.secret(newPassword)
	ada := e.addAda(t, true)
	old1, _ := e.session(t, ada.ID)
	e.session(t, ada.ID)
	mailLink := func() string {
		t.Helper()
		if err := e.sb.ForgotPassword(ctx, adaEmail); err != nil {
			t.Fatal(err)
		}
		m, ok := e.gt.LastMail("recovery", adaEmail)
		if !ok {
			t.Fatal("no recovery mail")
		}
		e.secret(m.TokenHash)
		return m.TokenHash
	}

	hash := mailLink()
	if err := e.sb.ResetPassword(ctx, hash, newPassword); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if u, _ := e.gt.User(ada.ID); u.Password != newPassword {
		t.Error("password not changed")
	}
	if s := e.gt.Sessions(ada.ID); len(s) != 0 {
		t.Errorf("sessions after a reset: %v, want none", s)
	}
	v := e.lastReq(t, gotruetest.Verify)
	if diff := cmp.Diff(map[string]any{"type": "recovery", "token_hash": hash}, v.Body); diff != "" {
		t.Errorf("verify body (-want +got):\n%s", diff)
	}
	wantHeaders(t, v, sbAnon, "")
	u := e.lastReq(t, gotruetest.UpdateUser)
	if diff := cmp.Diff(map[string]any{"password": newPassword}, u.Body); diff != "" {
		t.Errorf("update body (-want +got):\n%s", diff)
	}
	if authz := u.Header.Get("Authorization"); !strings.HasPrefix(authz, "Bearer ey") || u.Header.Get("apikey") != sbAnon {
		t.Errorf("update headers: Authorization %.12q…", authz)
	}
	lo := e.lastReq(t, gotruetest.Logout)
	if lo.Query.Get("scope") != "global" || lo.Header.Get("Authorization") != u.Header.Get("Authorization") {
		t.Errorf("logout after reset: scope %q, same token %v", lo.Query.Get("scope"), lo.Header.Get("Authorization") == u.Header.Get("Authorization"))
	}
	if _, _, err := e.sb.SignIn(ctx, emailCred(adaEmail, newPassword)); err != nil {
		t.Errorf("sign in with the new password: %v", err)
	}
	_ = old1

	// The link works once.
	e.wantErr(t, e.sb.ResetPassword(ctx, hash, "yet another passphrase"), echogen.KindBadRequest, "invalid_token")
	e.wantErr(t, e.sb.ResetPassword(ctx, "0123abcd", "yet another passphrase"), echogen.KindBadRequest, "invalid_token")

	// Expired.
	hash = mailLink()
	e.clock.Advance(25 * time.Hour)
	e.wantErr(t, e.sb.ResetPassword(ctx, hash, "yet another passphrase"), echogen.KindBadRequest, "invalid_token")

	// The same password: Supabase refuses, and the link's session is closed.
	hash = mailLink()
	sessionsBefore := e.gt.Sessions(ada.ID)
	de := e.wantErr(t, e.sb.ResetPassword(ctx, hash, newPassword), echogen.KindInvalid, "validation_error")
	if len(de.Fields) != 1 || de.Fields[0].Type != "same_password" {
		t.Errorf("fields = %+v", de.Fields)
	}
	if diff := cmp.Diff(sessionsBefore, e.gt.Sessions(ada.ID)); diff != "" {
		t.Errorf("the recovery session was left open (-before +after):\n%s", diff)
	}

	// Checked here, before the link is spent.
	before := len(e.gt.Requests())
	e.wantErr(t, e.sb.ResetPassword(ctx, "abc", "short"), echogen.KindInvalid, "validation_error")
	e.wantErr(t, e.sb.ResetPassword(ctx, "abc", ""), echogen.KindInvalid, "validation_error")
	e.wantErr(t, e.sb.ResetPassword(ctx, " ", "long enough passphrase"), echogen.KindBadRequest, "invalid_token")
	if len(e.gt.Requests()) != before {
		t.Error("refused input was sent")
	}

	for _, tc := range []struct {
		name string
		ep   gotruetest.Endpoint
		fail gotruetest.Failure
		kind echogen.Kind
		code string
	}{
		{"verify: otp expired", gotruetest.Verify, gotruetest.Failure{Status: 403, Body: gotruetest.BodyOTPExpired}, echogen.KindBadRequest, "invalid_token"},
		{"verify: old message", gotruetest.Verify, gotruetest.Failure{Status: 401, Body: `{"code":401,"msg":"Token has expired or is invalid"}`}, echogen.KindBadRequest, "invalid_token"},
		{"verify: outage", gotruetest.Verify, gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure}, echogen.KindUnavailable, "auth_unavailable"},
		{"verify: rate limited", gotruetest.Verify, gotruetest.Failure{Status: 429, Body: gotruetest.BodyRequestRateLimit}, echogen.KindRateLimited, "rate_limited"},
		{"update: weak password", gotruetest.UpdateUser, gotruetest.Failure{Status: 422, Body: gotruetest.BodyWeakPassword}, echogen.KindInvalid, "validation_error"},
		{"update: session gone", gotruetest.UpdateUser, gotruetest.Failure{Status: 403, Body: gotruetest.BodySessionNotFound}, echogen.KindBadRequest, "invalid_token"},
		{"update: outage", gotruetest.UpdateUser, gotruetest.Failure{Status: 502, Body: `bad gateway`}, echogen.KindUnavailable, "auth_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hash := mailLink()
			e.gt.Fail(tc.ep, tc.fail)
			e.wantErr(t, e.sb.ResetPassword(ctx, hash, "one more new passphrase"), tc.kind, tc.code)
		})
	}
}

func TestSupabaseEmailConfirmation(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{ConfirmEmail: true}))
	id, _, err := e.sb.SignUp(ctx, emailCred(adaEmail, sbPassword))
	e.wantErr(t, err, echogen.KindPermissionDenied, "email_confirmation_required")
	_, _, err = e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
	e.wantErr(t, err, echogen.KindUnauthenticated, "email_not_confirmed")

	// Resend: a new link; unknown and confirmed addresses get nothing.
	if err := e.sb.ResendVerification(ctx, adaEmail); err != nil {
		t.Fatal(err)
	}
	r := e.lastReq(t, gotruetest.Resend)
	if diff := cmp.Diff(map[string]any{"type": "signup", "email": adaEmail}, r.Body); diff != "" {
		t.Errorf("resend body (-want +got):\n%s", diff)
	}
	wantHeaders(t, r, sbAnon, "")
	if n := len(e.gt.Mails()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	if err := e.sb.ResendVerification(ctx, "nobody@example.com"); err != nil {
		t.Errorf("unknown address: %v", err)
	}
	m, _ := e.gt.LastMail("signup", adaEmail)
	e.secret(m.TokenHash)

	if err := e.sb.VerifyEmail(ctx, m.TokenHash); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	v := e.lastReq(t, gotruetest.Verify)
	if diff := cmp.Diff(map[string]any{"type": "email", "token_hash": m.TokenHash}, v.Body); diff != "" {
		t.Errorf("verify body (-want +got):\n%s", diff)
	}
	if u, _ := e.gt.User(id.UserID); u.EmailConfirmedAt == nil {
		t.Error("email not confirmed")
	}
	if s := e.gt.Sessions(id.UserID); len(s) != 0 {
		t.Errorf("the link's session was left open: %v", s)
	}
	if _, tokens, err := e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword)); err != nil {
		t.Errorf("sign in after confirming: %v", err)
	} else {
		e.secret(tokens.AccessToken, tokens.RefreshToken)
	}
	e.wantErr(t, e.sb.VerifyEmail(ctx, m.TokenHash), echogen.KindBadRequest, "invalid_token")
	e.wantErr(t, e.sb.VerifyEmail(ctx, ""), echogen.KindBadRequest, "invalid_token")

	mails := len(e.gt.Mails())
	if err := e.sb.ResendVerification(ctx, adaEmail); err != nil {
		t.Errorf("confirmed address: %v", err)
	}
	if len(e.gt.Mails()) != mails {
		t.Error("a confirmed address got another link")
	}
	e.gt.Fail(gotruetest.Resend, gotruetest.Failure{Status: 429, Body: gotruetest.BodyEmailRateLimit})
	if err := e.sb.ResendVerification(ctx, adaEmail); err != nil {
		t.Errorf("rate-limited resend: %v", err)
	}
	e.gt.Fail(gotruetest.Resend, gotruetest.Failure{Status: 503, Body: `{}`})
	e.wantErr(t, e.sb.ResendVerification(ctx, adaEmail), echogen.KindUnavailable, "auth_unavailable")
	e.wantErr(t, e.sb.ResendVerification(ctx, "bad"), echogen.KindInvalid, "validation_error")
}

func TestSupabaseSignUpPhoneConfirmation(t *testing.T) {
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	e.gt.Fail(gotruetest.Signup, gotruetest.Failure{Status: 200, Body: `{"id":"` + echogen.NewID() + `","phone":"14155550123","identities":[{"id":"x"}],"created_at":"2026-03-02T09:30:00.123456Z","user_metadata":{}}`})
	id, tokens, err := e.sb.SignUp(context.Background(), echogen.Credentials{Method: echogen.MethodPhone, Phone: "+14155550123", Password: sbPassword})
	e.wantErr(t, err, echogen.KindPermissionDenied, "phone_confirmation_required")
	if tokens != nil || id == nil || id.Phone != "+14155550123" || !id.CreatedAt.Equal(sbStart.Add(123456*time.Microsecond)) {
		t.Errorf("SignUp = %+v, %v", id, tokens)
	}
}

// ---------------------------------------------------------------------------
// Purge

func TestSupabaseDeleteIdentity(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	ada := e.addAda(t, true)
	_, access := e.session(t, ada.ID)

	if err := e.sb.DeleteIdentity(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.gt.User(ada.ID); ok {
		t.Error("user still exists")
	}
	r := e.lastReq(t, gotruetest.AdminDeleteUser)
	if r.Path != "/admin/users/"+ada.ID || r.Body != nil {
		t.Errorf("request = %s %v", r.Path, r.Body)
	}
	wantHeaders(t, r, sbService, "Bearer "+sbService)
	_, err := e.sb.Authenticate(ctx, access)
	e.wantErr(t, err, echogen.KindUnauthenticated, "session_revoked")

	if err := e.sb.DeleteIdentity(ctx, ada.ID); err != nil { // 404
		t.Errorf("deleting again: %v", err)
	}
	n := len(e.gt.Requests())
	if err := e.sb.DeleteIdentity(ctx, "not-a-uuid"); err != nil || len(e.gt.Requests()) != n {
		t.Errorf("malformed id: %v, sent %v", err, len(e.gt.Requests()) != n)
	}
	e.gt.Fail(gotruetest.AdminDeleteUser, gotruetest.Failure{Status: 403, Body: gotruetest.BodyNotAdmin})
	e.wantErr(t, e.sb.DeleteIdentity(ctx, echogen.NewID()), echogen.KindInternal, "auth_misconfigured")
	e.gt.Fail(gotruetest.AdminDeleteUser, gotruetest.Failure{Status: 500, Body: gotruetest.BodyUnexpectedFailure})
	e.wantErr(t, e.sb.DeleteIdentity(ctx, echogen.NewID()), echogen.KindUnavailable, "auth_unavailable")
	if !strings.Contains(e.logs.String(), "SUPABASE_SERVICE_ROLE_KEY") {
		t.Error("a refused service key was not logged with a hint")
	}
}

// ---------------------------------------------------------------------------
// Transport

func TestSupabaseTransport(t *testing.T) {
	ctx := context.Background()
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		e := newSBEnv(t, hs256(gotruetest.Options{}), func(c *SupabaseConfig) { c.URL = base })
		_, _, err := e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
		de := e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
		if strings.Contains(err.Error(), base) {
			t.Errorf("error names the URL: %v", err)
		}
		if de.Message != "The sign-in service is unavailable; try again shortly" {
			t.Errorf("message = %q", de.Message)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		e := newSBEnv(t, hs256(gotruetest.Options{}), func(c *SupabaseConfig) { c.URL = srv.URL; c.Timeout = 50 * time.Millisecond })
		_, _, err := e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
		e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		var leaked sync.Mutex
		got := ""
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			leaked.Lock()
			got = r.Header.Get("apikey")
			leaked.Unlock()
		}))
		t.Cleanup(elsewhere.Close)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		t.Cleanup(srv.Close)
		e := newSBEnv(t, hs256(gotruetest.Options{}), func(c *SupabaseConfig) { c.URL = srv.URL; c.HTTPClient = &http.Client{} })
		_, _, err := e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
		e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
		leaked.Lock()
		defer leaked.Unlock()
		if got != "" {
			t.Error("the apikey followed a redirect")
		}
	})
	t.Run("oversized and malformed answers", func(t *testing.T) {
		for _, body := range []string{strings.Repeat("x", maxGoTrueBody+1), `{"access_token": 5}`, `[]`} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			}))
			e := newSBEnv(t, hs256(gotruetest.Options{}), func(c *SupabaseConfig) { c.URL = srv.URL })
			_, _, err := e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
			e.wantErr(t, err, echogen.KindUnavailable, "auth_unavailable")
			srv.Close()
		}
	})
}

// TestSupabaseNothingLeaks runs every failure path with secrets that are
// easy to spot and checks errors and logs for them.
func TestSupabaseNothingLeaks(t *testing.T) {
	ctx := context.Background()
	e := newSBEnv(t, hs256(gotruetest.Options{}))
	ada := e.addAda(t, true)
	p, access := e.session(t, ada.ID)
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range gotrueFailures {
		fail := gotruetest.Failure{Status: f.status, Body: f.body, Header: f.header}
		for _, ep := range []gotruetest.Endpoint{gotruetest.Signup, gotruetest.TokenPassword, gotruetest.TokenRefresh, gotruetest.Logout,
			gotruetest.Recover, gotruetest.Verify, gotruetest.Resend, gotruetest.AdminGetUser, gotruetest.AdminDeleteUser} {
			e.gt.Fail(ep, fail)
		}
		_, _, err := e.sb.SignUp(ctx, emailCred("new@example.com", sbPassword))
		collect(err)
		_, _, err = e.sb.SignIn(ctx, emailCred(adaEmail, sbPassword))
		collect(err)
		_, _, err = e.sb.Refresh(ctx, "refresh-token-value-123", echogen.ClientInfo{})
		collect(err)
		collect(e.sb.SignOut(ctx, p, echogen.SignOutOthers))
		collect(e.sb.ForgotPassword(ctx, adaEmail))
		collect(e.sb.ResetPassword(ctx, "token-hash-value-456", "new password value 789"))
		collect(e.sb.ResendVerification(ctx, adaEmail))
		e.clock.Advance(identityCacheTTL)
		_, err = e.sb.Identity(ctx, p)
		collect(err)
		collect(e.sb.DeleteIdentity(ctx, echogen.NewID()))
	}
	e.secret("refresh-token-value-123", "token-hash-value-456", "new password value 789", access)
	if len(errs) < 50 {
		t.Errorf("only %d errors collected", len(errs))
	}
	for _, err := range errs {
		e.noSecrets(t, "error", err.Error())
		e.noSecrets(t, "error", fmt.Sprintf("%+v %#v", err, err))
	}
}

func TestPrincipalNeverShowsItsToken(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.secret-payload.signature"
	p := echogen.Principal{UserID: echogen.NewID(), SessionID: "s", Email: "a@b.c", Role: "authenticated", AccessToken: tok}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("p", "principal", p, "token", p.AccessToken)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("p", "principal", p, "token", p.AccessToken)
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{
		"JSON": string(js), "%v": fmt.Sprintf("%v", p), "%+v": fmt.Sprintf("%+v", p), "%#v": fmt.Sprintf("%#v", p),
		"%s": fmt.Sprintf("%s", p.AccessToken), "logs": logs.String(),
	} {
		if strings.Contains(s, "secret-payload") {
			t.Errorf("%s shows the token: %s", what, s)
		}
	}
	if string(p.AccessToken) != tok {
		t.Error("the token itself is lost")
	}
}

// feedHub joins the revocation feeds of several processes, as PostgreSQL's
// LISTEN/NOTIFY does: a publication reaches every other process.
type feedHub struct {
	mu    sync.Mutex
	feeds []*hubFeed
}

type hubFeed struct {
	hub  *feedHub
	subs []func(echogen.Revocation)
}

func (h *feedHub) feed() *hubFeed {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := &hubFeed{hub: h}
	h.feeds = append(h.feeds, f)
	return f
}

func (f *hubFeed) Publish(_ context.Context, r echogen.Revocation) {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	for _, other := range f.hub.feeds {
		if other != f {
			for _, fn := range other.subs {
				fn(r)
			}
		}
	}
}

func (f *hubFeed) Subscribe(fn func(echogen.Revocation)) { f.subs = append(f.subs, fn) }

func TestSupabaseRevocationsReachOtherProcesses(t *testing.T) {
	ctx := context.Background()
	hub := &feedHub{}
	e := newSBEnv(t, gotruetest.Options{Algorithm: "ES256"}, func(c *SupabaseConfig) { c.Revocations = hub.feed() })
	// A second API process of the same installation.
	cfg := SupabaseConfig{URL: e.gt.URL, AnonKey: sbAnon, ServiceRoleKey: sbService, Revocations: hub.feed()}
	other, err := NewSupabase(cfg, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	ada := e.addAda(t, true)
	signedOut, signedOutToken := e.session(t, ada.ID)
	_, keptToken := e.session(t, ada.ID)
	for _, token := range []string{signedOutToken, keptToken} {
		if _, err := other.Authenticate(ctx, token); err != nil {
			t.Fatalf("before sign-out, the other process refuses a token: %v", err)
		}
	}

	if err := e.sb.SignOut(ctx, signedOut, echogen.SignOutLocal); err != nil {
		t.Fatal(err)
	}
	_, err = other.Authenticate(ctx, signedOutToken)
	e.wantErr(t, err, echogen.KindUnauthenticated, "session_revoked")
	if _, err := other.Authenticate(ctx, keptToken); err != nil {
		t.Errorf("another session of the user was refused: %v", err)
	}

	// An account deleted by one process is refused by every process.
	if err := e.sb.DeleteIdentity(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	_, err = other.Authenticate(ctx, keptToken)
	e.wantErr(t, err, echogen.KindUnauthenticated, "session_revoked")

	// The entries end when the tokens would have expired anyway.
	e.clock.Advance(maxTokenLifetime + time.Minute)
	if other.revoked.has(ada.ID, signedOut.SessionID, e.clock.Now()) {
		t.Error("revocations outlive every token they refuse")
	}
}

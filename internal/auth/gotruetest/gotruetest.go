// Package gotruetest is a stand-in for Supabase Auth (GoTrue), for tests: a
// real loopback HTTP server that speaks GoTrue's REST API under /auth/v1,
// keeps users and sessions in memory, and issues real JWTs — HS256 with a
// given secret, or ES256/RS256 with keys it generates and publishes at
// /auth/v1/.well-known/jwks.json (and can rotate).
//
// Endpoints: POST /signup, POST /token?grant_type=password|refresh_token,
// POST /logout?scope=local|others|global, POST /recover, POST /verify
// (token_hash), POST /resend, GET and PUT /user, GET and DELETE
// /admin/users/{id}, GET /.well-known/jwks.json.
//
// It is strict: a request GoTrue would not take or that a client is not
// meant to send (no apikey header, a missing Authorization, the wrong key
// for an admin call, unknown or missing JSON fields, an unknown grant or
// scope) fails the test with t.Errorf and is answered with a GoTrue-style
// error. Tests make it answer errors with Fail.
package gotruetest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Default keys of Options.
const (
	DefaultAnonKey        = "test-anon-key"
	DefaultServiceRoleKey = "test-service-role-key"
)

// Endpoint names one GoTrue operation, for Fail and RequestsTo.
type Endpoint string

const (
	Signup          Endpoint = "POST /signup"
	TokenPassword   Endpoint = "POST /token?grant_type=password"
	TokenRefresh    Endpoint = "POST /token?grant_type=refresh_token"
	Logout          Endpoint = "POST /logout"
	Recover         Endpoint = "POST /recover"
	Verify          Endpoint = "POST /verify"
	Resend          Endpoint = "POST /resend"
	GetUser         Endpoint = "GET /user"
	UpdateUser      Endpoint = "PUT /user"
	AdminGetUser    Endpoint = "GET /admin/users/{id}"
	AdminDeleteUser Endpoint = "DELETE /admin/users/{id}"
	JWKS            Endpoint = "GET /.well-known/jwks.json"
)

// GoTrue error bodies, as the real server sends them, for Fail.
const (
	BodyInvalidCredentials      = `{"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}`
	BodyEmailNotConfirmed       = `{"code":400,"error_code":"email_not_confirmed","msg":"Email not confirmed"}`
	BodyUserAlreadyExists       = `{"code":422,"error_code":"user_already_exists","msg":"User already registered"}`
	BodyWeakPassword            = `{"code":422,"error_code":"weak_password","msg":"Password should be at least 6 characters.","weak_password":{"reasons":["length"]}}`
	BodySamePassword            = `{"code":422,"error_code":"same_password","msg":"New password should be different from the old password."}`
	BodySignupDisabled          = `{"code":403,"error_code":"signup_disabled","msg":"Signups not allowed for this instance"}`
	BodyRefreshTokenNotFound    = `{"code":400,"error_code":"refresh_token_not_found","msg":"Invalid Refresh Token: Refresh Token Not Found"}`
	BodyRefreshTokenAlreadyUsed = `{"code":400,"error_code":"refresh_token_already_used","msg":"Invalid Refresh Token: Already Used"}`
	BodySessionNotFound         = `{"code":403,"error_code":"session_not_found","msg":"Session from session_id claim in JWT does not exist"}`
	BodyBadJWT                  = `{"code":403,"error_code":"bad_jwt","msg":"invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired"}`
	BodyOTPExpired              = `{"code":403,"error_code":"otp_expired","msg":"Email link is invalid or has expired"}`
	BodyUserNotFound            = `{"code":404,"error_code":"user_not_found","msg":"User not found"}`
	BodyNotAdmin                = `{"code":403,"error_code":"not_admin","msg":"User not allowed"}`
	BodyEmailRateLimit          = `{"code":429,"error_code":"over_email_send_rate_limit","msg":"email rate limit exceeded"}`
	BodyRequestRateLimit        = `{"code":429,"error_code":"over_request_rate_limit","msg":"Request rate limit reached"}`
	BodyUnexpectedFailure       = `{"code":500,"error_code":"unexpected_failure","msg":"Unexpected failure, please check server logs for more information"}`
	// Older GoTrue versions answer the token endpoint in the OAuth shape.
	BodyOAuthInvalidLogin   = `{"error":"invalid_grant","error_description":"Invalid login credentials"}`
	BodyOAuthRefreshUnknown = `{"error":"invalid_grant","error_description":"Invalid Refresh Token: Refresh Token Not Found"}`
	// With the X-Supabase-Api-Version: 2024-01-01 header the code is a string.
	BodyV2024InvalidCredentials = `{"code":"invalid_credentials","message":"Invalid login credentials"}`
	// The API gateway's answer to a wrong apikey.
	BodyInvalidAPIKey = `{"message":"Invalid API key","hint":"Double check your Supabase anon or service_role API key."}`
)

// Options configure a Server.
type Options struct {
	// AnonKey and ServiceRoleKey are the apikey values accepted; the
	// service role key is required for the admin endpoints.
	AnonKey        string // default DefaultAnonKey
	ServiceRoleKey string // default DefaultServiceRoleKey
	// JWTSecret signs HS256 tokens (the legacy JWT secret).
	JWTSecret string
	// Algorithm signs access tokens: HS256 (the default with a JWTSecret),
	// ES256 (the default without) or RS256.
	Algorithm string
	// ConfirmEmail makes email sign-ups confirm their address first: the
	// sign-up answers with the user alone and signing in is refused until
	// the link is used.
	ConfirmEmail bool
	// AccessTokenTTL is the access tokens' lifetime; default one hour.
	AccessTokenTTL time.Duration
	// LinkTTL is how long mailed links work; default 24 hours.
	LinkTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// User is an account of the stand-in.
type User struct {
	ID               string
	Email            string // lowercase
	Phone            string // E.164 with the plus, as given
	Password         string
	UserMetadata     map[string]any
	EmailConfirmedAt *time.Time
	PhoneConfirmedAt *time.Time
	CreatedAt        time.Time
	LastSignInAt     *time.Time
}

// Request is one request as received.
type Request struct {
	Endpoint Endpoint // "" when the path matched no endpoint
	Method   string
	Path     string // below /auth/v1, e.g. "/token"
	Query    url.Values
	Header   http.Header
	Body     map[string]any // nil without a JSON body
}

// Failure is an error answer to inject.
type Failure struct {
	Status int
	Body   string // written verbatim
	Header http.Header
}

// Mail is a mail the stand-in "sent": its link's token_hash is what a
// client passes to POST /verify.
type Mail struct {
	Type      string // "signup" or "recovery"
	Email     string
	TokenHash string
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

type session struct {
	id, userID string
	createdAt  time.Time
}

type refreshToken struct {
	sessionID string
	revoked   bool
}

type link struct {
	typ, userID string
	sentAt      time.Time
}

// Server is a running stand-in. It is safe for concurrent use.
type Server struct {
	// URL is the project URL (SUPABASE_URL); the API is at URL+"/auth/v1".
	URL string

	t    testing.TB
	opts Options

	mu       sync.Mutex
	users    map[string]*User // by id
	sessions map[string]*session
	refresh  map[string]*refreshToken
	links    map[string]*link // token_hash → link
	mails    []Mail
	requests []Request
	failures map[Endpoint][]Failure
	keys     []*signingKey // published (asymmetric only); last is current
	// lastSession is the id of the session openSession made last.
	lastSession string
}

// New starts a stand-in that lives until the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AnonKey == "" {
		opts.AnonKey = DefaultAnonKey
	}
	if opts.ServiceRoleKey == "" {
		opts.ServiceRoleKey = DefaultServiceRoleKey
	}
	if opts.Algorithm == "" {
		opts.Algorithm = "ES256"
		if opts.JWTSecret != "" {
			opts.Algorithm = "HS256"
		}
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.LinkTTL == 0 {
		opts.LinkTTL = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		t: t, opts: opts,
		users:    map[string]*User{},
		sessions: map[string]*session{},
		refresh:  map[string]*refreshToken{},
		links:    map[string]*link{},
		failures: map[Endpoint][]Failure{},
	}
	switch opts.Algorithm {
	case "HS256":
		if opts.JWTSecret == "" {
			t.Fatalf("gotruetest: HS256 needs a JWTSecret")
		}
	case "ES256", "RS256":
		s.keys = append(s.keys, newKey(t, opts.Algorithm))
	default:
		t.Fatalf("gotruetest: algorithm %q: want HS256, ES256 or RS256", opts.Algorithm)
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func newKey(t testing.TB, alg string) *signingKey {
	k := &signingKey{kid: randomHex(8), alg: alg}
	var err error
	switch alg {
	case "ES256":
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("no keys for %s", alg)
	}
	if err != nil {
		t.Fatalf("gotruetest: generate %s key: %v", alg, err)
	}
	return k
}

// ---------------------------------------------------------------------------
// Test controls

// Fail makes the next request to ep answer f instead (after its shape was
// checked). Calls queue up.
func (s *Server) Fail(ep Endpoint, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[ep] = append(s.failures[ep], f)
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsTo returns the requests to one endpoint.
func (s *Server) RequestsTo(ep Endpoint) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Endpoint == ep {
			out = append(out, r)
		}
	}
	return out
}

// Mails returns the mails sent so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

// LastMail returns the last mail of type typ to email.
func (s *Server) LastMail(typ, email string) (Mail, bool) {
	ms := s.Mails()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Type == typ && ms[i].Email == strings.ToLower(email) {
			return ms[i], true
		}
	}
	return Mail{}, false
}

// AddUser stores u, filling in ID and CreatedAt when empty, and returns it.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = newUUID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	u.Email = strings.ToLower(u.Email)
	u.UserMetadata = maps.Clone(u.UserMetadata)
	if u.UserMetadata == nil {
		u.UserMetadata = map[string]any{}
	}
	c := u
	s.users[u.ID] = &c
	return u
}

// User returns the user with this id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// UserByEmail returns the user with this email.
func (s *Server) UserByEmail(email string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byEmail(email); u != nil {
		return *u, true
	}
	return User{}, false
}

// NewSession opens a session for the user as a sign-in would and returns
// its tokens and id.
func (s *Server) NewSession(userID string) (access, refresh, sessionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		s.t.Fatalf("gotruetest: NewSession: no user %s", userID)
	}
	resp := s.openSession(u, "password")
	return resp["access_token"].(string), resp["refresh_token"].(string), s.lastSession
}

// SessionActive reports whether the session exists.
func (s *Server) SessionActive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

// Sessions returns the ids of the user's sessions, sorted.
func (s *Server) Sessions(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, se := range s.sessions {
		if se.userID == userID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Claims returns the claims GoTrue puts in an access token of the user's
// session, for tests that sign variants with Sign.
func (s *Server) Claims(userID, sessionID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		u = &User{ID: userID, UserMetadata: map[string]any{}}
	}
	return s.claims(u, sessionID, s.now())
}

// Sign signs claims with the current key and algorithm.
func (s *Server) Sign(claims map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sign(claims)
}

// KeyID returns the kid of the current signing key ("" with HS256).
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) == 0 {
		return ""
	}
	return s.keys[len(s.keys)-1].kid
}

// PublicKey returns the current asymmetric public key (nil with HS256).
func (s *Server) PublicKey() crypto.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) == 0 {
		return nil
	}
	return s.keys[len(s.keys)-1].priv.Public()
}

// RotateKey makes a new key of the same algorithm the current one and
// returns its kid. The old key stays published until WithdrawKey.
func (s *Server) RotateKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) == 0 {
		s.t.Fatalf("gotruetest: RotateKey needs ES256 or RS256")
	}
	k := newKey(s.t, s.opts.Algorithm)
	s.keys = append(s.keys, k)
	return k.kid
}

// WithdrawKey removes a key from the published set; tokens signed with it
// no longer verify here either.
func (s *Server) WithdrawKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.kid == kid {
			s.keys = slices.Delete(s.keys, i, i+1)
			return
		}
	}
}

// ---------------------------------------------------------------------------
// HTTP

const prefix = "/auth/v1"

type reqCtx struct {
	w    http.ResponseWriter
	r    *http.Request
	ep   Endpoint
	body map[string]any
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	rec := Request{Method: r.Method, Path: path, Query: r.URL.Query(), Header: r.Header.Clone()}
	if !ok {
		s.record(rec)
		s.t.Errorf("gotruetest: %s %s: not under %s", r.Method, r.URL.Path, prefix)
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "no Route matched with those values"})
		return
	}
	rec.Endpoint = endpointOf(r.Method, path, r.URL.Query().Get("grant_type"))
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil || body == nil {
			s.record(rec)
			s.t.Errorf("gotruetest: %s %s: body is not a JSON object: %q", r.Method, path, raw)
			gotrueError(w, http.StatusBadRequest, "bad_json", "Could not parse request body as JSON")
			return
		}
		rec.Body = body
	}
	s.record(rec)

	if rec.Endpoint == "" {
		s.t.Errorf("gotruetest: %s %s: no such endpoint", r.Method, path)
		gotrueError(w, http.StatusNotFound, "", "Not Found")
		return
	}
	c := &reqCtx{w: w, r: r, ep: rec.Endpoint, body: body}
	if !s.checkAPIKey(c) || !s.checkShape(c, raw) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs := s.failures[c.ep]; len(fs) > 0 {
		f := fs[0]
		s.failures[c.ep] = fs[1:]
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	switch c.ep {
	case Signup:
		s.signup(c)
	case TokenPassword:
		s.passwordGrant(c)
	case TokenRefresh:
		s.refreshGrant(c)
	case Logout:
		s.logout(c)
	case Recover:
		s.recover(c)
	case Verify:
		s.verify(c)
	case Resend:
		s.resend(c)
	case GetUser:
		if u, _ := s.bearerUser(c); u != nil {
			writeJSON(w, http.StatusOK, s.userJSON(u))
		}
	case UpdateUser:
		s.updateUser(c)
	case AdminGetUser, AdminDeleteUser:
		s.admin(c)
	case JWKS:
		s.jwks(c)
	}
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

func endpointOf(method, path, grant string) Endpoint {
	switch {
	case method == http.MethodPost && path == "/signup":
		return Signup
	case method == http.MethodPost && path == "/token" && grant == "password":
		return TokenPassword
	case method == http.MethodPost && path == "/token" && grant == "refresh_token":
		return TokenRefresh
	case method == http.MethodPost && path == "/logout":
		return Logout
	case method == http.MethodPost && path == "/recover":
		return Recover
	case method == http.MethodPost && path == "/verify":
		return Verify
	case method == http.MethodPost && path == "/resend":
		return Resend
	case method == http.MethodGet && path == "/user":
		return GetUser
	case method == http.MethodPut && path == "/user":
		return UpdateUser
	case method == http.MethodGet && strings.HasPrefix(path, "/admin/users/") && strings.Count(path, "/") == 3:
		return AdminGetUser
	case method == http.MethodDelete && strings.HasPrefix(path, "/admin/users/") && strings.Count(path, "/") == 3:
		return AdminDeleteUser
	case method == http.MethodGet && path == "/.well-known/jwks.json":
		return JWKS
	}
	return ""
}

func isAdmin(ep Endpoint) bool { return ep == AdminGetUser || ep == AdminDeleteUser }

func needsUser(ep Endpoint) bool { return ep == Logout || ep == GetUser || ep == UpdateUser }

// checkAPIKey enforces the gateway's apikey and the credentials each
// endpoint needs.
func (s *Server) checkAPIKey(c *reqCtx) bool {
	key := c.r.Header.Get("apikey")
	authz := c.r.Header.Get("Authorization")
	switch {
	case key == "":
		s.t.Errorf("gotruetest: %s: no apikey header", c.ep)
		writeJSON(c.w, http.StatusUnauthorized, map[string]any{"message": "No API key found in request"})
		return false
	case key != s.opts.AnonKey && key != s.opts.ServiceRoleKey:
		s.t.Errorf("gotruetest: %s: apikey is neither the anon nor the service role key", c.ep)
		writeJSON(c.w, http.StatusUnauthorized, map[string]any{"message": "Invalid API key"})
		return false
	}
	switch {
	case isAdmin(c.ep):
		if key != s.opts.ServiceRoleKey || (authz != "" && authz != "Bearer "+s.opts.ServiceRoleKey) {
			s.t.Errorf("gotruetest: %s: admin call without the service role key", c.ep)
			gotrueError(c.w, http.StatusForbidden, "not_admin", "User not allowed")
			return false
		}
	case needsUser(c.ep):
		if !strings.HasPrefix(authz, "Bearer ") || strings.TrimPrefix(authz, "Bearer ") == "" {
			s.t.Errorf("gotruetest: %s: no Authorization: Bearer <user token>", c.ep)
			gotrueError(c.w, http.StatusUnauthorized, "no_authorization", "This endpoint requires a Bearer token")
			return false
		}
		if key != s.opts.AnonKey {
			s.t.Errorf("gotruetest: %s: a user call should carry the anon key", c.ep)
		}
	default:
		if key != s.opts.AnonKey {
			s.t.Errorf("gotruetest: %s: a public call should carry the anon key, not the service role key", c.ep)
		}
		if authz != "" {
			s.t.Errorf("gotruetest: %s: unexpected Authorization header on a public call", c.ep)
		}
	}
	return true
}

// field rules of a JSON body: required and optional keys.
type shape struct {
	required []string
	optional []string
	oneOf    []string // exactly one of these
}

var shapes = map[Endpoint]shape{
	Signup:        {required: []string{"password"}, optional: []string{"data"}, oneOf: []string{"email", "phone"}},
	TokenPassword: {required: []string{"password"}, oneOf: []string{"email", "phone"}},
	TokenRefresh:  {required: []string{"refresh_token"}},
	Recover:       {required: []string{"email"}},
	Verify:        {required: []string{"type", "token_hash"}},
	Resend:        {required: []string{"type", "email"}},
	UpdateUser:    {optional: []string{"password", "email", "phone", "data"}},
}

// checkShape enforces the JSON fields and query of each endpoint.
func (s *Server) checkShape(c *reqCtx, raw []byte) bool {
	bad := func(format string, args ...any) bool {
		msg := fmt.Sprintf(format, args...)
		s.t.Errorf("gotruetest: %s: %s", c.ep, msg)
		gotrueError(c.w, http.StatusBadRequest, "validation_failed", msg)
		return false
	}
	q := c.r.URL.Query()
	switch c.ep {
	case TokenPassword, TokenRefresh:
		if len(q) != 1 {
			return bad("query must be grant_type alone, got %q", c.r.URL.RawQuery)
		}
	case Logout:
		if len(q) > 1 || (len(q) == 1 && !q.Has("scope")) {
			return bad("query must be scope alone, got %q", c.r.URL.RawQuery)
		}
		if sc := q.Get("scope"); sc != "" && sc != "local" && sc != "others" && sc != "global" {
			return bad("Unsupported logout scope %q", sc)
		}
	default:
		if len(q) > 0 {
			return bad("unexpected query %q", c.r.URL.RawQuery)
		}
	}
	sh, hasBody := shapes[c.ep]
	if !hasBody {
		if len(bytes.TrimSpace(raw)) > 0 {
			return bad("unexpected body")
		}
		return true
	}
	if ct := c.r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return bad("Content-Type %q, want application/json", ct)
	}
	if c.body == nil {
		return bad("missing JSON body")
	}
	allowed := map[string]bool{}
	for _, k := range slices.Concat(sh.required, sh.optional, sh.oneOf) {
		allowed[k] = true
	}
	for k, v := range c.body {
		if !allowed[k] {
			return bad("unexpected field %q", k)
		}
		if k == "data" {
			d, ok := v.(map[string]any)
			if !ok {
				return bad("data must be an object")
			}
			for dk, dv := range d {
				if _, ok := dv.(string); dk != "full_name" || !ok {
					return bad("data may hold full_name (a string) alone, got %q", dk)
				}
			}
			continue
		}
		if str, ok := v.(string); !ok || str == "" {
			return bad("field %q must be a non-empty string", k)
		}
	}
	for _, k := range sh.required {
		if _, ok := c.body[k]; !ok {
			return bad("missing field %q", k)
		}
	}
	if len(sh.oneOf) > 0 {
		n := 0
		for _, k := range sh.oneOf {
			if _, ok := c.body[k]; ok {
				n++
			}
		}
		if n != 1 {
			return bad("want exactly one of %v", sh.oneOf)
		}
	}
	if c.ep == UpdateUser && len(c.body) == 0 {
		return bad("nothing to update")
	}
	switch c.ep {
	case Verify:
		switch str(c.body, "type") {
		case "signup", "invite", "magiclink", "recovery", "email_change", "email":
		default:
			return bad("Verify requires a verification type, got %q", str(c.body, "type"))
		}
	case Resend:
		switch str(c.body, "type") {
		case "signup", "email_change":
		default:
			return bad("Missing one of these types: signup, email_change, sms, phone_change; got %q", str(c.body, "type"))
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Endpoints (called with s.mu held)

func (s *Server) signup(c *reqCtx) {
	password := str(c.body, "password")
	if len(password) < 6 {
		writeRaw(c.w, http.StatusUnprocessableEntity, BodyWeakPassword)
		return
	}
	email := strings.ToLower(str(c.body, "email"))
	phone := str(c.body, "phone")
	var u *User
	if email != "" {
		u = s.byEmail(email)
	} else {
		u = s.byPhone(phone)
	}
	confirm := s.opts.ConfirmEmail && email != ""
	if u != nil {
		confirmed := u.EmailConfirmedAt != nil || (email == "" && u.PhoneConfirmedAt != nil)
		switch {
		case confirmed && !confirm:
			writeRaw(c.w, http.StatusUnprocessableEntity, BodyUserAlreadyExists)
		case confirmed:
			// A made-up user with no identities, so the answer does not
			// tell that the address is taken.
			now := s.now()
			fake := &User{ID: newUUID(), Email: email, UserMetadata: dataOf(c.body), CreatedAt: now}
			j := s.userJSON(fake)
			j["identities"] = []any{}
			writeJSON(c.w, http.StatusOK, j)
		default: // unconfirmed: mail the link again
			s.mail("signup", u)
			writeJSON(c.w, http.StatusOK, s.userJSON(u))
		}
		return
	}
	now := s.now()
	u = &User{ID: newUUID(), Email: email, Phone: phone, Password: password, UserMetadata: dataOf(c.body), CreatedAt: now}
	s.users[u.ID] = u
	if confirm {
		s.mail("signup", u)
		writeJSON(c.w, http.StatusOK, s.userJSON(u))
		return
	}
	if email != "" {
		u.EmailConfirmedAt = &now
	} else {
		u.PhoneConfirmedAt = &now
	}
	writeJSON(c.w, http.StatusOK, s.openSession(u, "password"))
}

func dataOf(body map[string]any) map[string]any {
	d, _ := body["data"].(map[string]any)
	if d == nil {
		return map[string]any{}
	}
	return maps.Clone(d)
}

func (s *Server) passwordGrant(c *reqCtx) {
	var u *User
	if e := str(c.body, "email"); e != "" {
		u = s.byEmail(e)
	} else {
		u = s.byPhone(str(c.body, "phone"))
	}
	if u == nil || u.Password != str(c.body, "password") {
		writeRaw(c.w, http.StatusBadRequest, BodyInvalidCredentials)
		return
	}
	if str(c.body, "email") != "" && u.EmailConfirmedAt == nil {
		writeRaw(c.w, http.StatusBadRequest, BodyEmailNotConfirmed)
		return
	}
	writeJSON(c.w, http.StatusOK, s.openSession(u, "password"))
}

func (s *Server) refreshGrant(c *reqCtx) {
	tok := str(c.body, "refresh_token")
	rt, ok := s.refresh[tok]
	if !ok {
		writeRaw(c.w, http.StatusBadRequest, BodyRefreshTokenNotFound)
		return
	}
	if rt.revoked {
		writeRaw(c.w, http.StatusBadRequest, BodyRefreshTokenAlreadyUsed)
		return
	}
	se, ok := s.sessions[rt.sessionID]
	if !ok {
		writeRaw(c.w, http.StatusBadRequest, BodyRefreshTokenNotFound)
		return
	}
	u := s.users[se.userID]
	rt.revoked = true
	writeJSON(c.w, http.StatusOK, s.tokenAnswer(u, se, "token_refresh"))
}

func (s *Server) logout(c *reqCtx) {
	u, claims := s.bearerUser(c)
	if u == nil {
		return
	}
	sid, _ := claims["session_id"].(string)
	scope := c.r.URL.Query().Get("scope")
	for id, se := range s.sessions {
		if se.userID != u.ID {
			continue
		}
		switch {
		case scope == "global",
			scope == "others" && id != sid,
			(scope == "" || scope == "local") && id == sid:
			s.endSession(id)
		}
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) endSession(id string) {
	delete(s.sessions, id)
	for tok, rt := range s.refresh {
		if rt.sessionID == id {
			delete(s.refresh, tok)
		}
	}
}

func (s *Server) recover(c *reqCtx) {
	if u := s.byEmail(str(c.body, "email")); u != nil {
		s.mail("recovery", u)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

func (s *Server) resend(c *reqCtx) {
	if u := s.byEmail(str(c.body, "email")); u != nil && u.EmailConfirmedAt == nil && str(c.body, "type") == "signup" {
		s.mail("signup", u)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

func (s *Server) verify(c *reqCtx) {
	typ := str(c.body, "type")
	hash := str(c.body, "token_hash")
	l, ok := s.links[hash]
	valid := ok && s.now().Sub(l.sentAt) < s.opts.LinkTTL
	if valid {
		switch typ {
		case "recovery":
			valid = l.typ == "recovery"
		case "signup", "email":
			valid = l.typ == "signup" || (typ == "email" && l.typ == "recovery")
		default:
			valid = false
		}
	}
	u := s.users[l.userIDOr()]
	if !valid || u == nil {
		writeRaw(c.w, http.StatusForbidden, BodyOTPExpired)
		return
	}
	delete(s.links, hash)
	if u.EmailConfirmedAt == nil {
		now := s.now()
		u.EmailConfirmedAt = &now
	}
	writeJSON(c.w, http.StatusOK, s.openSession(u, "otp"))
}

func (l *link) userIDOr() string {
	if l == nil {
		return ""
	}
	return l.userID
}

func (s *Server) updateUser(c *reqCtx) {
	u, _ := s.bearerUser(c)
	if u == nil {
		return
	}
	if p, ok := c.body["password"].(string); ok {
		switch {
		case len(p) < 6:
			writeRaw(c.w, http.StatusUnprocessableEntity, BodyWeakPassword)
			return
		case p == u.Password:
			writeRaw(c.w, http.StatusUnprocessableEntity, BodySamePassword)
			return
		}
		u.Password = p
	}
	if d, ok := c.body["data"].(map[string]any); ok {
		maps.Copy(u.UserMetadata, d)
	}
	writeJSON(c.w, http.StatusOK, s.userJSON(u))
}

func (s *Server) admin(c *reqCtx) {
	id := strings.TrimPrefix(c.r.URL.Path, prefix+"/admin/users/")
	u, ok := s.users[id]
	if !ok {
		writeRaw(c.w, http.StatusNotFound, BodyUserNotFound)
		return
	}
	if c.ep == AdminGetUser {
		writeJSON(c.w, http.StatusOK, s.userJSON(u))
		return
	}
	for sid, se := range s.sessions {
		if se.userID == id {
			s.endSession(sid)
		}
	}
	delete(s.users, id)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

func (s *Server) jwks(c *reqCtx) {
	keys := []any{}
	for _, k := range s.keys {
		keys = append(keys, jwkOf(k))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"keys": keys})
}

func jwkOf(k *signingKey) map[string]any {
	j := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig", "key_ops": []string{"verify"}, "ext": true}
	switch pub := k.priv.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes() // 0x04 || X || Y
		j["kty"], j["crv"] = "EC", "P-256"
		j["x"] = base64.RawURLEncoding.EncodeToString(b[1:33])
		j["y"] = base64.RawURLEncoding.EncodeToString(b[33:65])
	case *rsa.PublicKey:
		j["kty"] = "RSA"
		j["n"] = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
		j["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	}
	return j
}

// bearerUser verifies the Authorization token as GoTrue does and returns
// its user, or answers the error and returns nil.
func (s *Server) bearerUser(c *reqCtx) (*User, map[string]any) {
	tok := strings.TrimPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{s.opts.Algorithm}),
		jwt.WithAudience("authenticated"),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.opts.Now),
	).ParseWithClaims(tok, claims, s.keyFunc)
	if err != nil {
		gotrueError(c.w, http.StatusForbidden, "bad_jwt", "invalid JWT: unable to parse or verify signature, "+err.Error())
		return nil, nil
	}
	sub, _ := claims["sub"].(string)
	u, ok := s.users[sub]
	if !ok {
		writeRaw(c.w, http.StatusNotFound, BodyUserNotFound)
		return nil, nil
	}
	sid, _ := claims["session_id"].(string)
	if _, ok := s.sessions[sid]; !ok {
		writeRaw(c.w, http.StatusForbidden, BodySessionNotFound)
		return nil, nil
	}
	return u, claims
}

func (s *Server) keyFunc(t *jwt.Token) (any, error) {
	if s.opts.Algorithm == "HS256" {
		return []byte(s.opts.JWTSecret), nil
	}
	kid, _ := t.Header["kid"].(string)
	for _, k := range s.keys {
		if k.kid == kid {
			return k.priv.Public(), nil
		}
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

// ---------------------------------------------------------------------------
// Sessions and tokens (s.mu held)

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

func (s *Server) byEmail(email string) *User {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil
	}
	for _, u := range s.users {
		if u.Email == email {
			return u
		}
	}
	return nil
}

func (s *Server) byPhone(phone string) *User {
	phone = strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if phone == "" {
		return nil
	}
	for _, u := range s.users {
		if strings.TrimPrefix(u.Phone, "+") == phone {
			return u
		}
	}
	return nil
}

func (s *Server) mail(typ string, u *User) {
	token := randomHex(16)
	sum := sha256.Sum224([]byte(u.Email + token))
	hash := hex.EncodeToString(sum[:])
	for h, l := range s.links { // a new link replaces the old one
		if l.userID == u.ID && l.typ == typ {
			delete(s.links, h)
		}
	}
	s.links[hash] = &link{typ: typ, userID: u.ID, sentAt: s.now()}
	s.mails = append(s.mails, Mail{Type: typ, Email: u.Email, TokenHash: hash})
}

// openSession opens a session for u and returns GoTrue's token answer.
func (s *Server) openSession(u *User, method string) map[string]any {
	now := s.now()
	u.LastSignInAt = &now
	se := &session{id: newUUID(), userID: u.ID, createdAt: now}
	s.sessions[se.id] = se
	s.lastSession = se.id
	return s.tokenAnswer(u, se, method)
}

func (s *Server) tokenAnswer(u *User, se *session, method string) map[string]any {
	now := s.now()
	rt := randomHex(6)
	s.refresh[rt] = &refreshToken{sessionID: se.id}
	claims := s.claims(u, se.id, now)
	claims["amr"] = []any{map[string]any{"method": method, "timestamp": now.Unix()}}
	return map[string]any{
		"access_token":  s.sign(claims),
		"token_type":    "bearer",
		"expires_in":    int64(s.opts.AccessTokenTTL / time.Second),
		"expires_at":    now.Add(s.opts.AccessTokenTTL).Unix(),
		"refresh_token": rt,
		"user":          s.userJSON(u),
	}
}

func (s *Server) claims(u *User, sessionID string, now time.Time) map[string]any {
	return map[string]any{
		"iss":           s.URL + prefix,
		"sub":           u.ID,
		"aud":           "authenticated",
		"exp":           now.Add(s.opts.AccessTokenTTL).Unix(),
		"iat":           now.Unix(),
		"email":         u.Email,
		"phone":         strings.TrimPrefix(u.Phone, "+"),
		"app_metadata":  appMetadata(u),
		"user_metadata": maps.Clone(u.UserMetadata),
		"role":          "authenticated",
		"aal":           "aal1",
		"amr":           []any{map[string]any{"method": "password", "timestamp": now.Unix()}},
		"session_id":    sessionID,
		"is_anonymous":  false,
	}
}

func (s *Server) sign(claims map[string]any) string {
	mc := jwt.MapClaims(maps.Clone(claims))
	var (
		tok *jwt.Token
		key any
	)
	if s.opts.Algorithm == "HS256" {
		tok, key = jwt.NewWithClaims(jwt.SigningMethodHS256, mc), []byte(s.opts.JWTSecret)
	} else {
		k := s.keys[len(s.keys)-1]
		tok, key = jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), mc), k.priv
		tok.Header["kid"] = k.kid
	}
	out, err := tok.SignedString(key)
	if err != nil {
		s.t.Errorf("gotruetest: sign: %v", err)
	}
	return out
}

func appMetadata(u *User) map[string]any {
	p := "email"
	if u.Email == "" {
		p = "phone"
	}
	return map[string]any{"provider": p, "providers": []string{p}}
}

func (s *Server) userJSON(u *User) map[string]any {
	provider := appMetadata(u)["provider"].(string)
	j := map[string]any{
		"id":                 u.ID,
		"aud":                "authenticated",
		"role":               "authenticated",
		"email":              u.Email,
		"phone":              strings.TrimPrefix(u.Phone, "+"),
		"app_metadata":       appMetadata(u),
		"user_metadata":      maps.Clone(u.UserMetadata),
		"created_at":         ts(u.CreatedAt),
		"updated_at":         ts(u.CreatedAt),
		"is_anonymous":       false,
		"email_confirmed_at": tsPtr(u.EmailConfirmedAt),
		"phone_confirmed_at": tsPtr(u.PhoneConfirmedAt),
		"last_sign_in_at":    tsPtr(u.LastSignInAt),
		"identities": []any{map[string]any{
			"identity_id":   newUUID(),
			"id":            u.ID,
			"user_id":       u.ID,
			"identity_data": map[string]any{"sub": u.ID, "email": u.Email, "email_verified": u.EmailConfirmedAt != nil, "phone_verified": u.PhoneConfirmedAt != nil},
			"provider":      provider,
			"created_at":    ts(u.CreatedAt),
			"updated_at":    ts(u.CreatedAt),
			"email":         u.Email,
		}},
	}
	if u.EmailConfirmedAt == nil && u.Email != "" {
		j["confirmation_sent_at"] = ts(s.now())
	}
	return j
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z") }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// ---------------------------------------------------------------------------
// Helpers

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func gotrueError(w http.ResponseWriter, status int, code, msg string) {
	body := map[string]any{"code": status, "msg": msg}
	if code != "" {
		body["error_code"] = code
	}
	writeJSON(w, status, body)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

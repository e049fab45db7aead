package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults and limits of the Supabase Auth backend.
const (
	// DefaultSupabaseTimeout bounds every call to Supabase Auth.
	DefaultSupabaseTimeout = 10 * time.Second

	identityCacheTTL = 30 * time.Second
	identityCacheMax = 10_000

	// maxGoTrueBody caps an answer of Supabase Auth.
	maxGoTrueBody = 1 << 20
	// maxAccessTokenLen refuses absurd tokens before any parsing.
	maxAccessTokenLen = 16 << 10

	// maxTokenLifetime is the longest access token lifetime Supabase Auth
	// allows (one week); a revocation is kept that long at most.
	maxTokenLifetime = 7 * 24 * time.Hour
	maxRevocations   = 100_000

	supabaseUserAgent = "echogen-server"
)

// SupabaseConfig configures the Supabase Auth backend (AUTH_MODE=supabase).
type SupabaseConfig struct {
	// URL is the project URL, SUPABASE_URL (https://<ref>.supabase.co);
	// Supabase Auth answers under {URL}/auth/v1.
	URL string
	// AnonKey is SUPABASE_ANON_KEY (the anon or publishable key), sent as
	// the apikey header of every call made for a user.
	AnonKey string
	// ServiceRoleKey is SUPABASE_SERVICE_ROLE_KEY (the service_role or
	// secret key), used only for the admin calls: reading a user for
	// /auth/me and deleting a purged account.
	ServiceRoleKey string
	// JWTSecret is the project's legacy JWT secret. When set, HS256 access
	// tokens are verified with it; asymmetric (ES256, RS256) tokens are
	// always verified with the keys published at
	// {URL}/auth/v1/.well-known/jwks.json.
	JWTSecret string
	// HTTPClient makes the calls; nil means a new client. Redirects are
	// never followed, so the keys cannot travel to another host.
	HTTPClient *http.Client
	// Timeout bounds each call; zero means DefaultSupabaseTimeout.
	Timeout time.Duration
	// Audience is the required aud claim; empty means "authenticated".
	Audience string
	// Logger receives failures that do not fail the request; nil discards.
	Logger *slog.Logger
	// Revocations, when set, shares the sessions and users this process
	// revokes with the installation's other processes, and theirs with it.
	Revocations echogen.RevocationFeed
}

// Supabase is the auth backend of AUTH_MODE=supabase: accounts, sessions
// and mail live in Supabase Auth (GoTrue), reached over its REST API, and
// access tokens are verified locally with the project's JWT secret or its
// published keys, without a call per request.
//
// Because verification is local, an access token stays valid until it
// expires even after its session ended outside this installation (the
// Supabase dashboard). Sessions that this installation ends (sign-out, a
// password reset, an account purge) are refused at once here, and in its
// other processes through SupabaseConfig.Revocations.
type Supabase struct {
	base       string // {URL}/auth/v1
	anonKey    string
	serviceKey string
	secret     []byte
	client     *http.Client
	timeout    time.Duration
	clock      echogen.Clock
	log        *slog.Logger
	parser     *jwt.Parser
	keys       *keySet
	ids        *identityCache
	revoked    *revocations
	feed       echogen.RevocationFeed // nil: this process alone
}

var _ echogen.Authenticator = (*Supabase)(nil)

// NewSupabase returns the Supabase Auth backend for cfg. It makes no call:
// the key set is fetched when the first asymmetric token arrives.
func NewSupabase(cfg SupabaseConfig, clock echogen.Clock) (*Supabase, error) {
	if clock == nil {
		return nil, errors.New("supabase auth: no clock")
	}
	base, err := supabaseBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.AnonKey) == "" {
		return nil, errors.New("supabase auth: SUPABASE_ANON_KEY is required")
	}
	if strings.TrimSpace(cfg.ServiceRoleKey) == "" {
		return nil, errors.New("supabase auth: SUPABASE_SERVICE_ROLE_KEY is required (it reads users for /auth/me and deletes purged accounts)")
	}
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < MinSecretLength {
		return nil, fmt.Errorf("supabase auth: JWT secret: want at least %d bytes, got %d", MinSecretLength, len(cfg.JWTSecret))
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("supabase auth: timeout %v is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultSupabaseTimeout
	}
	if cfg.Audience == "" {
		cfg.Audience = Audience
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	s := &Supabase{
		base:       base,
		anonKey:    cfg.AnonKey,
		serviceKey: cfg.ServiceRoleKey,
		client:     client,
		timeout:    cfg.Timeout,
		clock:      clock,
		log:        cfg.Logger,
		ids:        &identityCache{m: map[string]cachedIdentity{}},
		revoked:    &revocations{sessions: map[string]time.Time{}, users: map[string]time.Time{}},
		feed:       cfg.Revocations,
	}
	if s.feed != nil {
		s.feed.Subscribe(func(r echogen.Revocation) { s.revoked.add(r, s.clock.Now()) })
	}
	if cfg.JWTSecret != "" {
		s.secret = []byte(cfg.JWTSecret)
	}
	s.parser = jwt.NewParser(
		// Only these: "none", HS384/512 and the rest never verify, and
		// the key function below pairs each with its own kind of key.
		jwt.WithValidMethods([]string{"HS256", "ES256", "RS256"}),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(clock.Now),
	)
	s.keys = newKeySet(base+"/.well-known/jwks.json", http.Header{"Apikey": {cfg.AnonKey}, "User-Agent": {supabaseUserAgent}},
		client, cfg.Timeout, clock, cfg.Logger)
	return s, nil
}

// supabaseBase checks the project URL and returns its auth base URL.
func supabaseBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("supabase auth: SUPABASE_URL must be an http(s) URL such as https://<project-ref>.supabase.co")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("supabase auth: SUPABASE_URL must not carry credentials, a query or a fragment")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/") + "/auth/v1", nil
}

// ---------------------------------------------------------------------------
// Sign-up, sign-in, refresh

// SignUp creates the account with POST /signup. With email confirmation
// off Supabase answers with a session; with it on, with the user alone,
// and SignUp returns the identity and the email_confirmation_required
// error, as the built-in auth does.
func (s *Supabase) SignUp(ctx context.Context, c echogen.Credentials) (*echogen.Identity, *echogen.Tokens, error) {
	email, phone, err := newAccount(c)
	if err != nil {
		return nil, nil, err
	}
	body := map[string]any{"password": c.Password}
	if email != "" {
		body["email"] = email
	} else {
		body["phone"] = phone
	}
	name := strings.TrimSpace(c.FullName)
	if name != "" {
		body["data"] = map[string]any{"full_name": name}
	}
	var r struct {
		tokenResponse
		gotrueUser // the answer is the user itself when there is no session
	}
	if err := s.call(ctx, http.MethodPost, "/signup", nil, asAnon, "", body, &r); err != nil {
		return nil, nil, s.mapError(ctx, "sign up", err)
	}
	if r.AccessToken != "" {
		id, tokens, err := s.session("sign up", &r.tokenResponse)
		if err != nil {
			return nil, nil, err
		}
		if id.FullName == "" {
			id.FullName = name
		}
		return id, tokens, nil
	}
	if !echogen.IsID(r.gotrueUser.ID) {
		return nil, nil, unexpectedAnswer("sign up", errors.New("neither a session nor a user"))
	}
	if r.gotrueUser.Identities != nil && len(*r.gotrueUser.Identities) == 0 {
		// Supabase's answer for an address that already has a confirmed
		// account while confirmation is on: a made-up user, so that the
		// answer does not tell whether the account exists. Answer as for
		// a new account, and create no profile for the made-up id.
		return nil, nil, confirmationRequired(phone != "")
	}
	id := r.gotrueUser.identity()
	if id.FullName == "" {
		id.FullName = name
	}
	return &id, nil, confirmationRequired(phone != "")
}

func confirmationRequired(phone bool) *echogen.Error {
	if phone {
		return echogen.Errorf(echogen.KindPermissionDenied, "phone_confirmation_required",
			"Your account was created. Confirm your phone number with the code we sent you, then sign in.")
	}
	return errConfirmationRequired()
}

// SignIn opens a session with POST /token?grant_type=password.
func (s *Supabase) SignIn(ctx context.Context, c echogen.Credentials) (*echogen.Identity, *echogen.Tokens, error) {
	email, phone, err := identifier(c)
	if err != nil {
		return nil, nil, err
	}
	if c.Password == "" {
		return nil, nil, missing("password")
	}
	body := map[string]any{"password": c.Password}
	if email != "" {
		body["email"] = email
	} else {
		body["phone"] = phone
	}
	var r tokenResponse
	q := url.Values{"grant_type": {"password"}}
	if err := s.call(ctx, http.MethodPost, "/token", q, asAnon, "", body, &r); err != nil {
		return nil, nil, s.signInError(ctx, err)
	}
	return s.session("sign in", &r)
}

// signInError keeps the original server's rule: Supabase's 400 on a
// password grant is the caller's failure to sign in, a 401.
func (s *Supabase) signInError(ctx context.Context, err error) error {
	mapped := s.mapError(ctx, "sign in", err)
	var ge *gotrueError
	var e *echogen.Error
	if errors.As(err, &ge) && ge.Status == http.StatusBadRequest && errors.As(mapped, &e) && e.Kind == echogen.KindBadRequest {
		e.Kind = echogen.KindUnauthenticated
		if e.Code == "auth_error" || e.Code == "invalid_grant" {
			e.Code = "sign_in_failed"
		}
	}
	return mapped
}

// Refresh trades a refresh token with POST /token?grant_type=refresh_token.
// Supabase rotates it; any refusal is a 401.
func (s *Supabase) Refresh(ctx context.Context, refreshToken string, client echogen.ClientInfo) (*echogen.Identity, *echogen.Tokens, error) {
	refreshToken = strings.TrimSpace(refreshToken)
	if refreshToken == "" || len(refreshToken) > maxAccessTokenLen {
		return nil, nil, errInvalidRefreshToken()
	}
	var r tokenResponse
	q := url.Values{"grant_type": {"refresh_token"}}
	err := s.call(ctx, http.MethodPost, "/token", q, asAnon, "", map[string]any{"refresh_token": refreshToken}, &r)
	var ge *gotrueError
	switch {
	case errors.As(err, &ge) && ge.Status >= 400 && ge.Status < 500 && ge.Status != http.StatusTooManyRequests && !ge.apiKeyRefused():
		return nil, nil, refreshError(ge)
	case err != nil:
		return nil, nil, s.mapError(ctx, "refresh", err)
	}
	return s.session("refresh", &r)
}

func refreshError(ge *gotrueError) *echogen.Error {
	var e *echogen.Error
	switch {
	case ge.is([]string{"refresh_token_already_used"}, "invalid refresh token: already used"):
		e = errRefreshTokenReused()
	case ge.is([]string{"session_expired"}, "invalid refresh token: session expired"):
		e = errSessionExpired()
	default:
		e = errInvalidRefreshToken()
	}
	e.Err = ge
	return e
}

// session turns a token answer into the identity and tokens, and caches the
// identity for the /auth/me that follows.
func (s *Supabase) session(op string, r *tokenResponse) (*echogen.Identity, *echogen.Tokens, error) {
	if r.AccessToken == "" || r.User == nil || !echogen.IsID(r.User.ID) {
		return nil, nil, unexpectedAnswer(op, errors.New("no access token or user"))
	}
	id := r.User.identity()
	s.ids.put(id, s.clock.Now())
	return &id, &echogen.Tokens{
		AccessToken:  r.AccessToken,
		RefreshToken: r.RefreshToken,
		ExpiresIn:    time.Duration(r.ExpiresIn) * time.Second,
	}, nil
}

// ---------------------------------------------------------------------------
// Access tokens

// supabaseClaims are the claims of a Supabase Auth access token that we
// read.
type supabaseClaims struct {
	SessionID string `json:"session_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	jwt.RegisteredClaims
}

// Authenticate verifies a Supabase access token locally: HS256 with the JWT
// secret, ES256 and RS256 with the project's published keys; exp, aud,
// role "authenticated" and a UUID sub are required. It makes no call to
// Supabase Auth except to fetch the key set now and then.
func (s *Supabase) Authenticate(ctx context.Context, accessToken string) (*echogen.Principal, error) {
	c, err := s.verify(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	if s.revoked.has(c.Subject, c.SessionID, s.clock.Now()) {
		return nil, errSessionRevoked()
	}
	return &echogen.Principal{
		UserID:      c.Subject,
		SessionID:   c.SessionID,
		Email:       c.Email,
		Role:        c.Role,
		AccessToken: echogen.BearerToken(accessToken),
	}, nil
}

// verify checks a token's signature and claims. Every failure is a
// KindUnauthenticated error, except an unreachable key set, which is
// KindUnavailable.
func (s *Supabase) verify(ctx context.Context, token string) (*supabaseClaims, error) {
	if token == "" || len(token) > maxAccessTokenLen {
		return nil, tokenError("invalid_token", errors.New("empty or oversized token"))
	}
	var c supabaseClaims
	_, err := s.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		switch alg := t.Method.Alg(); alg {
		case "HS256":
			// The secret and nothing else: a public key never verifies an
			// HMAC token, whatever its kid says.
			if s.secret == nil {
				return nil, errors.New("HS256 token, but no JWT secret is configured")
			}
			return s.secret, nil
		case "ES256", "RS256":
			kid, _ := t.Header["kid"].(string)
			if kid == "" {
				return nil, errors.New("token names no kid")
			}
			return s.keys.key(ctx, kid, alg)
		default:
			return nil, fmt.Errorf("algorithm %s is not accepted", alg)
		}
	})
	var de *echogen.Error
	switch {
	case errors.As(err, &de) && de.Kind == echogen.KindUnavailable:
		return nil, de
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid) && !errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, tokenError("token_expired", err)
	case err != nil:
		return nil, tokenError("invalid_token", err)
	case c.Role != "authenticated":
		return nil, tokenError("invalid_token", fmt.Errorf("role %q is not authenticated", c.Role))
	case !echogen.IsID(c.Subject):
		return nil, tokenError("invalid_token", errors.New("sub is not a user id"))
	}
	return &c, nil
}

// ---------------------------------------------------------------------------
// Identity

// Identity reads the user with GET /admin/users/{id} (service role key),
// cached for 30 seconds so /auth/me does not call Supabase on every request.
func (s *Supabase) Identity(ctx context.Context, p echogen.Principal) (*echogen.Identity, error) {
	if !echogen.IsID(p.UserID) {
		return nil, echogen.NotFound("User")
	}
	now := s.clock.Now()
	if id, ok := s.ids.get(p.UserID, now); ok {
		return id, nil
	}
	var u gotrueUser
	err := s.call(ctx, http.MethodGet, "/admin/users/"+p.UserID, nil, asAdmin, "", nil, &u)
	var ge *gotrueError
	switch {
	case errors.As(err, &ge) && ge.Status == http.StatusNotFound:
		return nil, &echogen.Error{Kind: echogen.KindNotFound, Code: "not_found", Message: "User not found", Err: ge}
	case err != nil:
		return nil, s.adminError(ctx, "read user", err)
	case u.ID != p.UserID:
		return nil, unexpectedAnswer("read user", errors.New("the answer is another user"))
	}
	id := u.identity()
	s.ids.put(id, now)
	return &id, nil
}

// adminError maps the failure of a service-role call: a refused key is our
// misconfiguration, not the caller's fault.
func (s *Supabase) adminError(ctx context.Context, op string, err error) error {
	var ge *gotrueError
	if errors.As(err, &ge) && (ge.Status == http.StatusUnauthorized || ge.Status == http.StatusForbidden) {
		s.log.ErrorContext(ctx, "Supabase Auth refused the service role key; check SUPABASE_SERVICE_ROLE_KEY",
			"op", op, "status", ge.Status, "error_code", ge.Code)
		return &echogen.Error{Kind: echogen.KindInternal, Code: "auth_misconfigured",
			Message: "Supabase Auth refused the service role key", Err: ge}
	}
	return s.mapError(ctx, op, err)
}

// ---------------------------------------------------------------------------
// Sessions

// SignOut ends sessions with POST /logout?scope=local|others|global, sent
// with the caller's own token. A session that has already ended is not an
// error. The caller's session is refused here at once; other sessions'
// access tokens stay valid until they expire (verification is local).
func (s *Supabase) SignOut(ctx context.Context, p echogen.Principal, scope echogen.SignOutScope) error {
	switch scope {
	case "":
		scope = echogen.SignOutLocal
	case echogen.SignOutLocal, echogen.SignOutOthers, echogen.SignOutGlobal:
	default:
		return echogen.Invalid([]string{"query", "scope"}, "enum", "scope must be one of local, others, global")
	}
	if p.AccessToken == "" {
		return errors.New("supabase sign out: the principal carries no access token")
	}
	if err := s.logout(ctx, string(p.AccessToken), scope); err != nil {
		return err
	}
	if scope != echogen.SignOutOthers {
		s.revokeToken(ctx, string(p.AccessToken), p.SessionID)
	}
	return nil
}

// logout calls POST /logout as the token's user. 401, 403 and 404 mean
// the session or user is already gone.
func (s *Supabase) logout(ctx context.Context, token string, scope echogen.SignOutScope) error {
	err := s.call(ctx, http.MethodPost, "/logout", url.Values{"scope": {string(scope)}}, asUser, token, nil, nil)
	var ge *gotrueError
	if errors.As(err, &ge) {
		switch ge.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return nil
		}
	}
	if err != nil {
		return s.mapError(ctx, "sign out", err)
	}
	return nil
}

// revokeToken refuses the token's session in this process for as long as
// any of its access tokens can live. sessionID is used when the token no
// longer verifies.
func (s *Supabase) revokeToken(ctx context.Context, token, sessionID string) {
	now := s.clock.Now()
	keep := maxTokenLifetime
	if c, err := s.verify(ctx, token); err == nil {
		sessionID = c.SessionID
		// Older tokens of the session expire no later than this one would
		// if it had just been issued.
		if c.ExpiresAt != nil && c.IssuedAt != nil {
			if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > 0 && life < keep {
				keep = life + time.Minute
			}
		}
	}
	if sessionID != "" {
		s.revoke(ctx, echogen.Revocation{SessionID: sessionID, Until: now.Add(keep)})
	}
}

// Sessions returns the caller's current session alone: Supabase Auth has
// no endpoint that lists a user's sessions. It is built from the access
// token: session_id, iat as the creation time (the time of the last
// refresh), exp as the expiry.
func (s *Supabase) Sessions(ctx context.Context, p echogen.Principal) ([]echogen.Session, error) {
	if p.SessionID == "" {
		return []echogen.Session{}, nil
	}
	now := s.clock.Now()
	sess := echogen.Session{ID: p.SessionID, UserID: p.UserID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now}
	if c, err := s.verify(ctx, string(p.AccessToken)); err == nil {
		if c.IssuedAt != nil {
			sess.CreatedAt = c.IssuedAt.UTC()
		}
		if c.ExpiresAt != nil {
			sess.ExpiresAt = c.ExpiresAt.UTC()
		}
	}
	return []echogen.Session{sess}, nil
}

// RevokeSession ends the caller's own session; other sessions cannot be
// named in Supabase mode.
func (s *Supabase) RevokeSession(ctx context.Context, p echogen.Principal, sessionID string) error {
	if sessionID != "" && sessionID == p.SessionID {
		return s.SignOut(ctx, p, echogen.SignOutLocal)
	}
	return echogen.Errorf(echogen.KindNotImplemented, "sessions_managed_by_supabase",
		"In Supabase mode sessions are managed by Supabase Auth: sign out with scope=others or scope=global to end your other sessions")
}

// ---------------------------------------------------------------------------
// Mail flows

// ForgotPassword asks Supabase Auth to mail a recovery link (POST
// /recover). Like the built-in auth it says nothing about whether the
// account exists; only a malformed email or an unreachable Supabase is an
// error.
func (s *Supabase) ForgotPassword(ctx context.Context, email string) error {
	email, err := mailAddress(email)
	if err != nil {
		return err
	}
	err = s.call(ctx, http.MethodPost, "/recover", nil, asAnon, "", map[string]any{"email": email}, nil)
	return s.silent(ctx, "recover", err)
}

// ResendVerification asks Supabase Auth to mail the sign-up confirmation
// again (POST /resend), silently like ForgotPassword.
func (s *Supabase) ResendVerification(ctx context.Context, email string) error {
	email, err := mailAddress(email)
	if err != nil {
		return err
	}
	err = s.call(ctx, http.MethodPost, "/resend", nil, asAnon, "", map[string]any{"type": "signup", "email": email}, nil)
	return s.silent(ctx, "resend", err)
}

// silent keeps a mail request from telling anything about the account:
// every refusal of Supabase Auth, rate limits included (a per-address limit
// would reveal the address), is logged and answered with nil. A malformed
// address, a Supabase outage and a refused key are still errors.
func (s *Supabase) silent(ctx context.Context, op string, err error) error {
	var ge *gotrueError
	if err == nil || !errors.As(err, &ge) || ge.Status >= 500 || ge.Status < 400 || ge.apiKeyRefused() {
		if err == nil {
			return nil
		}
		return s.mapError(ctx, op, err)
	}
	if ge.is([]string{"email_address_invalid"}, "unable to validate email address") {
		return emailInvalid(ge)
	}
	s.log.WarnContext(ctx, "Supabase Auth refused a mail request; answered as sent",
		"op", op, "status", ge.Status, "error_code", ge.Code, "message", ge.Msg)
	return nil
}

// ResetPassword sets a new password with the token_hash of a recovery link:
// POST /verify {type: recovery} opens a recovery session, PUT /user sets the
// password with it, and POST /logout?scope=global then ends every session
// of the user, as the built-in auth does.
func (s *Supabase) ResetPassword(ctx context.Context, token, password string) error {
	if password == "" {
		return missing("password")
	}
	if err := echogen.CheckPassword(password); err != nil {
		return err
	}
	r, err := s.verifyLink(ctx, "recovery", token)
	if err != nil {
		return err
	}
	err = s.call(ctx, http.MethodPut, "/user", nil, asUser, r.AccessToken, map[string]any{"password": password}, nil)
	if err != nil {
		// The link is used up either way; do not leave its session open.
		s.closeLinkSession(ctx, r, echogen.SignOutLocal)
		var ge *gotrueError
		if errors.As(err, &ge) && (ge.Status == http.StatusUnauthorized || ge.Status == http.StatusForbidden) &&
			!ge.is([]string{"same_password", "weak_password"}) {
			e := errInvalidOneTimeToken()
			e.Err = ge
			return e
		}
		return s.mapError(ctx, "update password", err)
	}
	// Whoever held the old password may hold a session. (Their access
	// tokens verify here until they expire: verification is local.)
	s.closeLinkSession(ctx, r, echogen.SignOutGlobal)
	s.ids.drop(r.User.ID)
	return nil
}

// VerifyEmail confirms an address with the token_hash of a confirmation
// link (POST /verify {type: email}). The session Supabase opens for the link
// is closed at once: confirming is not signing in.
func (s *Supabase) VerifyEmail(ctx context.Context, token string) error {
	r, err := s.verifyLink(ctx, "email", token)
	if err != nil {
		return err
	}
	s.closeLinkSession(ctx, r, echogen.SignOutLocal)
	s.ids.drop(r.User.ID)
	return nil
}

// linkSession is the session POST /verify opens.
type linkSession struct {
	tokenResponse
}

// verifyLink redeems a mailed token_hash. Every refusal is the built-in's
// invalid_token error.
func (s *Supabase) verifyLink(ctx context.Context, typ, tokenHash string) (*linkSession, error) {
	tokenHash = strings.TrimSpace(tokenHash)
	if tokenHash == "" || len(tokenHash) > 1024 {
		return nil, errInvalidOneTimeToken()
	}
	var r linkSession
	err := s.call(ctx, http.MethodPost, "/verify", nil, asAnon, "", map[string]any{"type": typ, "token_hash": tokenHash}, &r.tokenResponse)
	var ge *gotrueError
	switch {
	case errors.As(err, &ge) && ge.Status >= 400 && ge.Status < 500 && ge.Status != http.StatusTooManyRequests && !ge.apiKeyRefused():
		e := errInvalidOneTimeToken()
		e.Err = ge
		return nil, e
	case err != nil:
		return nil, s.mapError(ctx, "verify", err)
	case r.AccessToken == "" || r.User == nil || !echogen.IsID(r.User.ID):
		return nil, unexpectedAnswer("verify", errors.New("no session"))
	}
	return &r, nil
}

// closeLinkSession signs out the session of a redeemed link, logging a
// failure: the link did its work either way.
func (s *Supabase) closeLinkSession(ctx context.Context, r *linkSession, scope echogen.SignOutScope) {
	if err := s.logout(ctx, r.AccessToken, scope); err != nil {
		s.log.WarnContext(ctx, "close the session of a redeemed mail link", "user_id", r.User.ID, "scope", string(scope), "error", err.Error())
	}
	s.revokeToken(ctx, r.AccessToken, "")
}

// mailAddress checks an email the way the built-in mail flows do.
func mailAddress(email string) (string, error) {
	if strings.TrimSpace(email) == "" {
		return "", missing("email")
	}
	return echogen.NormalizeEmail(email)
}

// ---------------------------------------------------------------------------
// Purge

// DeleteIdentity deletes the user from Supabase Auth with DELETE
// /admin/users/{id} (service role key). A missing user is success. The
// user's tokens are refused here from now on.
func (s *Supabase) DeleteIdentity(ctx context.Context, userID string) error {
	if !echogen.IsID(userID) {
		return nil // no such user can exist in Supabase Auth
	}
	err := s.call(ctx, http.MethodDelete, "/admin/users/"+userID, nil, asAdmin, "", nil, nil)
	var ge *gotrueError
	if err != nil && !(errors.As(err, &ge) && ge.Status == http.StatusNotFound) {
		return s.adminError(ctx, "delete user", err)
	}
	s.revoke(ctx, echogen.Revocation{UserID: userID, Until: s.clock.Now().Add(maxTokenLifetime)})
	s.ids.drop(userID)
	return nil
}

// ---------------------------------------------------------------------------
// GoTrue wire format

// tokenResponse is GoTrue's AccessTokenResponse.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    int64       `json:"expires_in"`
	ExpiresAt    int64       `json:"expires_at"`
	RefreshToken string      `json:"refresh_token"`
	User         *gotrueUser `json:"user"`
}

// gotrueUser is the part of GoTrue's user object we read.
type gotrueUser struct {
	ID               string             `json:"id"`
	Email            string             `json:"email"`
	Phone            string             `json:"phone"`
	UserMetadata     map[string]any     `json:"user_metadata"`
	Identities       *[]json.RawMessage `json:"identities"` // nil when absent
	CreatedAt        gotrueTime         `json:"created_at"`
	LastSignInAt     gotrueTime         `json:"last_sign_in_at"`
	EmailConfirmedAt gotrueTime         `json:"email_confirmed_at"`
}

func (u *gotrueUser) identity() echogen.Identity {
	id := echogen.Identity{
		UserID:    u.ID,
		Email:     u.Email,
		Phone:     u.Phone,
		CreatedAt: u.CreatedAt.Time,
	}
	if id.Phone != "" && !strings.HasPrefix(id.Phone, "+") {
		id.Phone = "+" + id.Phone // GoTrue keeps E.164 numbers without the plus
	}
	for _, k := range []string{"full_name", "fullName"} {
		if v, ok := u.UserMetadata[k].(string); ok && strings.TrimSpace(v) != "" {
			id.FullName = strings.TrimSpace(v)
			break
		}
	}
	if !u.EmailConfirmedAt.IsZero() {
		t := u.EmailConfirmedAt.Time
		id.EmailConfirmedAt = &t
	}
	if !u.LastSignInAt.IsZero() {
		t := u.LastSignInAt.Time
		id.LastSignInAt = &t
	}
	return id
}

// gotrueTime reads GoTrue's timestamps: RFC 3339, null or "".
type gotrueTime struct{ time.Time }

func (t *gotrueTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q", s)
}

// authAs says which credentials a call carries.
type authAs int

const (
	asAnon  authAs = iota // apikey: anon key
	asUser                // apikey: anon key; Authorization: the user's token
	asAdmin               // apikey and Authorization: the service role key
)

// call makes one request to Supabase Auth and decodes a 2xx answer into
// out. A non-2xx answer is a *gotrueError, a failed exchange a
// *transportError; neither carries a key, a token or a password.
func (s *Supabase) call(ctx context.Context, method, path string, query url.Values, as authAs, userToken string, body, out any) error {
	op := method + " " + path
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	u := s.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, stripURL(err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", supabaseUserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch as {
	case asAnon:
		req.Header.Set("apikey", s.anonKey)
	case asUser:
		req.Header.Set("apikey", s.anonKey)
		req.Header.Set("Authorization", "Bearer "+userToken)
	case asAdmin:
		req.Header.Set("apikey", s.serviceKey)
		// A legacy service_role key is a JWT and goes in both headers; a
		// new secret key (sb_secret_…) only in apikey, where the gateway
		// accepts it.
		if strings.Count(s.serviceKey, ".") == 2 {
			req.Header.Set("Authorization", "Bearer "+s.serviceKey)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &transportError{op: op, err: stripURL(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxGoTrueBody+1))
	if err != nil {
		return &transportError{op: op, err: stripURL(err)}
	}
	if len(data) > maxGoTrueBody {
		return &transportError{op: op, err: fmt.Errorf("answer over %d bytes", maxGoTrueBody)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseGoTrueError(op, resp, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return &transportError{op: op, err: fmt.Errorf("decode answer: %w", err)}
		}
	}
	return nil
}

// stripURL drops the request URL from a client error: the error of the
// exchange is what matters, and the URL is not ours to log.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// transportError is a call that got no usable answer.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string { return "supabase auth " + e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// gotrueError is a non-2xx answer of Supabase Auth. GoTrue answers in
// three shapes: {"code":400,"error_code":"…","msg":"…"}, with the
// X-Supabase-Api-Version 2024-01-01 header {"code":"…","message":"…"}, and
// the OAuth shape {"error":"invalid_grant","error_description":"…"}; the
// gateway in front of it answers {"message":"…"}.
type gotrueError struct {
	op         string
	Status     int
	Code       string // error_code, the string code, or the OAuth error
	Msg        string // msg | message | error_description | error
	RetryAfter time.Duration
}

func (e *gotrueError) Error() string {
	return fmt.Sprintf("supabase auth %s: status %d %s: %q", e.op, e.Status, e.Code, e.Msg)
}

func parseGoTrueError(op string, resp *http.Response, data []byte) *gotrueError {
	e := &gotrueError{op: op, Status: resp.StatusCode}
	var b struct {
		Code             json.RawMessage `json:"code"`
		ErrorCode        string          `json:"error_code"`
		Msg              string          `json:"msg"`
		Message          string          `json:"message"`
		ErrorDescription string          `json:"error_description"`
		Error            string          `json:"error"`
	}
	if json.Unmarshal(data, &b) == nil {
		var code string
		_ = json.Unmarshal(b.Code, &code) // a string in the 2024-01-01 shape, else a number
		for _, c := range []string{b.ErrorCode, code, b.Error} {
			if c != "" {
				e.Code = c
				break
			}
		}
		for _, m := range []string{b.Msg, b.Message, b.ErrorDescription, b.Error} {
			if m != "" {
				e.Msg = m
				break
			}
		}
	}
	if len(e.Msg) > 500 {
		e.Msg = e.Msg[:500]
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// is reports whether e carries one of codes, or a message that starts with
// one of msgs (lowercase), for GoTrue versions without error codes.
func (e *gotrueError) is(codes []string, msgs ...string) bool {
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	m := strings.ToLower(strings.TrimSpace(e.Msg))
	for _, p := range msgs {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// apiKeyRefused reports the gateway's answer to a wrong or missing apikey.
func (e *gotrueError) apiKeyRefused() bool {
	m := strings.ToLower(e.Msg)
	return e.Status == http.StatusUnauthorized &&
		(strings.Contains(m, "invalid api key") || strings.Contains(m, "no api key") || e.Msg == "")
}

// gotrueRule maps GoTrue errors to ours.
type gotrueRule struct {
	codes []string
	msgs  []string // lowercase message prefixes
	err   func(e *gotrueError) *echogen.Error
}

// gotrueRules are tried in order after the status-based rules of mapError.
// They return the built-in auth's errors wherever one means the same.
var gotrueRules = []gotrueRule{
	{[]string{"invalid_credentials"}, []string{"invalid login credentials"},
		func(*gotrueError) *echogen.Error { return errInvalidCredentials() }},
	{[]string{"email_not_confirmed"}, []string{"email not confirmed"},
		func(*gotrueError) *echogen.Error { return errEmailNotConfirmed() }},
	{[]string{"phone_not_confirmed"}, []string{"phone not confirmed"},
		func(*gotrueError) *echogen.Error {
			return echogen.Errorf(echogen.KindUnauthenticated, "phone_not_confirmed", "Phone not confirmed")
		}},
	{[]string{"user_already_exists", "email_exists", "phone_exists"},
		[]string{"user already registered", "a user with this email address has already been registered", "a user with this phone number has already been registered"},
		func(*gotrueError) *echogen.Error { return errUserExists(nil) }},
	{[]string{"weak_password"}, []string{"password should", "password is known to be weak"},
		func(e *gotrueError) *echogen.Error {
			return echogen.Invalid([]string{"body", "password"}, "weak_password", orDefault(e.Msg, "Password is too weak"))
		}},
	{[]string{"same_password"}, []string{"new password should be different"},
		func(e *gotrueError) *echogen.Error {
			return echogen.Invalid([]string{"body", "password"}, "same_password", orDefault(e.Msg, "New password should be different from the old password."))
		}},
	{[]string{"email_address_invalid"}, []string{"unable to validate email address"},
		emailInvalid},
	{[]string{"signup_disabled"}, []string{"signups not allowed"},
		func(*gotrueError) *echogen.Error {
			return echogen.Errorf(echogen.KindPermissionDenied, "signup_disabled", "Signups not allowed for this instance")
		}},
	{[]string{"email_provider_disabled", "phone_provider_disabled", "provider_disabled"},
		[]string{"email signups are disabled", "phone signups are disabled", "email logins are disabled", "phone logins are disabled"},
		func(e *gotrueError) *echogen.Error {
			return echogen.Errorf(echogen.KindNotImplemented, "method_not_supported", "%s", orDefault(e.Msg, "Selected method will be available soon"))
		}},
	{[]string{"user_banned"}, []string{"user is banned"},
		func(*gotrueError) *echogen.Error {
			return echogen.Errorf(echogen.KindPermissionDenied, "user_banned", "User is banned")
		}},
	{[]string{"otp_expired"}, []string{"token has expired or is invalid", "email link is invalid or has expired"},
		func(*gotrueError) *echogen.Error { return errInvalidOneTimeToken() }},
	{[]string{"session_not_found", "session_expired", "bad_jwt", "no_authorization"}, nil,
		func(*gotrueError) *echogen.Error { return errSessionRevoked() }},
}

func emailInvalid(*gotrueError) *echogen.Error {
	return echogen.Invalid([]string{"body", "email"}, "value_error", "value is not a valid email address")
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

var safeCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// mapError turns any failed call into the error the caller sees: an
// outage is KindUnavailable, a 429 KindRateLimited, a refused API key an
// internal error, a known GoTrue error the built-in auth's error, and any
// other 4xx KindBadRequest with Supabase's message.
func (s *Supabase) mapError(ctx context.Context, op string, err error) error {
	var te *transportError
	if errors.As(err, &te) {
		s.log.WarnContext(ctx, "Supabase Auth unreachable", "op", op, "error", err.Error())
		return errAuthUnavailable(err)
	}
	var ge *gotrueError
	if !errors.As(err, &ge) {
		return fmt.Errorf("supabase %s: %w", op, err)
	}
	switch {
	case ge.Status >= 500 || ge.Status < 400: // an outage, or a redirect we do not follow
		s.log.WarnContext(ctx, "Supabase Auth failed", "op", op, "status", ge.Status, "error_code", ge.Code, "message", ge.Msg)
		return errAuthUnavailable(ge)
	case ge.Status == http.StatusTooManyRequests || ge.is([]string{"over_request_rate_limit", "over_email_send_rate_limit", "over_sms_send_rate_limit"}):
		retry := ge.RetryAfter
		if retry <= 0 {
			retry = time.Minute
		}
		return &echogen.Error{Kind: echogen.KindRateLimited, Code: "rate_limited",
			Message: orDefault(ge.Msg, "Too many requests; try again later"), RetryAfter: retry, Err: ge}
	case ge.apiKeyRefused():
		s.log.ErrorContext(ctx, "Supabase Auth refused the API key; check SUPABASE_ANON_KEY and SUPABASE_URL", "op", op, "status", ge.Status)
		return &echogen.Error{Kind: echogen.KindInternal, Code: "auth_misconfigured", Message: "Supabase Auth refused the API key", Err: ge}
	}
	for _, r := range gotrueRules {
		if ge.is(r.codes, r.msgs...) {
			e := r.err(ge)
			e.Err = ge
			return e
		}
	}
	code := "auth_error"
	if safeCode.MatchString(ge.Code) {
		code = ge.Code
	}
	return &echogen.Error{Kind: echogen.KindBadRequest, Code: code,
		Message: orDefault(ge.Msg, "Supabase Auth refused the request"), Err: ge}
}

func errAuthUnavailable(cause error) *echogen.Error {
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: "auth_unavailable",
		Message: "The sign-in service is unavailable; try again shortly", Err: cause}
}

func unexpectedAnswer(op string, cause error) *echogen.Error {
	return errAuthUnavailable(fmt.Errorf("supabase %s: unexpected answer: %w", op, cause))
}

// ---------------------------------------------------------------------------
// In-process caches

// identityCache keeps identities for identityCacheTTL, at most
// identityCacheMax of them.
type identityCache struct {
	mu sync.Mutex
	m  map[string]cachedIdentity
}

type cachedIdentity struct {
	id echogen.Identity
	at time.Time
}

func (c *identityCache) get(userID string, now time.Time) (*echogen.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[userID]
	if !ok || now.Sub(e.at) >= identityCacheTTL || now.Before(e.at) {
		return nil, false
	}
	return copyIdentity(e.id), true
}

func (c *identityCache) put(id echogen.Identity, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id.UserID]; !ok && len(c.m) >= identityCacheMax {
		for k, e := range c.m {
			if now.Sub(e.at) >= identityCacheTTL {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: make room at random
			if len(c.m) < identityCacheMax {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id.UserID] = cachedIdentity{id: *copyIdentity(id), at: now}
}

func (c *identityCache) drop(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, userID)
}

func copyIdentity(id echogen.Identity) *echogen.Identity {
	if id.LastSignInAt != nil {
		t := *id.LastSignInAt
		id.LastSignInAt = &t
	}
	return &id
}

// revocations are the sessions and users whose tokens this process
// refuses before they expire: sessions signed out here, and users whose
// account was purged. Each entry lasts as long as a token it refuses could.
type revocations struct {
	mu       sync.Mutex
	sessions map[string]time.Time // session id → entry expiry
	users    map[string]time.Time // user id → entry expiry
}

// revoke refuses the tokens here and tells the other processes.
func (s *Supabase) revoke(ctx context.Context, r echogen.Revocation) {
	s.revoked.add(r, s.clock.Now())
	if s.feed != nil {
		s.feed.Publish(ctx, r)
	}
}

func (r *revocations) add(rev echogen.Revocation, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev.SessionID != "" {
		extend(r.sessions, rev.SessionID, rev.Until, now)
	}
	if rev.UserID != "" {
		extend(r.users, rev.UserID, rev.Until, now)
	}
}

// extend keeps id refused until until, or longer if it already was.
func extend(m map[string]time.Time, id string, until, now time.Time) {
	prune(m, now)
	if until.After(m[id]) {
		m[id] = until
	}
}

func (r *revocations) has(userID, sessionID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if until, ok := r.sessions[sessionID]; ok && sessionID != "" && now.Before(until) {
		return true
	}
	if until, ok := r.users[userID]; ok && now.Before(until) {
		return true
	}
	return false
}

// prune drops expired entries of a full map, then arbitrary ones.
func prune(m map[string]time.Time, now time.Time) {
	if len(m) < maxRevocations {
		return
	}
	for k, until := range m {
		if !now.Before(until) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < maxRevocations {
			return
		}
		delete(m, k)
	}
}

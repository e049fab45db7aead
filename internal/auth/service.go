package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// Defaults of Config.
const (
	DefaultSessionTTL        = 30 * 24 * time.Hour
	DefaultRefreshReuseGrace = 10 * time.Second
	DefaultResetTokenTTL     = 30 * time.Minute
	DefaultVerifyTokenTTL    = 24 * time.Hour
	DefaultAppName           = "EchoGen.ai"
)

// touchInterval is how often Authenticate records that a session is in
// use, so a busy client does not write on every request.
const touchInterval = time.Minute

// maxUserAgent caps the user agent kept with a session.
const maxUserAgent = 512

// cleanUserAgent is the header as a session keeps it: valid UTF-8 without
// NULs (PostgreSQL's text takes neither; a client's raw bytes made sign-in
// a 500 there), at most maxUserAgent bytes.
func cleanUserAgent(ua string) string {
	return truncate(strings.ToValidUTF8(strings.ReplaceAll(ua, "\x00", ""), "\uFFFD"), maxUserAgent)
}

// Config tunes the built-in auth. Zero values mean the defaults.
type Config struct {
	// SessionTTL is how long a session lives after its last use.
	SessionTTL time.Duration
	// RefreshReuseGrace is how long after its first use a refresh token
	// may be presented again (two requests racing, a retried response
	// lost on a flaky network) before that counts as theft.
	RefreshReuseGrace time.Duration
	ResetTokenTTL     time.Duration
	VerifyTokenTTL    time.Duration
	// EmailConfirmationRequired makes email accounts confirm their address
	// before they can sign in.
	EmailConfirmationRequired bool
	// PasswordResetURL and EmailVerifyURL are optional link prefixes for
	// the mails; the token is appended as ?token=. Without them the mail
	// carries the token alone, to paste into the app.
	PasswordResetURL string
	EmailVerifyURL   string
	AppName          string
	// Logger receives failures that do not fail the request; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"session TTL", &c.SessionTTL, DefaultSessionTTL},
		{"refresh reuse grace", &c.RefreshReuseGrace, DefaultRefreshReuseGrace},
		{"reset token TTL", &c.ResetTokenTTL, DefaultResetTokenTTL},
		{"verify token TTL", &c.VerifyTokenTTL, DefaultVerifyTokenTTL},
	} {
		if *d.v < 0 {
			return c, fmt.Errorf("%s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for _, l := range []struct{ name, url string }{
		{"password reset URL", c.PasswordResetURL},
		{"email verify URL", c.EmailVerifyURL},
	} {
		if l.url != "" {
			if err := echogen.CheckHTTPURL(l.url); err != nil {
				return c, fmt.Errorf("%s %q: %w", l.name, l.url, err)
			}
		}
	}
	if c.AppName == "" {
		c.AppName = DefaultAppName
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Service is the built-in auth backend: accounts with argon2id passwords,
// short-lived JWT access tokens, and sessions whose opaque refresh tokens
// rotate on every use.
type Service struct {
	cfg      Config
	users    echogen.UserStore
	sessions echogen.SessionStore
	tokens   echogen.OneTimeTokenStore
	mail     echogen.MailQueue
	hasher   *PasswordHasher
	signer   *TokenSigner
	clock    echogen.Clock
	log      *slog.Logger
}

var _ echogen.Authenticator = (*Service)(nil)

// NewService returns the built-in auth backend. A whole echogen.Store
// serves as users, sessions and tokens.
func NewService(cfg Config, users echogen.UserStore, sessions echogen.SessionStore, tokens echogen.OneTimeTokenStore,
	mail echogen.MailQueue, hasher *PasswordHasher, signer *TokenSigner, clock echogen.Clock) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("auth config: %w", err)
	}
	return &Service{
		cfg: cfg, users: users, sessions: sessions, tokens: tokens, mail: mail,
		hasher: hasher, signer: signer, clock: clock, log: cfg.Logger,
	}, nil
}

// DeleteIdentity has nothing to do in built-in mode: the store's
// FinishDeletion deletes the users row in the same transaction as the rest
// of the user's rows (sessions, refresh and one-time tokens included), so
// a purge never leaves a user without their data or data without a user.
func (s *Service) DeleteIdentity(ctx context.Context, userID string) error {
	return nil
}

// Identity returns who the caller is.
func (s *Service) Identity(ctx context.Context, p echogen.Principal) (*echogen.Identity, error) {
	u, err := s.users.UserByID(ctx, p.UserID)
	if err != nil {
		if echogen.ErrorKind(err) == echogen.KindNotFound {
			return nil, echogen.NotFound("User")
		}
		return nil, fmt.Errorf("load user: %w", err)
	}
	return identity(u), nil
}

func identity(u *echogen.User) *echogen.Identity {
	return &echogen.Identity{
		UserID:           u.ID,
		Email:            u.Email,
		Phone:            u.Phone,
		CreatedAt:        u.CreatedAt,
		LastSignInAt:     u.LastSignInAt,
		EmailConfirmedAt: u.EmailConfirmedAt,
	}
}

// openSession starts a session for u with its first refresh token and
// returns the session's tokens.
func (s *Service) openSession(ctx context.Context, u *echogen.User, client echogen.ClientInfo, now time.Time) (*echogen.Tokens, error) {
	refresh, hash := newOpaqueToken()
	sess := &echogen.Session{
		ID:         echogen.NewID(),
		UserID:     u.ID,
		UserAgent:  cleanUserAgent(client.UserAgent),
		IP:         client.IP,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionTTL),
	}
	first := &echogen.RefreshToken{ID: echogen.NewID(), SessionID: sess.ID, TokenHash: hash, CreatedAt: now}
	if err := s.sessions.CreateSession(ctx, sess, first); err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return s.tokensFor(u, sess.ID, refresh)
}

// tokensFor signs an access token for the user's session and pairs it with
// the refresh token.
func (s *Service) tokensFor(u *echogen.User, sessionID, refresh string) (*echogen.Tokens, error) {
	access, err := s.signer.Sign(echogen.Principal{UserID: u.ID, SessionID: sessionID, Email: u.Email, Role: u.Role})
	if err != nil {
		return nil, err
	}
	return &echogen.Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.signer.TTL()}, nil
}

// link returns prefix?token=token, or "" without a prefix.
func link(prefix, token string) string {
	if prefix == "" {
		return ""
	}
	u, err := url.Parse(prefix) // checked by NewService
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

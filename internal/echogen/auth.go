package echogen

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// AuthMethod is how a user signs up or in.
type AuthMethod string

const (
	MethodEmail  AuthMethod = "email"
	MethodPhone  AuthMethod = "phone"
	MethodGoogle AuthMethod = "google"
	MethodApple  AuthMethod = "apple"
	MethodGitHub AuthMethod = "github"
)

// Password length limits. The upper bound keeps hashing cost predictable.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// ClientInfo describes where a request came from, for the sessions list and
// for rate limits.
type ClientInfo struct {
	UserAgent string
	IP        string
}

// Credentials are what a sign-up or sign-in carries.
type Credentials struct {
	Method   AuthMethod
	Email    string
	Phone    string
	Password string
	FullName string // sign-up only
	Client   ClientInfo
}

// SignOutScope says which sessions a sign-out ends.
type SignOutScope string

const (
	SignOutLocal  SignOutScope = "local"  // the current session
	SignOutOthers SignOutScope = "others" // every session but the current one
	SignOutGlobal SignOutScope = "global" // every session
)

// Session is one signed-in device (table user_sessions).
type Session struct {
	ID         string
	UserID     string
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

// ActiveAt reports whether the session can still be used at t.
func (s *Session) ActiveAt(t time.Time) bool {
	return s.RevokedAt == nil && t.Before(s.ExpiresAt)
}

// RefreshToken is one link of a session's refresh-token chain. Only its
// hash is stored.
type RefreshToken struct {
	ID        string
	SessionID string
	TokenHash string
	ParentID  string // "" for the first token of a session
	CreatedAt time.Time
	UsedAt    *time.Time
}

// TokenPurpose says what a one-time token is for.
type TokenPurpose string

const (
	PurposePasswordReset     TokenPurpose = "password_reset"
	PurposeEmailVerification TokenPurpose = "email_verification"
)

// OneTimeToken is a single-use token sent by mail. Only its hash is stored.
type OneTimeToken struct {
	ID        string
	UserID    string
	Purpose   TokenPurpose
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Authenticator is the auth backend: the built-in one (package auth) or
// Supabase Auth. Errors are *Error values with client-safe messages.
type Authenticator interface {
	// SignUp creates the account and opens a session. When the account is
	// created but must confirm its email first, it returns the identity,
	// no tokens, and an error with code email_confirmation_required.
	SignUp(ctx context.Context, c Credentials) (*Identity, *Tokens, error)
	SignIn(ctx context.Context, c Credentials) (*Identity, *Tokens, error)
	Refresh(ctx context.Context, refreshToken string, client ClientInfo) (*Identity, *Tokens, error)
	// Authenticate verifies an access token and returns its caller.
	Authenticate(ctx context.Context, accessToken string) (*Principal, error)
	Identity(ctx context.Context, p Principal) (*Identity, error)
	SignOut(ctx context.Context, p Principal, scope SignOutScope) error
	Sessions(ctx context.Context, p Principal) ([]Session, error)
	RevokeSession(ctx context.Context, p Principal, sessionID string) error
	// ForgotPassword sends a reset mail when the account exists and says
	// nothing either way.
	ForgotPassword(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, password string) error
	VerifyEmail(ctx context.Context, token string) error
	ResendVerification(ctx context.Context, email string) error
	// DeleteIdentity removes the user from the auth backend, the last step
	// of an account purge. Deleting a missing user is not an error.
	DeleteIdentity(ctx context.Context, userID string) error
}

// Mail is one message to send.
type Mail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// MailQueue hands mail to a background job so a slow mail server never holds
// up a request.
type MailQueue interface {
	EnqueueMail(ctx context.Context, m Mail) error
}

// Mailer delivers mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// The client's own email check (lib/screens), kept so we accept what it does.
var emailShape = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizeEmail trims and lowercases an email and checks its shape.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > 254 || !emailShape.MatchString(email) {
		return "", Invalid([]string{"body", "email"}, "value_error", "value is not a valid email address")
	}
	if _, err := mail.ParseAddress(email); err != nil {
		return "", Invalid([]string{"body", "email"}, "value_error", "value is not a valid email address")
	}
	return email, nil
}

// NormalizePhone checks that phone is an E.164 number such as +14155550123.
func NormalizePhone(phone string) (string, error) {
	phone = strings.TrimSpace(phone)
	if !e164.MatchString(phone) {
		return "", Invalid([]string{"body", "phoneNumber"}, "value_error", "phone number must be in E.164 format, such as +14155550123")
	}
	return phone, nil
}

// CheckPassword enforces the password length rules.
func CheckPassword(password string) error {
	n := len([]rune(password))
	if n < MinPasswordLength {
		return Invalid([]string{"body", "password"}, "string_too_short", "password must be at least 8 characters")
	}
	if n > MaxPasswordLength {
		return Invalid([]string{"body", "password"}, "string_too_long", "password must be at most 128 characters")
	}
	return nil
}

// Revocation says that a session's, or all of a user's, access tokens must
// be refused until Until, in every process of the installation: an auth
// backend that verifies tokens locally (Supabase) cannot otherwise know
// that another process signed the session out.
type Revocation struct {
	SessionID string    `json:"session_id,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	Until     time.Time `json:"until"`
}

// RevocationFeed carries revocations between the processes of an
// installation.
type RevocationFeed interface {
	// Publish tells the other processes.
	Publish(ctx context.Context, r Revocation)
	// Subscribe calls fn with every revocation another process publishes.
	Subscribe(fn func(Revocation))
}

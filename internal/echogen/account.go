package echogen

import (
	"log/slog"
	"time"
)

// User is an account of the built-in auth. In Supabase mode the users live in
// Supabase Auth and this table stays empty.
type User struct {
	ID               string
	Email            string // lowercased; "" for a phone account
	Phone            string // E.164; "" for an email account
	PasswordHash     string // argon2id PHC string
	Role             string
	EmailConfirmedAt *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastSignInAt     *time.Time
}

// Profile is what a user tells us about themselves (table profiles).
type Profile struct {
	UserID              string
	FullName            *string
	AvatarURL           *string
	Bio                 *string
	Preferences         map[string]any // nil when never set
	OnboardingCompleted bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// OnboardingAnswer is one answer of the onboarding questionnaire.
type OnboardingAnswer struct {
	QuestionID string `json:"questionId"`
	Question   string `json:"question"`
	Answer     any    `json:"answer"`
}

// DeletionRequest is a scheduled account deletion (table
// account_deletion_requests). It is active while neither cancelled nor
// completed.
type DeletionRequest struct {
	ID           string
	UserID       string
	RequestedAt  time.Time
	ScheduledFor time.Time
	CancelledAt  *time.Time
	CompletedAt  *time.Time
}

// Active reports whether the deletion will still happen.
func (d *DeletionRequest) Active() bool {
	return d != nil && d.CancelledAt == nil && d.CompletedAt == nil
}

// DeletionAudit records a purge. It has no foreign key to the user, so it
// outlives them.
type DeletionAudit struct {
	RequestID      string
	UserID         string
	RequestedAt    time.Time
	ScheduledFor   time.Time
	StartedAt      time.Time
	CompletedAt    *time.Time
	ObjectsDeleted int
}

// Identity is who a user is according to the auth backend (built-in or
// Supabase Auth).
type Identity struct {
	UserID       string
	Email        string
	Phone        string
	FullName     string // from sign-up metadata; the profile's value wins
	CreatedAt    time.Time
	LastSignInAt *time.Time
	// EmailConfirmedAt is when the user proved the address is theirs; nil
	// when they have not (yet).
	EmailConfirmedAt *time.Time
}

// Principal is the caller of an authenticated request, read from a verified
// access token.
type Principal struct {
	UserID    string
	SessionID string
	Email     string
	Role      string
	// AccessToken is the bearer token the request came with. Only an auth
	// backend that must call its auth server as the user sets it (Supabase
	// Auth: sign-out); the built-in auth leaves it empty. It is never
	// serialized, and it prints and logs as "[redacted]".
	AccessToken BearerToken `json:"-"`
}

// BearerToken is a caller's raw access token. Its String, GoString,
// LogValue and MarshalText all give "[redacted]", so printing or logging a
// Principal cannot leak it; use string(t) where the token itself is meant.
type BearerToken string

const redacted = "[redacted]"

func (BearerToken) String() string               { return redacted }
func (BearerToken) GoString() string             { return `"` + redacted + `"` }
func (BearerToken) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (BearerToken) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Account is the user profile the client reads: identity, profile and any
// pending deletion.
type Account struct {
	Identity        Identity
	Profile         Profile
	PendingDeletion *DeletionRequest
}

// Tokens are a session's credentials.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
}

// AuthResult is the answer to a sign-up, sign-in or refresh.
type AuthResult struct {
	Account *Account
	Tokens  Tokens
}

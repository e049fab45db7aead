package echogen

import (
	"context"
	"time"
)

// The store ports. One implementation (package sqlstore) serves both SQLite
// and PostgreSQL; package storetest holds the suite both must pass.
//
// Conventions: a missing row is a *Error of KindNotFound; a lookup by a
// user's id never returns another user's row; times are UTC.

// UserStore keeps the built-in auth's users.
type UserStore interface {
	// CreateUser inserts u. A taken email or phone is KindConflict.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserByPhone(ctx context.Context, phone string) (*User, error)
	RecordSignIn(ctx context.Context, userID string, at time.Time) error
	SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error
	ConfirmEmail(ctx context.Context, userID string, at time.Time) error
}

// SessionStore keeps sessions and their refresh-token chains.
type SessionStore interface {
	// CreateSession inserts s and its first refresh token in one transaction.
	CreateSession(ctx context.Context, s *Session, first *RefreshToken) error
	Session(ctx context.Context, id string) (*Session, error)
	// TouchSession records use of the session and moves its expiry.
	TouchSession(ctx context.Context, id string, usedAt, expiresAt time.Time) error
	// RevokeSession ends one of the user's sessions; another user's session
	// is KindNotFound.
	RevokeSession(ctx context.Context, userID, sessionID string, at time.Time) error
	// RevokeUserSessions ends every session of the user except keepID
	// ("" ends them all).
	RevokeUserSessions(ctx context.Context, userID, keepID string, at time.Time) error
	// ListSessions returns the user's sessions that are active at t, newest first.
	ListSessions(ctx context.Context, userID string, t time.Time) ([]Session, error)
	RefreshTokenByHash(ctx context.Context, hash string) (*RefreshToken, error)
	// MarkRefreshTokenUsed sets used_at if it is unset and reports whether
	// this call did it, so two racing refreshes cannot both be first.
	MarkRefreshTokenUsed(ctx context.Context, id string, at time.Time) (bool, error)
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
}

// OneTimeTokenStore keeps password-reset and email-verification tokens.
type OneTimeTokenStore interface {
	CreateOneTimeToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeOneTimeToken marks the unused, unexpired token with this
	// purpose and hash as used and returns it; anything else is KindNotFound.
	ConsumeOneTimeToken(ctx context.Context, purpose TokenPurpose, hash string, at time.Time) (*OneTimeToken, error)
}

// ProfileStore keeps profiles and onboarding answers.
type ProfileStore interface {
	Profile(ctx context.Context, userID string) (*Profile, error)
	// ProfileAndDeletion returns the profile and the user's active deletion
	// request (nil when none) in one read: every profile answer shows both.
	ProfileAndDeletion(ctx context.Context, userID string) (*Profile, *DeletionRequest, error)
	// CreateProfile inserts p unless the user already has a profile.
	CreateProfile(ctx context.Context, p *Profile) error
	// UpdateProfile reads the profile, calls update on it and writes the
	// result back, all in one transaction.
	UpdateProfile(ctx context.Context, userID string, at time.Time, update func(*Profile) error) (*Profile, error)
	// SaveOnboarding records the answers and updates the profile in one
	// transaction.
	SaveOnboarding(ctx context.Context, userID string, answers []OnboardingAnswer, completedAt time.Time, update func(*Profile) error) (*Profile, error)
}

// DeletionStore keeps account deletion requests and the purge audit.
type DeletionStore interface {
	// ActiveDeletion returns the user's active request, or nil.
	ActiveDeletion(ctx context.Context, userID string) (*DeletionRequest, error)
	// ScheduleDeletion moves the active request to scheduledFor, or inserts
	// one requested at now.
	ScheduleDeletion(ctx context.Context, userID string, now, scheduledFor time.Time) (*DeletionRequest, error)
	// CancelDeletion cancels the active request and returns it, or nil when
	// there was none.
	CancelDeletion(ctx context.Context, userID string, at time.Time) (*DeletionRequest, error)
	// DueDeletions returns up to limit active requests scheduled at or before now.
	DueDeletions(ctx context.Context, now time.Time, limit int) ([]DeletionRequest, error)
	// StartDeletionAudit records that a purge began; doing it twice is harmless.
	StartDeletionAudit(ctx context.Context, d DeletionRequest, at time.Time) error
	// FinishDeletion deletes every row the user owns (and the user) and
	// marks the audit row completed, in one transaction.
	FinishDeletion(ctx context.Context, d DeletionRequest, at time.Time, objectsDeleted int) error
	DeletionAudit(ctx context.Context, requestID string) (*DeletionAudit, error)
}

// Store is everything the server keeps in its database.
type Store interface {
	UserStore
	SessionStore
	OneTimeTokenStore
	ProfileStore
	DeletionStore
	LibraryStore
	JobStore
	UsageStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// UserObjects removes what a user stored in object storage.
type UserObjects interface {
	// DeleteUserObjects deletes every object of the user and returns how
	// many it deleted; a second call finds none and succeeds.
	DeleteUserObjects(ctx context.Context, userID string) (int, error)
}

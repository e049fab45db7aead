package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// newUser creates a user with a unique email and phone.
func newUser(t *testing.T, s echogen.Store) *echogen.User {
	t.Helper()
	u := &echogen.User{
		ID:           echogen.NewID(),
		Email:        echogen.RandomString(10, "abcdefghijklmnopqrstuvwxyz") + "@example.com",
		Phone:        "+1415" + echogen.RandomString(7, "0123456789"),
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		Role:         "authenticated",
		CreatedAt:    t0(),
		UpdatedAt:    t0(),
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// newSession creates a session of userID, created at created and expiring
// an hour later, with its first refresh token.
func newSession(t *testing.T, s echogen.Store, userID string, created time.Time) (*echogen.Session, *echogen.RefreshToken) {
	t.Helper()
	x := &echogen.Session{
		ID:         echogen.NewID(),
		UserID:     userID,
		UserAgent:  "EchoGen/1.0 (iPhone)",
		IP:         "203.0.113.7",
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(time.Hour),
	}
	rt := &echogen.RefreshToken{ID: echogen.NewID(), TokenHash: "rt-" + echogen.NewID(), CreatedAt: created}
	if err := s.CreateSession(t.Context(), x, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return x, rt
}

// newProfile creates the profile of userID.
func newProfile(t *testing.T, s echogen.Store, userID string) *echogen.Profile {
	t.Helper()
	name := "Ada Lovelace"
	p := &echogen.Profile{UserID: userID, FullName: &name, Preferences: map[string]any{"theme": "dark"}, CreatedAt: t0(), UpdatedAt: t0()}
	if err := s.CreateProfile(t.Context(), p); err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	return p
}

// wantKind fails the test unless err is an *echogen.Error of kind k.
func wantKind(t *testing.T, err error, k echogen.Kind) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("error = %v (%T), want an *echogen.Error of kind %d", err, err, k)
	}
}

func ptr[T any](v T) *T { return &v }

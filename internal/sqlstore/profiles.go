package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const profileColumns = `id, full_name, avatar_url, bio, preferences, onboarding_completed, created_at, updated_at`

func scanProfile(r rowScanner) (*echogen.Profile, error) {
	var p echogen.Profile
	err := r.Scan(&p.UserID, &p.FullName, &p.AvatarURL, &p.Bio, jsonScanner{&p.Preferences},
		&p.OnboardingCompleted, scanTime(&p.CreatedAt), scanTime(&p.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Profile returns the user's profile.
func (s *Store) Profile(ctx context.Context, userID string) (*echogen.Profile, error) {
	p, err := scanProfile(s.queryRow(ctx, s.read, `SELECT `+profileColumns+` FROM profiles WHERE id = ?`, userID))
	if err != nil {
		return nil, scanErr(err, "Profile")
	}
	return p, nil
}

// ProfileAndDeletion returns the profile and the active deletion request
// (nil when none) with one query.
func (s *Store) ProfileAndDeletion(ctx context.Context, userID string) (*echogen.Profile, *echogen.DeletionRequest, error) {
	var p echogen.Profile
	var delID, delUser sql.NullString
	var d echogen.DeletionRequest
	var requestedAt, scheduledFor *time.Time
	err := s.queryRow(ctx, s.read, `SELECT p.id, p.full_name, p.avatar_url, p.bio, p.preferences, p.onboarding_completed, p.created_at, p.updated_at,
			d.id, d.user_id, d.requested_at, d.scheduled_for, d.cancelled_at, d.completed_at
		FROM profiles p LEFT JOIN account_deletion_requests d ON d.user_id = p.id AND d.cancelled_at IS NULL AND d.completed_at IS NULL
		WHERE p.id = ?`, userID).Scan(
		&p.UserID, &p.FullName, &p.AvatarURL, &p.Bio, jsonScanner{&p.Preferences}, &p.OnboardingCompleted, scanTime(&p.CreatedAt), scanTime(&p.UpdatedAt),
		&delID, &delUser, scanNullTime(&requestedAt), scanNullTime(&scheduledFor), scanNullTime(&d.CancelledAt), scanNullTime(&d.CompletedAt))
	if err != nil {
		return nil, nil, scanErr(err, "Profile")
	}
	if !delID.Valid {
		return &p, nil, nil
	}
	d.ID, d.UserID, d.RequestedAt, d.ScheduledFor = delID.String, delUser.String, *requestedAt, *scheduledFor
	return &p, &d, nil
}

// CreateProfile inserts p unless the user already has a profile, in which
// case the stored one is kept.
func (s *Store) CreateProfile(ctx context.Context, p *echogen.Profile) error {
	prefs, err := jsonArg(p.Preferences, p.Preferences == nil)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	_, err = s.exec(ctx, s.write, `INSERT INTO profiles (`+profileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		p.UserID, p.FullName, p.AvatarURL, p.Bio, prefs, p.OnboardingCompleted, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	return nil
}

// UpdateProfile reads the profile, calls update on it and writes the result
// back, all in one transaction; an error from update is returned as is and
// changes nothing. The profile's updated_at becomes at. update must not
// call the store: on SQLite the transaction holds the only writer.
func (s *Store) UpdateProfile(ctx context.Context, userID string, at time.Time, update func(*echogen.Profile) error) (*echogen.Profile, error) {
	var p *echogen.Profile
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = s.updateProfile(ctx, tx, userID, at, update)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// SaveOnboarding records the answers and updates the profile in one
// transaction. The profile's updated_at becomes completedAt, the only time
// the call carries.
func (s *Store) SaveOnboarding(ctx context.Context, userID string, answers []echogen.OnboardingAnswer, completedAt time.Time, update func(*echogen.Profile) error) (*echogen.Profile, error) {
	if answers == nil {
		answers = []echogen.OnboardingAnswer{} // store [] rather than null
	}
	responses, err := jsonArg(answers, false)
	if err != nil {
		return nil, fmt.Errorf("save onboarding: %w", err)
	}
	var p *echogen.Profile
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.updateProfile(ctx, tx, userID, completedAt, update); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `INSERT INTO onboarding_responses (id, user_id, responses, completed_at) VALUES (?, ?, ?, ?)`,
			echogen.NewID(), userID, responses, completedAt)
		if err != nil {
			return fmt.Errorf("save onboarding: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// updateProfile is the read-modify-write of a profile inside tx.
func (s *Store) updateProfile(ctx context.Context, tx *sql.Tx, userID string, at time.Time, update func(*echogen.Profile) error) (*echogen.Profile, error) {
	p, err := scanProfile(s.queryRow(ctx, tx, `SELECT `+profileColumns+` FROM profiles WHERE id = ?`+s.d.forUpdate(), userID))
	if err != nil {
		return nil, scanErr(err, "Profile")
	}
	if err := update(p); err != nil {
		return nil, err
	}
	p.UserID = userID
	p.UpdatedAt = at.UTC().Truncate(time.Microsecond) // what the database keeps
	prefs, err := jsonArg(p.Preferences, p.Preferences == nil)
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	// Hand back what a later read will return: plain JSON types.
	if err := (jsonScanner{&p.Preferences}).Scan(prefs); err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	_, err = s.exec(ctx, tx, `UPDATE profiles SET full_name = ?, avatar_url = ?, bio = ?, preferences = ?,
		onboarding_completed = ?, updated_at = ? WHERE id = ?`,
		p.FullName, p.AvatarURL, p.Bio, prefs, p.OnboardingCompleted, p.UpdatedAt, userID)
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	return p, nil
}

package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const userColumns = `id, email, phone, password_hash, role, email_confirmed_at, created_at, updated_at, last_sign_in_at`

// defaultRole is the role of a user created without one, as in Supabase.
const defaultRole = "authenticated"

func scanUser(r rowScanner) (*echogen.User, error) {
	var u echogen.User
	err := r.Scan(&u.ID, nullString{&u.Email}, nullString{&u.Phone}, &u.PasswordHash, &u.Role,
		scanNullTime(&u.EmailConfirmedAt), scanTime(&u.CreatedAt), scanTime(&u.UpdatedAt), scanNullTime(&u.LastSignInAt))
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser inserts u, giving it an id and the default role when it has
// none. A taken email or phone is KindConflict "user_exists".
func (s *Store) CreateUser(ctx context.Context, u *echogen.User) error {
	if u.ID == "" {
		u.ID = echogen.NewID()
	}
	if u.Role == "" {
		u.Role = defaultRole
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, stringOrNull(u.Email), stringOrNull(u.Phone), u.PasswordHash, u.Role,
		u.EmailConfirmedAt, u.CreatedAt, u.UpdatedAt, u.LastSignInAt)
	if isUniqueViolation(err) {
		return &echogen.Error{Kind: echogen.KindConflict, Code: "user_exists", Message: "User already registered", Err: err}
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

func (s *Store) userBy(ctx context.Context, column, value string) (*echogen.User, error) {
	if value == "" {
		return nil, echogen.NotFound("User")
	}
	u, err := scanUser(s.queryRow(ctx, s.read, `SELECT `+userColumns+` FROM users WHERE `+column+` = ?`, value))
	if err != nil {
		return nil, scanErr(err, "User")
	}
	return u, nil
}

// UserByID returns the user with the given id.
func (s *Store) UserByID(ctx context.Context, id string) (*echogen.User, error) {
	return s.userBy(ctx, "id", id)
}

// UserByEmail returns the user with the given (lowercased) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (*echogen.User, error) {
	return s.userBy(ctx, "email", email)
}

// UserByPhone returns the user with the given E.164 phone number.
func (s *Store) UserByPhone(ctx context.Context, phone string) (*echogen.User, error) {
	return s.userBy(ctx, "phone", phone)
}

// RecordSignIn sets the user's last sign-in time.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time) error {
	return s.execOne(ctx, s.write, "User", `UPDATE users SET last_sign_in_at = ? WHERE id = ?`, at, userID)
}

// SetPasswordHash replaces the user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	return s.execOne(ctx, s.write, "User", `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, at, userID)
}

// ConfirmEmail marks the user's email confirmed; confirming again keeps the
// first time.
func (s *Store) ConfirmEmail(ctx context.Context, userID string, at time.Time) error {
	return s.execOne(ctx, s.write, "User",
		`UPDATE users SET email_confirmed_at = COALESCE(email_confirmed_at, ?), updated_at = ? WHERE id = ?`, at, at, userID)
}

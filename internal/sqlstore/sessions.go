package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const sessionColumns = `id, user_id, user_agent, ip_address, created_at, last_used_at, expires_at, revoked_at`

func scanSession(r rowScanner) (*echogen.Session, error) {
	var x echogen.Session
	err := r.Scan(&x.ID, &x.UserID, &x.UserAgent, &x.IP, scanTime(&x.CreatedAt), scanTime(&x.LastUsedAt), scanTime(&x.ExpiresAt), scanNullTime(&x.RevokedAt))
	if err != nil {
		return nil, err
	}
	return &x, nil
}

const refreshTokenColumns = `id, session_id, token_hash, parent_id, created_at, used_at`

func scanRefreshToken(r rowScanner) (*echogen.RefreshToken, error) {
	var t echogen.RefreshToken
	err := r.Scan(&t.ID, &t.SessionID, &t.TokenHash, nullString{&t.ParentID}, scanTime(&t.CreatedAt), scanNullTime(&t.UsedAt))
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateSession inserts the session and its first refresh token in one
// transaction, giving them ids when they have none.
func (s *Store) CreateSession(ctx context.Context, x *echogen.Session, first *echogen.RefreshToken) error {
	if x.ID == "" {
		x.ID = echogen.NewID()
	}
	first.SessionID = x.ID
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO user_sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			x.ID, x.UserID, x.UserAgent, x.IP, x.CreatedAt, x.LastUsedAt, x.ExpiresAt, x.RevokedAt)
		if err != nil {
			return err
		}
		return s.insertRefreshToken(ctx, tx, first)
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the session with the given id.
func (s *Store) Session(ctx context.Context, id string) (*echogen.Session, error) {
	x, err := scanSession(s.queryRow(ctx, s.read, `SELECT `+sessionColumns+` FROM user_sessions WHERE id = ?`, id))
	if err != nil {
		return nil, scanErr(err, "Session")
	}
	return x, nil
}

// TouchSession records use of the session and moves its expiry.
func (s *Store) TouchSession(ctx context.Context, id string, usedAt, expiresAt time.Time) error {
	return s.execOne(ctx, s.write, "Session",
		`UPDATE user_sessions SET last_used_at = ?, expires_at = ? WHERE id = ?`, usedAt, expiresAt, id)
}

// RevokeSession ends one of the user's sessions; revoking it again keeps
// the first time. Another user's session is KindNotFound.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID string, at time.Time) error {
	return s.execOne(ctx, s.write, "Session",
		`UPDATE user_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND user_id = ?`, at, sessionID, userID)
}

// RevokeUserSessions ends every active session of the user except keepID
// ("" ends them all).
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keepID string, at time.Time) error {
	query := `UPDATE user_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`
	args := []any{at, userID}
	if keepID != "" {
		query += ` AND id <> ?`
		args = append(args, keepID)
	}
	if _, err := s.exec(ctx, s.write, query, args...); err != nil && !isMalformedID(err) {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return nil
}

// ListSessions returns the user's sessions that are active at t, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, t time.Time) ([]echogen.Session, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+sessionColumns+` FROM user_sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`, userID, t)
	if isMalformedID(err) {
		return []echogen.Session{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := []echogen.Session{}
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, *x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// RefreshTokenByHash returns the refresh token with the given hash.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash string) (*echogen.RefreshToken, error) {
	t, err := scanRefreshToken(s.queryRow(ctx, s.read, `SELECT `+refreshTokenColumns+` FROM refresh_tokens WHERE token_hash = ?`, hash))
	if err != nil {
		return nil, scanErr(err, "Refresh token")
	}
	return t, nil
}

// MarkRefreshTokenUsed sets used_at if it is unset and reports whether this
// call did it. The condition is in the UPDATE, so of two racing calls
// exactly one sees a row change.
func (s *Store) MarkRefreshTokenUsed(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.exec(ctx, s.write, `UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`, at, id)
	if isMalformedID(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark refresh token used: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark refresh token used: %w", err)
	}
	return n == 1, nil
}

// CreateRefreshToken inserts t, giving it an id when it has none.
func (s *Store) CreateRefreshToken(ctx context.Context, t *echogen.RefreshToken) error {
	if err := s.insertRefreshToken(ctx, s.write, t); err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

func (s *Store) insertRefreshToken(ctx context.Context, q querier, t *echogen.RefreshToken) error {
	if t.ID == "" {
		t.ID = echogen.NewID()
	}
	_, err := s.exec(ctx, q, `INSERT INTO refresh_tokens (`+refreshTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.SessionID, t.TokenHash, stringOrNull(t.ParentID), t.CreatedAt, t.UsedAt)
	return err
}

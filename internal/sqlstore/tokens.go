package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const oneTimeTokenColumns = `id, user_id, purpose, token_hash, created_at, expires_at, used_at`

// CreateOneTimeToken inserts t, giving it an id when it has none.
func (s *Store) CreateOneTimeToken(ctx context.Context, t *echogen.OneTimeToken) error {
	if t.ID == "" {
		t.ID = echogen.NewID()
	}
	_, err := s.exec(ctx, s.write, `INSERT INTO one_time_tokens (`+oneTimeTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, string(t.Purpose), t.TokenHash, t.CreatedAt, t.ExpiresAt, t.UsedAt)
	if err != nil {
		return fmt.Errorf("create one-time token: %w", err)
	}
	return nil
}

// ConsumeOneTimeToken marks the unused, unexpired token with this purpose
// and hash as used and returns it. It is one conditional UPDATE, so a token
// is consumed once however many requests race for it.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, purpose echogen.TokenPurpose, hash string, at time.Time) (*echogen.OneTimeToken, error) {
	var t echogen.OneTimeToken
	var p string
	err := s.queryRow(ctx, s.write, `UPDATE one_time_tokens SET used_at = ?
		WHERE purpose = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING `+oneTimeTokenColumns, at, string(purpose), hash, at).
		Scan(&t.ID, &t.UserID, &p, &t.TokenHash, scanTime(&t.CreatedAt), scanTime(&t.ExpiresAt), scanNullTime(&t.UsedAt))
	if err != nil {
		return nil, scanErr(err, "Token")
	}
	t.Purpose = echogen.TokenPurpose(p)
	return &t, nil
}

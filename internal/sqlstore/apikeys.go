package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const apiKeyColumns = `id, user_id, provider, key_alias, sealed_key, key_hint, status, status_message, last_verified_at, metadata, created_at, updated_at`

func scanAPIKey(r rowScanner) (*echogen.APIKey, error) {
	var k echogen.APIKey
	err := r.Scan(&k.ID, &k.UserID, &k.Provider, &k.Alias, &k.Sealed, &k.Hint, &k.Status, &k.StatusMessage,
		scanNullTime(&k.LastVerifiedAt), jsonScanner{&k.Metadata}, scanTime(&k.CreatedAt), scanTime(&k.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// CreateAPIKey inserts k, giving it an id and the status KeyUnverified when
// it has none. A nil Metadata is stored, and set, as an empty object.
func (s *Store) CreateAPIKey(ctx context.Context, k *echogen.APIKey) error {
	if k.ID == "" {
		k.ID = echogen.NewID()
	}
	if k.Status == "" {
		k.Status = echogen.KeyUnverified
	}
	if k.Metadata == nil {
		k.Metadata = map[string]any{}
	}
	md, err := objectArg(k.Metadata)
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	_, err = s.exec(ctx, s.write, `INSERT INTO user_api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, string(k.Provider), k.Alias, k.Sealed, k.Hint, k.Status, k.StatusMessage,
		k.LastVerifiedAt, md, k.CreatedAt, k.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	return nil
}

// APIKey returns one of the user's keys.
func (s *Store) APIKey(ctx context.Context, userID, id string) (*echogen.APIKey, error) {
	k, err := scanAPIKey(s.queryRow(ctx, s.read, `SELECT `+apiKeyColumns+` FROM user_api_keys WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, scanErr(err, "API key")
	}
	return k, nil
}

// ListAPIKeys returns the user's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, userID string) ([]echogen.APIKey, error) {
	return queryAll(ctx, s, "list API keys", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM user_api_keys WHERE user_id = ?`+newestFirst, userID)
}

// UpdateAPIKey reads the key, calls update on it and writes the result
// back with updated_at = at, in one transaction; an error from update is
// returned as is and changes nothing. The id, owner, provider and creation
// time cannot change: the sealed secret is bound to them. update must not
// call the store: on SQLite the transaction holds the only writer.
func (s *Store) UpdateAPIKey(ctx context.Context, userID, id string, at time.Time, update func(*echogen.APIKey) error) (*echogen.APIKey, error) {
	var k *echogen.APIKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanAPIKey(s.queryRow(ctx, tx, `SELECT `+apiKeyColumns+` FROM user_api_keys WHERE id = ? AND user_id = ?`+s.d.forUpdate(), id, userID))
		if err != nil {
			return scanErr(err, "API key")
		}
		was := *k
		if err := update(k); err != nil {
			return err
		}
		k.ID, k.UserID, k.Provider, k.CreatedAt = was.ID, was.UserID, was.Provider, was.CreatedAt
		k.UpdatedAt, k.LastVerifiedAt = storedTime(at), storedTimePtr(k.LastVerifiedAt)
		md, err := objectArg(k.Metadata)
		if err != nil {
			return fmt.Errorf("update API key: %w", err)
		}
		// Hand back what a later read will return: plain JSON types.
		if err := (jsonScanner{&k.Metadata}).Scan(md); err != nil {
			return fmt.Errorf("update API key: %w", err)
		}
		_, err = s.exec(ctx, tx, `UPDATE user_api_keys SET key_alias = ?, sealed_key = ?, key_hint = ?, status = ?, status_message = ?,
			last_verified_at = ?, metadata = ?, updated_at = ? WHERE id = ? AND user_id = ?`,
			k.Alias, k.Sealed, k.Hint, k.Status, k.StatusMessage, k.LastVerifiedAt, md, k.UpdatedAt, id, userID)
		if err != nil {
			return fmt.Errorf("update API key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// DeleteAPIKey deletes one of the user's keys.
func (s *Store) DeleteAPIKey(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, s.write, "API key", `DELETE FROM user_api_keys WHERE id = ? AND user_id = ?`, id, userID)
}

// APIKeysAfter returns up to limit keys of every user whose ids sort after
// afterID ("" starts at the beginning), in id order, for vault rotation. A
// limit below one returns none.
func (s *Store) APIKeysAfter(ctx context.Context, afterID string, limit int) ([]echogen.APIKey, error) {
	if limit < 1 {
		return []echogen.APIKey{}, nil
	}
	if afterID == "" {
		return queryAll(ctx, s, "API keys after", scanAPIKey,
			`SELECT `+apiKeyColumns+` FROM user_api_keys ORDER BY id LIMIT ?`, limit)
	}
	// Checked here, so both databases refuse a malformed cursor alike
	// rather than SQLite comparing it as text.
	if !echogen.IsID(afterID) {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_id", "invalid API key id %q", afterID)
	}
	return queryAll(ctx, s, "API keys after", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM user_api_keys WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
}

// ReplaceAPIKeySecret swaps the sealed secret for new if it still is old,
// and reports whether it did. The comparison is in the UPDATE, so a key
// changed since it was read is left alone.
func (s *Store) ReplaceAPIKeySecret(ctx context.Context, id string, old, new []byte) (bool, error) {
	res, err := s.exec(ctx, s.write, `UPDATE user_api_keys SET sealed_key = ? WHERE id = ? AND sealed_key = ?`, new, id, old)
	if isMalformedID(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replace API key secret: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace API key secret: %w", err)
	}
	return n == 1, nil
}

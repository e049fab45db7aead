package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const deletionColumns = `id, user_id, requested_at, scheduled_for, cancelled_at, completed_at`

// activeDeletion is the condition of an active request; the partial unique
// index of the schema allows one per user.
const activeDeletion = `cancelled_at IS NULL AND completed_at IS NULL`

func scanDeletion(r rowScanner) (*echogen.DeletionRequest, error) {
	var d echogen.DeletionRequest
	err := r.Scan(&d.ID, &d.UserID, scanTime(&d.RequestedAt), scanTime(&d.ScheduledFor), scanNullTime(&d.CancelledAt), scanNullTime(&d.CompletedAt))
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// deletionOrNil maps "no row" to nil, nil.
func deletionOrNil(d *echogen.DeletionRequest, err error, op string) (*echogen.DeletionRequest, error) {
	if errors.Is(err, sql.ErrNoRows) || isMalformedID(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

// ActiveDeletion returns the user's active request, or nil.
func (s *Store) ActiveDeletion(ctx context.Context, userID string) (*echogen.DeletionRequest, error) {
	d, err := scanDeletion(s.queryRow(ctx, s.read,
		`SELECT `+deletionColumns+` FROM account_deletion_requests WHERE user_id = ? AND `+activeDeletion, userID))
	return deletionOrNil(d, err, "active deletion")
}

// ScheduleDeletion moves the active request to scheduledFor, or inserts one
// requested at now. It is one upsert on the partial unique index, so two
// racing calls still leave one active request.
func (s *Store) ScheduleDeletion(ctx context.Context, userID string, now, scheduledFor time.Time) (*echogen.DeletionRequest, error) {
	d, err := scanDeletion(s.queryRow(ctx, s.write, `INSERT INTO account_deletion_requests (id, user_id, requested_at, scheduled_for)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) WHERE `+activeDeletion+`
		DO UPDATE SET scheduled_for = excluded.scheduled_for
		RETURNING `+deletionColumns, echogen.NewID(), userID, now, scheduledFor))
	if err != nil {
		return nil, fmt.Errorf("schedule deletion: %w", err)
	}
	return d, nil
}

// CancelDeletion cancels the active request and returns it, or nil when
// there was none.
func (s *Store) CancelDeletion(ctx context.Context, userID string, at time.Time) (*echogen.DeletionRequest, error) {
	d, err := scanDeletion(s.queryRow(ctx, s.write, `UPDATE account_deletion_requests SET cancelled_at = ?
		WHERE user_id = ? AND `+activeDeletion+` RETURNING `+deletionColumns, at, userID))
	return deletionOrNil(d, err, "cancel deletion")
}

// DueDeletions returns up to limit active requests scheduled at or before
// now, the longest overdue first. A limit below one returns none.
func (s *Store) DueDeletions(ctx context.Context, now time.Time, limit int) ([]echogen.DeletionRequest, error) {
	out := []echogen.DeletionRequest{}
	if limit < 1 {
		return out, nil
	}
	rows, err := s.query(ctx, s.read, `SELECT `+deletionColumns+` FROM account_deletion_requests
		WHERE `+activeDeletion+` AND scheduled_for <= ?
		ORDER BY scheduled_for, id LIMIT ?`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due deletions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDeletion(rows)
		if err != nil {
			return nil, fmt.Errorf("due deletions: %w", err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due deletions: %w", err)
	}
	return out, nil
}

const auditColumns = `request_id, user_id, requested_at, scheduled_for, started_at, completed_at, objects_deleted`

// StartDeletionAudit records that a purge began. A second call keeps the
// first start.
func (s *Store) StartDeletionAudit(ctx context.Context, d echogen.DeletionRequest, at time.Time) error {
	_, err := s.exec(ctx, s.write, `INSERT INTO account_deletion_audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, NULL, 0)
		ON CONFLICT (request_id) DO NOTHING`, d.ID, d.UserID, d.RequestedAt, d.ScheduledFor, at)
	if err != nil {
		return fmt.Errorf("start deletion audit: %w", err)
	}
	return nil
}

// FinishDeletion deletes every row the user owns, the user included, and
// completes the audit row, in one transaction. Repeating it deletes nothing
// more and keeps the first completion. The audit row is created if
// StartDeletionAudit never ran.
func (s *Store) FinishDeletion(ctx context.Context, d echogen.DeletionRequest, at time.Time, objectsDeleted int) error {
	// Children before parents. Keep in step with the schema: the conformance
	// suite fails when a table with a user_id column is left out.
	purge := []string{
		`DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM user_sessions WHERE user_id = ?)`,
		`DELETE FROM user_sessions WHERE user_id = ?`,
		`DELETE FROM one_time_tokens WHERE user_id = ?`,
		`DELETE FROM usage_events WHERE user_id = ?`,
		`DELETE FROM processing_jobs WHERE user_id = ?`,
		`DELETE FROM generated_podcasts WHERE user_id = ?`,
		`DELETE FROM podcast_scripts WHERE user_id = ?`,
		`DELETE FROM scraped_content WHERE user_id = ?`,
		`DELETE FROM user_api_keys WHERE user_id = ?`,
		`DELETE FROM onboarding_responses WHERE user_id = ?`,
		`DELETE FROM account_deletion_requests WHERE user_id = ?`,
		`DELETE FROM profiles WHERE id = ?`,
		`DELETE FROM users WHERE id = ?`,
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range purge {
			if _, err := s.exec(ctx, tx, q, d.UserID); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		_, err := s.exec(ctx, tx, `INSERT INTO account_deletion_audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (request_id) DO UPDATE SET completed_at = excluded.completed_at, objects_deleted = excluded.objects_deleted
			WHERE account_deletion_audit.completed_at IS NULL`,
			d.ID, d.UserID, d.RequestedAt, d.ScheduledFor, at, at, objectsDeleted)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish deletion of user %s: %w", d.UserID, err)
	}
	return nil
}

// DeletionAudit returns the audit row of a deletion request.
func (s *Store) DeletionAudit(ctx context.Context, requestID string) (*echogen.DeletionAudit, error) {
	var a echogen.DeletionAudit
	err := s.queryRow(ctx, s.read, `SELECT `+auditColumns+` FROM account_deletion_audit WHERE request_id = ?`, requestID).
		Scan(&a.RequestID, &a.UserID, scanTime(&a.RequestedAt), scanTime(&a.ScheduledFor), scanTime(&a.StartedAt), scanNullTime(&a.CompletedAt), &a.ObjectsDeleted)
	if err != nil {
		return nil, scanErr(err, "Deletion audit")
	}
	return &a, nil
}

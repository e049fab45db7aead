package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const podcastColumns = `id, user_id, script_id, audio_path, cover_art_path, duration_seconds, metadata, created_at, updated_at`

func scanPodcast(r rowScanner) (*echogen.Podcast, error) {
	var p echogen.Podcast
	err := r.Scan(&p.ID, &p.UserID, nullString{&p.ScriptID}, nullString{&p.AudioPath}, &p.CoverArtPath, nullSeconds{&p.DurationSeconds},
		jsonScanner{&p.Metadata}, scanTime(&p.CreatedAt), scanTime(&p.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// CreatePodcast inserts p, giving it an id when it has none. Its script
// must be the user's (else KindNotFound "Script not found"). A nil Metadata
// is stored, and set, as an empty object.
func (s *Store) CreatePodcast(ctx context.Context, p *echogen.Podcast) error {
	if p.ID == "" {
		p.ID = echogen.NewID()
	}
	if p.Metadata == nil {
		p.Metadata = map[string]any{}
	}
	md, err := objectArg(p.Metadata)
	if err != nil {
		return fmt.Errorf("create podcast: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// The foreign key alone would accept another user's script.
		var one int
		err := s.queryRow(ctx, tx, `SELECT 1 FROM podcast_scripts WHERE id = ? AND user_id = ?`+s.d.forUpdate(), p.ScriptID, p.UserID).Scan(&one)
		if err != nil {
			return scanErr(err, "Script")
		}
		_, err = s.exec(ctx, tx, `INSERT INTO generated_podcasts (`+podcastColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.UserID, p.ScriptID, p.AudioPath, p.CoverArtPath, secondsArg(p.DurationSeconds), md, p.CreatedAt, p.UpdatedAt)
		if err != nil {
			return fmt.Errorf("create podcast: %w", err)
		}
		return nil
	})
}

// Podcast returns one of the user's podcasts.
func (s *Store) Podcast(ctx context.Context, userID, id string) (*echogen.Podcast, error) {
	p, err := scanPodcast(s.queryRow(ctx, s.read, `SELECT `+podcastColumns+` FROM generated_podcasts WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, scanErr(err, "Podcast")
	}
	return p, nil
}

// ListPodcasts returns a page of the user's podcasts, newest first; a page
// limit below one means no limit. page.Query is ignored.
func (s *Store) ListPodcasts(ctx context.Context, userID string, page echogen.Page) ([]echogen.Podcast, error) {
	limit, limitArgs := pageClause(page)
	return queryAll(ctx, s, "list podcasts", scanPodcast,
		`SELECT `+podcastColumns+` FROM generated_podcasts WHERE user_id = ?`+newestFirst+limit, append([]any{userID}, limitArgs...)...)
}

// DeletePodcast deletes one of the user's podcasts and returns it, so that
// its media can go too.
func (s *Store) DeletePodcast(ctx context.Context, userID, id string) (*echogen.Podcast, error) {
	p, err := scanPodcast(s.queryRow(ctx, s.write, `DELETE FROM generated_podcasts WHERE id = ? AND user_id = ? RETURNING `+podcastColumns, id, userID))
	if err != nil {
		return nil, scanErr(err, "Podcast")
	}
	return p, nil
}

// UpdatePodcast reads one of the user's podcasts, calls update and writes
// back its paths, duration and metadata with updated_at = at, in one
// transaction. The id, owner, script and created_at stay.
func (s *Store) UpdatePodcast(ctx context.Context, userID, id string, at time.Time, update func(*echogen.Podcast) error) (*echogen.Podcast, error) {
	var p *echogen.Podcast
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPodcast(s.queryRow(ctx, tx, `SELECT `+podcastColumns+` FROM generated_podcasts WHERE id = ? AND user_id = ?`+s.d.forUpdate(), id, userID))
		if err != nil {
			return scanErr(err, "Podcast")
		}
		was := *p
		if err := update(p); err != nil {
			return err
		}
		p.ID, p.UserID, p.ScriptID, p.CreatedAt, p.UpdatedAt = was.ID, was.UserID, was.ScriptID, was.CreatedAt, storedTime(at)
		if p.Metadata == nil {
			p.Metadata = map[string]any{}
		}
		md, err := objectArg(p.Metadata)
		if err != nil {
			return fmt.Errorf("update podcast: %w", err)
		}
		if err := (jsonScanner{&p.Metadata}).Scan(md); err != nil { // what a later read returns
			return fmt.Errorf("update podcast: %w", err)
		}
		_, err = s.exec(ctx, tx, `UPDATE generated_podcasts SET audio_path = ?, cover_art_path = ?, duration_seconds = ?, metadata = ?, updated_at = ?
			WHERE id = ? AND user_id = ?`, p.AudioPath, p.CoverArtPath, secondsArg(p.DurationSeconds), md, p.UpdatedAt, id, userID)
		if err != nil {
			return fmt.Errorf("update podcast: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

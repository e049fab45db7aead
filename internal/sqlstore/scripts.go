package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const scriptColumns = `id, user_id, source_content_id, title, prompt, model, language, segments, metadata, created_at, updated_at`

func scanScript(r rowScanner) (*echogen.Script, error) {
	var sc echogen.Script
	err := r.Scan(&sc.ID, &sc.UserID, &sc.SourceContentID, &sc.Title, nullString{&sc.Prompt}, nullString{&sc.Model}, nullString{&sc.Language},
		jsonScanner{&sc.Segments}, jsonScanner{&sc.Metadata}, scanTime(&sc.CreatedAt), scanTime(&sc.UpdatedAt))
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

// scriptJSON encodes a script's JSON columns. Segments are one JSON array
// (nil stored as []), metadata an object.
func scriptJSON(sc *echogen.Script) (segments, metadata any, err error) {
	segs := sc.Segments
	if segs == nil {
		segs = []echogen.Segment{}
	}
	if segments, err = jsonArg(segs, false); err != nil {
		return nil, nil, err
	}
	if metadata, err = objectArg(sc.Metadata); err != nil {
		return nil, nil, err
	}
	return segments, metadata, nil
}

// checkOwnContent makes sure the content a script names is the user's: the
// foreign key alone would accept another user's.
func (s *Store) checkOwnContent(ctx context.Context, tx *sql.Tx, userID string, id *string) error {
	if id == nil {
		return nil
	}
	var one int
	err := s.queryRow(ctx, tx, `SELECT 1 FROM scraped_content WHERE id = ? AND user_id = ?`+s.d.forUpdate(), *id, userID).Scan(&one)
	return scanErr(err, "Content")
}

// CreateScript inserts sc, giving it an id when it has none. Its source
// content, if any, must be the user's (else KindNotFound "Content not
// found"). Nil Segments and Metadata are stored, and set, as empty.
func (s *Store) CreateScript(ctx context.Context, sc *echogen.Script) error {
	if sc.ID == "" {
		sc.ID = echogen.NewID()
	}
	if sc.Segments == nil {
		sc.Segments = []echogen.Segment{}
	}
	if sc.Metadata == nil {
		sc.Metadata = map[string]any{}
	}
	segments, md, err := scriptJSON(sc)
	if err != nil {
		return fmt.Errorf("create script: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.checkOwnContent(ctx, tx, sc.UserID, sc.SourceContentID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO podcast_scripts (`+scriptColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sc.ID, sc.UserID, sc.SourceContentID, sc.Title, sc.Prompt, sc.Model, sc.Language, segments, md, sc.CreatedAt, sc.UpdatedAt)
		if err != nil {
			return fmt.Errorf("create script: %w", err)
		}
		return nil
	})
}

// Script returns one of the user's scripts.
func (s *Store) Script(ctx context.Context, userID, id string) (*echogen.Script, error) {
	sc, err := scanScript(s.queryRow(ctx, s.read, `SELECT `+scriptColumns+` FROM podcast_scripts WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, scanErr(err, "Script")
	}
	return sc, nil
}

// ListScripts returns a page of the user's scripts, newest first; a page
// limit below one means no limit. page.Query is ignored.
func (s *Store) ListScripts(ctx context.Context, userID string, page echogen.Page) ([]echogen.Script, error) {
	limit, limitArgs := pageClause(page)
	return queryAll(ctx, s, "list scripts", scanScript,
		`SELECT `+scriptColumns+` FROM podcast_scripts WHERE user_id = ?`+newestFirst+limit, append([]any{userID}, limitArgs...)...)
}

// UpdateScript reads the script, calls update on it and writes the result
// back with updated_at = at, in one transaction; an error from update is
// returned as is and changes nothing. A new source content must be the
// user's. update must not call the store.
func (s *Store) UpdateScript(ctx context.Context, userID, id string, at time.Time, update func(*echogen.Script) error) (*echogen.Script, error) {
	var sc *echogen.Script
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		sc, err = scanScript(s.queryRow(ctx, tx, `SELECT `+scriptColumns+` FROM podcast_scripts WHERE id = ? AND user_id = ?`+s.d.forUpdate(), id, userID))
		if err != nil {
			return scanErr(err, "Script")
		}
		was := *sc
		if err := update(sc); err != nil {
			return err
		}
		sc.ID, sc.UserID, sc.CreatedAt, sc.UpdatedAt = was.ID, was.UserID, was.CreatedAt, storedTime(at)
		if sc.SourceContentID != nil && (was.SourceContentID == nil || *sc.SourceContentID != *was.SourceContentID) {
			if err := s.checkOwnContent(ctx, tx, userID, sc.SourceContentID); err != nil {
				return err
			}
		}
		segments, md, err := scriptJSON(sc)
		if err != nil {
			return fmt.Errorf("update script: %w", err)
		}
		// Hand back what a later read will return.
		if err := (jsonScanner{&sc.Segments}).Scan(segments); err != nil {
			return fmt.Errorf("update script: %w", err)
		}
		if err := (jsonScanner{&sc.Metadata}).Scan(md); err != nil {
			return fmt.Errorf("update script: %w", err)
		}
		_, err = s.exec(ctx, tx, `UPDATE podcast_scripts SET source_content_id = ?, title = ?, prompt = ?, model = ?, language = ?,
			segments = ?, metadata = ?, updated_at = ? WHERE id = ? AND user_id = ?`,
			sc.SourceContentID, sc.Title, sc.Prompt, sc.Model, sc.Language, segments, md, sc.UpdatedAt, id, userID)
		if err != nil {
			return fmt.Errorf("update script: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// DeleteScript deletes one of the user's scripts; the foreign key deletes
// its podcasts with it.
func (s *Store) DeleteScript(ctx context.Context, userID, id string) ([]echogen.Podcast, error) {
	var gone []echogen.Podcast
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `SELECT `+podcastColumns+` FROM generated_podcasts WHERE script_id = ? AND user_id = ?`, id, userID)
		if isMalformedID(err) {
			return echogen.NotFound("Script")
		}
		if err != nil {
			return fmt.Errorf("delete script: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPodcast(rows)
			if err != nil {
				return fmt.Errorf("delete script: %w", err)
			}
			gone = append(gone, *p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delete script: %w", err)
		}
		// The podcasts go with the script (foreign key cascade).
		return s.execOne(ctx, tx, "Script", `DELETE FROM podcast_scripts WHERE id = ? AND user_id = ?`, id, userID)
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}

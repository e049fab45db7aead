package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const contentColumns = `id, user_id, url, title, markdown, provider, metadata, created_at, updated_at`

// scanContent scans a content row, and then into extra any columns the
// query adds after contentColumns.
func scanContent(r rowScanner, extra ...any) (*echogen.Content, error) {
	var c echogen.Content
	dest := append([]any{&c.ID, &c.UserID, &c.URL, nullString{&c.Title}, nullString{&c.Markdown}, nullString{&c.Provider},
		jsonScanner{&c.Metadata}, scanTime(&c.CreatedAt), scanTime(&c.UpdatedAt)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateContent inserts c, giving it an id when it has none. A nil
// Metadata is stored, and set, as an empty object.
func (s *Store) CreateContent(ctx context.Context, c *echogen.Content) error {
	if c.ID == "" {
		c.ID = echogen.NewID()
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	md, err := objectArg(c.Metadata)
	if err != nil {
		return fmt.Errorf("create content: %w", err)
	}
	_, err = s.exec(ctx, s.write, `INSERT INTO scraped_content (`+contentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.URL, c.Title, c.Markdown, c.Provider, md, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create content: %w", err)
	}
	return nil
}

// Content returns one of the user's content items.
func (s *Store) Content(ctx context.Context, userID, id string) (*echogen.Content, error) {
	c, err := scanContent(s.queryRow(ctx, s.read, `SELECT `+contentColumns+` FROM scraped_content WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, scanErr(err, "Content")
	}
	return c, nil
}

// ListContent returns a page of the user's content, newest first, and the
// number of all the items that match. page.Query matches title or URL,
// case-insensitively (ASCII only on SQLite), as a literal substring. A
// page limit below one means no limit.
func (s *Store) ListContent(ctx context.Context, userID string, page echogen.Page) ([]echogen.Content, int, error) {
	where := ` FROM scraped_content WHERE user_id = ?`
	args := []any{userID}
	if page.Query != "" {
		// LOWER on both sides: pattern and column fold case alike.
		where += ` AND (LOWER(title) LIKE LOWER(?) ESCAPE '\' OR LOWER(url) LIKE LOWER(?) ESCAPE '\')`
		pattern := containsPattern(page.Query)
		args = append(args, pattern, pattern)
	}
	limit, limitArgs := pageClause(page)

	// The window count comes with every row of the page, from the same
	// snapshot; only an empty page needs a second query.
	var total int
	items, err := queryAll(ctx, s, "list content", func(r rowScanner) (*echogen.Content, error) { return scanContent(r, &total) },
		`SELECT `+contentColumns+`, count(*) OVER ()`+where+newestFirst+limit, append(args, limitArgs...)...)
	if err != nil {
		return nil, 0, err
	}
	if len(items) == 0 && page.Offset > 0 {
		err := s.queryRow(ctx, s.read, `SELECT count(*)`+where, args...).Scan(&total)
		if err != nil && !isMalformedID(err) {
			return nil, 0, fmt.Errorf("count content: %w", err)
		}
	}
	return items, total, nil
}

// UpdateContent reads the item, calls update on it and writes the result
// back with updated_at = at, in one transaction; an error from update is
// returned as is and changes nothing. update must not call the store.
func (s *Store) UpdateContent(ctx context.Context, userID, id string, at time.Time, update func(*echogen.Content) error) (*echogen.Content, error) {
	var c *echogen.Content
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanContent(s.queryRow(ctx, tx, `SELECT `+contentColumns+` FROM scraped_content WHERE id = ? AND user_id = ?`+s.d.forUpdate(), id, userID))
		if err != nil {
			return scanErr(err, "Content")
		}
		was := *c
		if err := update(c); err != nil {
			return err
		}
		c.ID, c.UserID, c.CreatedAt, c.UpdatedAt = was.ID, was.UserID, was.CreatedAt, storedTime(at)
		md, err := objectArg(c.Metadata)
		if err != nil {
			return fmt.Errorf("update content: %w", err)
		}
		if err := (jsonScanner{&c.Metadata}).Scan(md); err != nil { // what a read returns
			return fmt.Errorf("update content: %w", err)
		}
		_, err = s.exec(ctx, tx, `UPDATE scraped_content SET url = ?, title = ?, markdown = ?, provider = ?, metadata = ?, updated_at = ?
			WHERE id = ? AND user_id = ?`, c.URL, c.Title, c.Markdown, c.Provider, md, c.UpdatedAt, id, userID)
		if err != nil {
			return fmt.Errorf("update content: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteContent deletes one of the user's content items. Scripts made from
// it keep their text; the foreign key clears their source_content_id.
func (s *Store) DeleteContent(ctx context.Context, userID, id string) error {
	return s.execOne(ctx, s.write, "Content", `DELETE FROM scraped_content WHERE id = ? AND user_id = ?`, id, userID)
}

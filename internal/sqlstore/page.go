package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/echogen/server/internal/echogen"
)

// newestFirst is the order of every list: ties on created_at broken by id,
// so pages neither repeat nor skip rows.
const newestFirst = ` ORDER BY created_at DESC, id DESC`

// pageClause is the LIMIT and OFFSET of a page, with its arguments. A
// limit below one means no limit: both databases want a LIMIT before an
// OFFSET, and agree on the largest bigint.
func pageClause(p echogen.Page) (string, []any) {
	limit := int64(p.Limit)
	if limit < 1 {
		limit = math.MaxInt64
	}
	return ` LIMIT ? OFFSET ?`, []any{limit, int64(max(p.Offset, 0))}
}

// likeEscaper escapes LIKE's wildcards and its escape character, \.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// containsPattern is a LIKE pattern that matches s anywhere, literally.
// Use it with ESCAPE '\'.
func containsPattern(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}

// queryAll runs a query and scans every row. A malformed id among the
// arguments (PostgreSQL's 22P02) matches no row, as in SQLite.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error), query string, args ...any) ([]T, error) {
	out := []T{}
	rows, err := s.query(ctx, s.read, query, args...)
	if isMalformedID(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

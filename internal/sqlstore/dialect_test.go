package sqlstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name  string
		d     Dialect
		query string
		want  string
	}{
		{"sqlite keeps ?", SQLite, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{"postgres numbers", Postgres, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{"no placeholders", Postgres, `SELECT 1`, `SELECT 1`},
		{"quoted ? untouched", Postgres, `SELECT '?', "a?b" FROM t WHERE x = ?`, `SELECT '?', "a?b" FROM t WHERE x = $1`},
		{"doubled quote", Postgres, `SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
		{"many", Postgres, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Rebind(tt.query); got != tt.want {
				t.Errorf("Rebind(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestArg(t *testing.T) {
	in := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("UTC+2", 2*3600))
	utc := time.Date(2030, 1, 2, 1, 4, 5, 123456000, time.UTC)
	s := "x"
	tests := []struct {
		name string
		d    Dialect
		in   any
		want any
	}{
		{"sqlite time", SQLite, in, "2030-01-02T01:04:05.123456Z"},
		{"sqlite zero fraction keeps its width", SQLite, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), "2030-01-02T03:04:05.000000Z"},
		{"sqlite time pointer", SQLite, &in, "2030-01-02T01:04:05.123456Z"},
		{"sqlite nil time pointer", SQLite, (*time.Time)(nil), nil},
		{"postgres time", Postgres, in, utc},
		{"sqlite true", SQLite, true, int64(1)},
		{"sqlite false", SQLite, false, int64(0)},
		{"postgres bool", Postgres, true, true},
		{"string pointer", Postgres, &s, "x"},
		{"nil string pointer", SQLite, (*string)(nil), nil},
		{"other values pass", SQLite, 42, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.Arg(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Arg(%v) (-want +got):\n%s", tt.in, diff)
			}
			if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
				t.Errorf("Arg(%v) is in %v, want UTC", tt.in, tm.Location())
			}
		})
	}
}

// Fakes of the drivers' error types, matched by method like the real ones.
type fakeSQLiteError struct{ code int }

func (e fakeSQLiteError) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e fakeSQLiteError) Code() int     { return e.code }

type fakePgError struct{ state string }

func (e fakePgError) Error() string    { return "pg error " + e.state }
func (e fakePgError) SQLState() string { return e.state }

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		unique, badID bool
	}{
		{"nil", nil, false, false},
		{"plain", errors.New("x"), false, false},
		{"sqlite unique", fakeSQLiteError{2067}, true, false},
		{"sqlite primary key", fakeSQLiteError{1555}, true, false},
		{"sqlite foreign key", fakeSQLiteError{787}, false, false},
		{"wrapped pg unique", fmt.Errorf("insert: %w", fakePgError{"23505"}), true, false},
		{"pg bad uuid", fakePgError{"22P02"}, false, true},
		{"pg other", fakePgError{"23503"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isUniqueViolation(tt.err); got != tt.unique {
				t.Errorf("isUniqueViolation = %v, want %v", got, tt.unique)
			}
			if got := isMalformedID(tt.err); got != tt.badID {
				t.Errorf("isMalformedID = %v, want %v", got, tt.badID)
			}
		})
	}
}

package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the databases the store serves. Queries
// are written once, in the common subset of SQLite and PostgreSQL, with ?
// placeholders and Go values; the dialect rewrites both on the way out.
type Dialect int

const (
	// SQLite stores times as fixed-width UTC text (TimeLayout) so they sort
	// and compare as text, and booleans as 0/1.
	SQLite Dialect = iota + 1
	// Postgres uses $n placeholders, timestamptz and boolean.
	Postgres
)

// TimeLayout is how SQLite columns hold times: always UTC, always six
// fractional digits, so text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Rebind rewrites the ? placeholders of query for d. A ? inside a quoted
// string or identifier is left alone.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte // the open quote character, 0 outside quotes
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote reopens on the next byte, which is right
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Arg converts one query argument to what d stores: times become UTC at
// microsecond precision (both databases keep microseconds), as TimeLayout
// text for SQLite; booleans become 0/1 for SQLite; nil pointers become NULL.
func (d Dialect) Arg(v any) any {
	switch v := v.(type) {
	case time.Time:
		return d.timeArg(v)
	case *time.Time:
		if v == nil {
			return nil
		}
		return d.timeArg(*v)
	case *string:
		if v == nil {
			return nil
		}
		return *v
	case bool:
		if d == SQLite {
			if v {
				return int64(1)
			}
			return int64(0)
		}
	}
	return v
}

func (d Dialect) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = d.Arg(a)
	}
	return out
}

func (d Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.Format(TimeLayout)
	}
	return t
}

// forUpdate is the clause that locks the rows a transaction reads before
// writing them back. SQLite has none and needs none: its transactions begin
// IMMEDIATE, so the writer holds the database from the first statement.
func (d Dialect) forUpdate() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// lockJobStarts is a statement, taking a job's id, that makes the
// transaction wait for every other one that took it for a job of the same
// user, until they end; "" when none is needed. StartJob takes it before it
// counts the user's running jobs, so two workers cannot both see room for
// one more. PostgreSQL needs a lock (its transaction-scoped advisory lock,
// keyed by the user); SQLite's writer transactions already run one at a
// time.
func (d Dialect) lockJobStarts() string {
	if d == Postgres {
		return `SELECT pg_advisory_xact_lock(hashtextextended('echogen.job_start.' || user_id::text, 0)) FROM processing_jobs WHERE id = ?`
	}
	return ""
}

// The drivers' error types are matched by their methods, so this package
// imports neither driver.
type (
	sqliteError   interface{ Code() int }        // modernc.org/sqlite
	postgresError interface{ SQLState() string } // pgconn.PgError
)

const (
	sqliteConstraintPrimaryKey  = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUnique      = 2067 // SQLITE_CONSTRAINT_UNIQUE
	pgUniqueViolation           = "23505"
	pgInvalidTextRepresentation = "22P02"
	pgCharacterNotInRepertoire  = "22021" // a NUL byte or invalid UTF-8 in a text argument
)

// isUniqueViolation reports whether err is a unique or primary key violation.
func isUniqueViolation(err error) bool {
	var se sqliteError
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintUnique || se.Code() == sqliteConstraintPrimaryKey
	}
	var pe postgresError
	return errors.As(err, &pe) && pe.SQLState() == pgUniqueViolation
}

// isMalformedID reports whether PostgreSQL refused a value as input for a
// column type, which for our queries means an id that is not a UUID, or
// refused a text argument it cannot even decode (a NUL byte, invalid
// UTF-8: an id or filter from a hostile URL). SQLite simply finds no row
// for such a value; callers treat both the same way.
func isMalformedID(err error) bool {
	var pe postgresError
	return errors.As(err, &pe) && (pe.SQLState() == pgInvalidTextRepresentation || pe.SQLState() == pgCharacterNotInRepertoire)
}

// utcDay is the SQL for a time column's UTC date as YYYY-MM-DD.
func (d Dialect) utcDay(column string) string {
	if d == Postgres {
		return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	return "substr(" + column + ", 1, 10)" // times are stored as fixed-width UTC text
}

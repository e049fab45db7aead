package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"
)

// timeScanner scans a time column of either database: time.Time from
// PostgreSQL, TimeLayout text from SQLite. The result is always UTC. It
// fills dst for a NOT NULL column, or ptr for a nullable one.
type timeScanner struct {
	dst *time.Time
	ptr **time.Time
}

// scanTime scans a NOT NULL time column into t.
func scanTime(t *time.Time) timeScanner { return timeScanner{dst: t} }

// scanNullTime scans a nullable time column into p, nil for NULL.
func scanNullTime(p **time.Time) timeScanner { return timeScanner{ptr: p} }

func (s timeScanner) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if s.ptr == nil {
			return fmt.Errorf("scan time: NULL in a NOT NULL column")
		}
		*s.ptr = nil
		return nil
	case time.Time:
		t = v
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("scan time: unsupported type %T", src)
	}
	s.set(t)
	return nil
}

func (s timeScanner) parse(v string) error {
	// RFC 3339 parsing accepts TimeLayout and any other fraction width.
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", v, err)
	}
	s.set(t)
	return nil
}

func (s timeScanner) set(t time.Time) {
	t = t.UTC()
	if s.ptr != nil {
		*s.ptr = &t
		return
	}
	*s.dst = t
}

// jsonScanner decodes a JSON column (TEXT in SQLite, jsonb in PostgreSQL)
// into dst, a pointer. NULL sets dst to its zero value.
type jsonScanner struct{ dst any }

func (s jsonScanner) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		b = []byte("null") // sets maps, slices and pointers to nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan json: unsupported type %T", src)
	}
	// Unmarshal merges into a non-nil map; a scan must replace.
	reflect.ValueOf(s.dst).Elem().SetZero()
	if err := json.Unmarshal(b, s.dst); err != nil {
		return fmt.Errorf("scan json: %w", err)
	}
	return nil
}

// jsonArg encodes v for a JSON column. null reports whether v is absent and
// must be stored as NULL.
func jsonArg(v any, null bool) (any, error) {
	if null {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// objectArg encodes a JSON object for a NOT NULL column such as metadata;
// nil is stored as {}.
func objectArg(m map[string]any) (any, error) {
	if m == nil {
		m = map[string]any{}
	}
	return jsonArg(m, false)
}

// storedTime is t as the database keeps it and a read returns it: UTC, to
// the microsecond.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// storedTimePtr is storedTime of an optional time.
func storedTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := storedTime(*t)
	return &v
}

// stringOrNull maps "" to NULL, for optional unique columns such as
// users.email, and for optional ids.
func stringOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullString scans a nullable text column, NULL becoming "".
type nullString struct{ dst *string }

func (s nullString) Scan(src any) error {
	var ns sql.NullString
	if err := ns.Scan(src); err != nil {
		return err
	}
	*s.dst = ns.String
	return nil
}

// nullSeconds scans a nullable number of seconds (a REAL column) into an
// *int, rounding; NULL becomes nil.
type nullSeconds struct{ dst **int }

func (s nullSeconds) Scan(src any) error {
	var f sql.NullFloat64
	if err := f.Scan(src); err != nil {
		return err
	}
	if !f.Valid {
		*s.dst = nil
		return nil
	}
	v := int(math.Round(f.Float64))
	*s.dst = &v
	return nil
}

// secondsArg is the argument for a nullable seconds column.
func secondsArg(v *int) any {
	if v == nil {
		return nil
	}
	return float64(*v)
}

package sqlstore

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func TestContainsPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "%%"},
		{"go", "%go%"},
		{"100%", `%100\%%`},
		{"a_b", `%a\_b%`},
		{`C:\Temp`, `%C:\\Temp%`},
		{`\%_`, `%\\\%\_%`},
	}
	for _, tt := range tests {
		if got := containsPattern(tt.in); got != tt.want {
			t.Errorf("containsPattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPageClause(t *testing.T) {
	tests := []struct {
		page echogen.Page
		want []any
	}{
		{echogen.Page{Limit: 20, Offset: 40}, []any{int64(20), int64(40)}},
		{echogen.Page{}, []any{int64(math.MaxInt64), int64(0)}},
		{echogen.Page{Limit: -1, Offset: -5}, []any{int64(math.MaxInt64), int64(0)}},
	}
	for _, tt := range tests {
		clause, args := pageClause(tt.page)
		if clause != ` LIMIT ? OFFSET ?` {
			t.Errorf("pageClause(%+v) clause = %q", tt.page, clause)
		}
		if diff := cmp.Diff(tt.want, args); diff != "" {
			t.Errorf("pageClause(%+v) args (-want +got):\n%s", tt.page, diff)
		}
	}
}

func TestNullSeconds(t *testing.T) {
	tests := []struct {
		src     any
		want    *int
		wantErr bool
	}{
		{nil, nil, false},
		{312.4, ptr(312), false},
		{312.5, ptr(313), false},
		{int64(7), ptr(7), false},
		{"12", ptr(12), false},
		{"twelve", nil, true},
	}
	for _, tt := range tests {
		got := ptr(-1) // a NULL must clear it
		err := nullSeconds{&got}.Scan(tt.src)
		if (err != nil) != tt.wantErr {
			t.Fatalf("Scan(%v) error = %v, want error: %v", tt.src, err, tt.wantErr)
		}
		if !tt.wantErr {
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan(%v) (-want +got):\n%s", tt.src, diff)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

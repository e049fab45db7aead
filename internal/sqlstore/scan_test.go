package sqlstore

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTimeScanner(t *testing.T) {
	want := time.Date(2030, 1, 2, 1, 4, 5, 123456000, time.UTC)
	tests := []struct {
		name    string
		src     any
		want    *time.Time // nil: NULL
		wantErr bool
	}{
		{"time.Time in a zone", want.In(time.FixedZone("UTC+2", 2*3600)), &want, false},
		{"sqlite text", "2030-01-02T01:04:05.123456Z", &want, false},
		{"bytes", []byte("2030-01-02T01:04:05.123456Z"), &want, false},
		{"offset text", "2030-01-02T03:04:05.123456+02:00", &want, false},
		{"NULL", nil, nil, false},
		{"garbage", "yesterday", nil, true},
		{"wrong type", int64(5), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := &time.Time{} // non-nil, so a NULL must clear it
			err := scanNullTime(&got).Scan(tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Scan(%v) error = %v, want error: %v", tt.src, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan(%v) (-want +got):\n%s", tt.src, diff)
			}
			if got != nil && got.Location() != time.UTC {
				t.Errorf("Scan(%v) location = %v, want UTC", tt.src, got.Location())
			}
		})
	}

	var notNull time.Time
	if err := scanTime(&notNull).Scan(nil); err == nil {
		t.Error("scanning NULL into a NOT NULL time succeeded")
	}
}

func TestJSONScanner(t *testing.T) {
	tests := []struct {
		name string
		src  any
		want map[string]any
	}{
		{"text", `{"a":{"b":[1,"x",null]}}`, map[string]any{"a": map[string]any{"b": []any{1.0, "x", nil}}}},
		{"bytes", []byte(`{"a":true}`), map[string]any{"a": true}},
		{"NULL", nil, nil},
		{"replaces, not merges", `{"new":1}`, map[string]any{"new": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]any{"old": "value"}
			if err := (jsonScanner{&got}).Scan(tt.src); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan (-want +got):\n%s", diff)
			}
		})
	}
}

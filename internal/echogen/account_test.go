package echogen_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`null`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tc := range tests {
		var target, patch, want any
		for _, p := range []struct {
			s   string
			dst *any
		}{{tc.target, &target}, {tc.patch, &patch}, {tc.want, &want}} {
			if err := json.Unmarshal([]byte(p.s), p.dst); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := json.Marshal(target)
		got := echogen.MergePatch(target, patch)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MergePatch(%s, %s) (-want +got):\n%s", tc.target, tc.patch, diff)
		}
		if after, _ := json.Marshal(target); string(after) != string(before) {
			t.Errorf("MergePatch modified its target: %s → %s", before, after)
		}
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := echogen.NewID()
		if !echogen.IsID(id) || seen[id] || id[14] != '4' {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "not-an-id", "123e4567-e89b-12d3-a456-42661417400g", "123e4567e89b12d3a456426614174000", strings.Repeat("a", 36)} {
		if echogen.IsID(bad) {
			t.Errorf("IsID(%q) = true", bad)
		}
	}
	job := echogen.NewJobID("script_generation")
	rest, ok := strings.CutPrefix(job, "script_generation_")
	if !ok || len(rest) != 12 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Fatalf("job id %q does not have the shape <type>_<12 of [a-z0-9]>", job)
	}
}

func TestCredentialRules(t *testing.T) {
	tests := []struct {
		name    string
		check   func() error
		wantErr bool
	}{
		{"plain email", func() error { _, err := echogen.NormalizeEmail(" Ada@Example.COM "); return err }, false},
		{"email without dot", func() error { _, err := echogen.NormalizeEmail("ada@example"); return err }, true},
		{"email with space", func() error { _, err := echogen.NormalizeEmail("a da@example.com"); return err }, true},
		{"E.164 phone", func() error { _, err := echogen.NormalizePhone("+14155550123"); return err }, false},
		{"phone without plus", func() error { _, err := echogen.NormalizePhone("4155550123"); return err }, true},
		{"password of 8", func() error { return echogen.CheckPassword("12345678") }, false},
		{"password of 7", func() error { return echogen.CheckPassword("1234567") }, true},
		{"password of 128 runes", func() error { return echogen.CheckPassword(strings.Repeat("é", 128)) }, false},
		{"password of 129", func() error { return echogen.CheckPassword(strings.Repeat("a", 129)) }, true},
	}
	for _, tc := range tests {
		err := tc.check()
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("%s: kind = %v, want KindInvalid", tc.name, echogen.ErrorKind(err))
		}
	}
	if email, _ := echogen.NormalizeEmail(" Ada@Example.COM "); email != "ada@example.com" {
		t.Errorf("email not normalised: %q", email)
	}
}

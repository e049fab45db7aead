package blob

import (
	"strings"
	"testing"

	"github.com/echogen/server/internal/echogen"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"user/podcast.mp3", true},
		{"a", true},
		{"user/sub/Épisode 1 (final) #2?.mp3", true},
		{"user/file.name.with.dots", true},
		{"user/..a", false}, // a reserved leading dot, though not a ".." segment
		{strings.Repeat("k", MaxKeyLen), true},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"", false},
		{"/etc/passwd", false},
		{"../secret", false},
		{"user/../../secret", false},
		{"user/..", false},
		{"user/./x", false},
		{".", false},
		{"user/.put-123", false},
		{"user//x", false},
		{"user/", false},
		{`user\..\x`, false},
		{"user/x\x00y", false},
		{"user/x\ny", false},
		{"user/x\x7f", false},
		{"user/\xff", false},
	}
	for _, tt := range tests {
		err := validateKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("validateKey(%q) = %v, want ok: %v", tt.key, err, tt.ok)
		}
		if err != nil && echogen.ErrorKind(err) != echogen.KindInvalid {
			t.Errorf("validateKey(%q) kind = %v, want KindInvalid", tt.key, echogen.ErrorKind(err))
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"user/", true},
		{"user/ab", true},
		{"user", true},
		{"", false},
		{"/", false},
		{"user//", false},
		{"../", false},
		{"user/../", false},
	}
	for _, tt := range tests {
		if err := validatePrefix(tt.prefix); (err == nil) != tt.ok {
			t.Errorf("validatePrefix(%q) = %v, want ok: %v", tt.prefix, err, tt.ok)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"podcast-audio", true},
		{"uploads", true},
		{"a.b-c", true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"Upper", false},
		{"-lead", false},
		{"trail-", false},
		{"a..b", false},
		{"a/b", false},
		{"..", false},
		{".meta", false},
	}
	for _, tt := range tests {
		if got := validBucketName(tt.name); got != tt.ok {
			t.Errorf("validBucketName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestNormalizeContentType(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", defaultContentType, true},
		{"audio/mpeg", "audio/mpeg", true},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8", true},
		{"audio/mpeg\r\nX-Evil: 1", "", false},
		{"not a type", "", false},
		{"text/plain; charset=\u00e9", "", false},
		{"a/" + strings.Repeat("b", maxContentTypeLen), "", false},
	}
	for _, tt := range tests {
		got, err := normalizeContentType(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("normalizeContentType(%q) = %q, %v; want %q, ok: %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

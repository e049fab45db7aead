package auth

import (
	"strings"
	"testing"
)

// TestCleanUserAgent: a session keeps a User-Agent any database can store.
func TestCleanUserAgent(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Dart/3.5 (dart:io)", "Dart/3.5 (dart:io)"},
		{"not UTF-8", "EchoGen \xff\xfe/1", "EchoGen \uFFFD/1"},
		{"overlong encoding", "\xc0\x80", "\uFFFD"},
		{"NUL", "a\x00b", "ab"},
		{"cut on a rune boundary", strings.Repeat("€", 200), strings.Repeat("€", 170)},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := cleanUserAgent(tt.in); got != tt.want {
			t.Errorf("%s: cleanUserAgent(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

package vault_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/echogen/server/internal/vault"
	"github.com/google/go-cmp/cmp"
)

// testKey derives a fixed key from id, so that "k1" is the same key in
// every keyring a test builds.
func testKey(id string) []byte {
	sum := sha256.Sum256([]byte("vault test key " + id))
	return sum[:]
}

// testVaultKeys returns a VAULT_KEYS value for ids, the first active.
func testVaultKeys(t testing.TB, ids ...string) string {
	t.Helper()
	entries := make([]string, len(ids))
	for i, id := range ids {
		e, err := vault.FormatKey(id, testKey(id))
		if err != nil {
			t.Fatalf("FormatKey(%q): %v", id, err)
		}
		entries[i] = e
	}
	return strings.Join(entries, ",")
}

func testRing(t testing.TB, ids ...string) *vault.Keyring {
	t.Helper()
	ring, err := vault.ParseKeyring(testVaultKeys(t, ids...))
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return ring
}

// keyMaterial lists the encodings of the test keys for ids that must never
// appear in output.
func keyMaterial(ids ...string) []string {
	var out []string
	for _, id := range ids {
		k := testKey(id)
		out = append(out, base64.StdEncoding.EncodeToString(k), hex.EncodeToString(k), string(k))
		// A prefix catches printing part of a key, or a key by a decoder.
		out = append(out, base64.StdEncoding.EncodeToString(k)[:12])
	}
	return out
}

func assertNoKeyMaterial(t *testing.T, what, s string, ids ...string) {
	t.Helper()
	for _, m := range keyMaterial(ids...) {
		if strings.Contains(s, m) {
			t.Errorf("%s holds key material: %q", what, s)
			return
		}
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2 := testVaultKeys(t, "k1"), testVaultKeys(t, "key_2-B")
	tests := []struct {
		name  string
		in    string
		want  []string
		opens []string // ids whose sealed values the ring must open
	}{
		{"one", k1, []string{"k1"}, []string{"k1"}},
		{"two, first active", k2 + "," + k1, []string{"key_2-B", "k1"}, []string{"k1", "key_2-B"}},
		{"spaces around entries", " " + k1 + " ,\t" + k2 + "\n", []string{"k1", "key_2-B"}, []string{"k1", "key_2-B"}},
		{"32-char id", testVaultKeys(t, strings.Repeat("a", 32)), []string{strings.Repeat("a", 32)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring, err := vault.ParseKeyring(tt.in)
			if err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
			if diff := cmp.Diff(tt.want, ring.IDs()); diff != "" {
				t.Errorf("IDs() (-want +got):\n%s", diff)
			}
			if got := ring.ActiveID(); got != tt.want[0] {
				t.Errorf("ActiveID() = %q, want %q", got, tt.want[0])
			}
			for _, id := range tt.opens {
				sealed, err := testRing(t, id).Seal([]byte("secret"), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ring.Open(sealed, nil); err != nil {
					t.Errorf("Open of a value sealed under %q: %v", id, err)
				}
			}
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	good := testVaultKeys(t, "k1")
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(testKey("k9")[:n]) }
	zero := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error, in order
	}{
		{"empty", "", []string{"no keys"}},
		{"blank", "  \n", []string{"no keys"}},
		{"no colon", b64(32), []string{"entry 1", `want "id:base64key"`}},
		{"empty id", ":" + b64(32), []string{"entry 1", "key id must be"}},
		{"id too long", strings.Repeat("x", 33) + ":" + b64(32), []string{"entry 1", "key id must be"}},
		{"id bad char", "k.1:" + b64(32), []string{"entry 1", "key id must be"}},
		{"key glued to id", b64(32) + ":" + b64(32), []string{"entry 1", "key id must be"}},
		{"bad base64", "k9:" + b64(32)[:10] + "!!" + b64(32)[12:], []string{"entry 1", `id "k9"`, "not valid standard base64"}},
		{"short key", "k9:" + b64(16), []string{"entry 1", `id "k9"`, "16 bytes, want 32"}},
		{"long key", "k9:" + base64.StdEncoding.EncodeToString(append(testKey("k9"), 1)), []string{"entry 1", "33 bytes, want 32"}},
		{"zero key", "k9:" + zero, []string{"entry 1", "all zeros"}},
		{"trailing comma", good + ",", []string{"entry 2", "empty"}},
		{"double comma", good + ",," + testVaultKeys(t, "k2"), []string{"entry 2", "empty"}},
		{"duplicate id", good + "," + testVaultKeys(t, "k2") + "," + good, []string{"entry 3", `id "k1" already used by entry 1`}},
		{"every bad entry listed", "k9:" + b64(16) + "," + good + ",nope", []string{"entry 1", "entry 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring, err := vault.ParseKeyring(tt.in)
			if err == nil {
				t.Fatalf("ParseKeyring = %v, want an error", ring)
			}
			if !errors.Is(err, vault.ErrBadKeyring) {
				t.Errorf("error %v is not ErrBadKeyring", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			assertNoKeyMaterial(t, "error", msg, "k1", "k2", "k9")
		})
	}
}

func TestGenerateKey(t *testing.T) {
	id1, key1 := vault.GenerateKey()
	id2, key2 := vault.GenerateKey()
	if id1 == id2 || string(key1) == string(key2) {
		t.Fatalf("two GenerateKey calls gave the same id or key: %q %q", id1, id2)
	}
	if len(key1) != vault.KeySize {
		t.Fatalf("len(key) = %d, want %d", len(key1), vault.KeySize)
	}
	e1, err := vault.FormatKey(id1, key1)
	if err != nil {
		t.Fatalf("FormatKey(%q): %v", id1, err)
	}
	e2, err := vault.FormatKey(id2, key2)
	if err != nil {
		t.Fatalf("FormatKey(%q): %v", id2, err)
	}
	ring, err := vault.ParseKeyring(e1 + "," + e2)
	if err != nil {
		t.Fatalf("ParseKeyring(generated): %v", err)
	}
	if diff := cmp.Diff([]string{id1, id2}, ring.IDs()); diff != "" {
		t.Errorf("IDs() (-want +got):\n%s", diff)
	}
}

func TestFormatKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		id   string
		key  []byte
	}{
		{"bad id", "a b", testKey("k1")},
		{"empty id", "", testKey("k1")},
		{"short key", "k1", testKey("k1")[:31]},
		{"nil key", "k1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := vault.FormatKey(tt.id, tt.key); !errors.Is(err, vault.ErrBadKeyring) {
				t.Errorf("FormatKey error = %v, want ErrBadKeyring", err)
			}
		})
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	ring := testRing(t, "k1", "k2")
	type holder struct {
		ring  vault.Keyring // unexported: fmt prints it by reflection
		Ring  vault.Keyring
		ptr   *vault.Keyring
		Ptr   *vault.Keyring
		rings []*vault.Keyring
	}
	h := holder{ring: *ring, Ring: *ring, ptr: ring, Ptr: ring, rings: []*vault.Keyring{ring}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, arg := range []any{ring, *ring, h, &h} {
			out := fmt.Sprintf(verb, arg)
			assertNoKeyMaterial(t, fmt.Sprintf("Sprintf(%q, %T)", verb, arg), out, "k1", "k2")
		}
	}
	if got, want := ring.String(), "vault.Keyring{ids: k1,k2}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", ring), ring.String(); got != want {
		t.Errorf("%%#v = %q, want %q", got, want)
	}
	var nilRing *vault.Keyring
	if got := fmt.Sprint(nilRing); got != "vault.Keyring(nil)" {
		t.Errorf("Sprint(nil) = %q", got)
	}
}

func TestZeroKeyring(t *testing.T) {
	var ring vault.Keyring
	sealed := seal(t, testRing(t, "k1"), []byte("x"), nil)
	if _, err := ring.Seal([]byte("x"), nil); !errors.Is(err, vault.ErrBadKeyring) {
		t.Errorf("Seal error = %v, want ErrBadKeyring", err)
	}
	if _, err := ring.Rotate(sealed, nil); !errors.Is(err, vault.ErrBadKeyring) {
		t.Errorf("Rotate error = %v, want ErrBadKeyring", err)
	}
	if _, err := ring.Open(sealed, nil); !errors.Is(err, vault.ErrUnknownKey) {
		t.Errorf("Open error = %v, want ErrUnknownKey", err)
	}
	if got := ring.ActiveID(); got != "" {
		t.Errorf("ActiveID() = %q, want empty", got)
	}
}

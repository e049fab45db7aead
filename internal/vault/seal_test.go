package vault_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/echogen/server/internal/vault"
	"github.com/google/go-cmp/cmp"
)

var aad = []byte("user:42/provider:openai")

// openErrs are the errors Open may fail with.
var openErrs = []error{vault.ErrMalformed, vault.ErrUnknownKey, vault.ErrDecrypt}

func isOpenErr(err error) bool {
	for _, e := range openErrs {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func seal(t testing.TB, ring *vault.Keyring, plaintext, aad []byte) []byte {
	t.Helper()
	sealed, err := ring.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestSealOpenRoundTrip(t *testing.T) {
	ring := testRing(t, "k1")
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"api key", []byte("sk-proj-abcdef0123456789"), aad},
		{"empty plaintext", []byte{}, aad},
		{"nil aad", []byte("secret"), nil},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, 0}, []byte{0}},
		{"large", bytes.Repeat([]byte("x"), 64<<10), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := seal(t, ring, tt.plaintext, tt.aad)
			if len(tt.plaintext) > 4 && bytes.Contains(sealed, tt.plaintext) {
				t.Fatal("sealed value holds the plaintext")
			}
			got, err := ring.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealLayout(t *testing.T) {
	ring := testRing(t, "key-1")
	plaintext := []byte("sk-123")
	sealed := seal(t, ring, plaintext, aad)
	const (
		id         = "key-1"
		wantPrefix = "\x01\x05" + id
	)
	if !strings.HasPrefix(string(sealed), wantPrefix) {
		t.Errorf("sealed starts %q, want %q", sealed[:len(wantPrefix)], wantPrefix)
	}
	// header, wrap nonce, wrapped key, tag, data nonce, data, tag
	if got, want := len(sealed), 2+len(id)+12+32+16+12+len(plaintext)+16; got != want {
		t.Errorf("len(sealed) = %d, want %d", got, want)
	}
	if got, err := vault.KeyID(sealed); err != nil || got != id {
		t.Errorf("KeyID = %q, %v; want %q", got, err, id)
	}
	if min := len(seal(t, testRing(t, "k"), nil, nil)); min != 91 {
		t.Errorf("shortest sealed value is %d bytes, want 91", min)
	}
}

func TestSealIsRandomized(t *testing.T) {
	ring := testRing(t, "k1")
	a, b := seal(t, ring, []byte("same"), aad), seal(t, ring, []byte("same"), aad)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
	// Fresh nonces and a fresh data key: the wrapped key and data differ too.
	if bytes.Equal(a[len(a)-20:], b[len(b)-20:]) {
		t.Error("two seals end the same")
	}
}

func TestOpenWrongAAD(t *testing.T) {
	ring := testRing(t, "k1")
	sealed := seal(t, ring, []byte("secret"), aad)
	tests := []struct {
		name string
		aad  []byte
	}{
		{"nil", nil},
		{"other user", []byte("user:43/provider:openai")},
		{"prefix", aad[:len(aad)-1]},
		{"longer", append(append([]byte{}, aad...), 0)},
		{"version-like prefix", append([]byte{1}, aad...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ring.Open(sealed, tt.aad)
			if !errors.Is(err, vault.ErrDecrypt) {
				t.Fatalf("Open = %q, %v; want ErrDecrypt", got, err)
			}
			if got != nil {
				t.Errorf("Open returned %q with its error", got)
			}
		})
	}
}

func TestOpenTamperEveryByte(t *testing.T) {
	ring := testRing(t, "k1", "k2")
	plaintext := []byte("sk-tamper-test")
	sealed := seal(t, ring, plaintext, aad)
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= mask
			got, err := ring.Open(tampered, aad)
			if err == nil || got != nil {
				t.Fatalf("byte %d ^ %#x: Open = %q, %v; want an error", i, mask, got, err)
			}
			if !isOpenErr(err) {
				t.Fatalf("byte %d ^ %#x: error %v wraps none of the sentinels", i, mask, err)
			}
			msg := err.Error()
			assertNoKeyMaterial(t, "error", msg, "k1", "k2")
			if strings.Contains(msg, string(plaintext)) {
				t.Fatalf("error %q holds the plaintext", msg)
			}
			if _, err := ring.Rotate(tampered, aad); !isOpenErr(err) {
				t.Fatalf("byte %d ^ %#x: Rotate error = %v, want a sentinel", i, mask, err)
			}
		}
	}
}

func TestOpenTruncatedOrExtended(t *testing.T) {
	ring := testRing(t, "k1")
	sealed := seal(t, ring, []byte("secret"), aad)
	for n := range len(sealed) {
		got, err := ring.Open(sealed[:n], aad)
		if !isOpenErr(err) || got != nil {
			t.Fatalf("Open(first %d bytes) = %q, %v; want a sentinel error", n, got, err)
		}
	}
	tests := []struct {
		name    string
		mutated []byte
	}{
		{"nil", nil},
		{"extra byte", append(bytes.Clone(sealed), 0)},
		{"doubled", append(bytes.Clone(sealed), sealed...)},
		{"id length past end", append([]byte{1, 255}, sealed[2:]...)},
		{"id length zero", append([]byte{1, 0}, sealed[2:]...)},
		{"version 2", append([]byte{2}, sealed[1:]...)},
		{"version 0", append([]byte{0}, sealed[1:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ring.Open(tt.mutated, aad); !isOpenErr(err) || got != nil {
				t.Fatalf("Open = %q, %v; want a sentinel error", got, err)
			}
		})
	}
}

func TestOpenUnknownKey(t *testing.T) {
	sealed := seal(t, testRing(t, "k1"), []byte("secret"), aad)
	_, err := testRing(t, "k2").Open(sealed, aad)
	if !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("Open error = %v, want ErrUnknownKey", err)
	}
	if !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("error %q does not name the missing key id", err)
	}
	assertNoKeyMaterial(t, "error", err.Error(), "k1", "k2")
}

func TestOpenSameIDOtherKey(t *testing.T) {
	// An operator who regenerates a key under an old id gets ErrDecrypt.
	sealed := seal(t, testRing(t, "k1"), []byte("secret"), aad)
	other, err := vault.FormatKey("k1", testKey("not k1"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := vault.ParseKeyring(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Open(sealed, aad); !errors.Is(err, vault.ErrDecrypt) {
		t.Fatalf("Open error = %v, want ErrDecrypt", err)
	}
}

func TestRotate(t *testing.T) {
	oldRing := testRing(t, "k1")
	newRing := testRing(t, "k2", "k1")
	onlyNew := testRing(t, "k2")
	plaintext := []byte("sk-rotate-me")

	sealed := seal(t, oldRing, plaintext, aad)
	if got, err := newRing.Open(sealed, aad); err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("new keyring opens an old value: %q, %v", got, err)
	}

	rotated, err := newRing.Rotate(sealed, aad)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	ids := func(b []byte) string {
		id, err := vault.KeyID(b)
		if err != nil {
			t.Fatalf("KeyID: %v", err)
		}
		return id
	}
	if diff := cmp.Diff([]string{"k1", "k2"}, []string{ids(sealed), ids(rotated)}); diff != "" {
		t.Errorf("KeyID before, after (-want +got):\n%s", diff)
	}
	// Only the header and wrapped key change: the data part is the same bytes.
	const dataOffset = 2 + 2 + 12 + 32 + 16
	if !bytes.Equal(sealed[dataOffset:], rotated[dataOffset:]) {
		t.Error("Rotate changed the sealed data")
	}

	for _, tc := range []struct {
		name string
		ring *vault.Keyring
	}{{"new keyring", newRing}, {"new key only", onlyNew}} {
		if got, err := tc.ring.Open(rotated, aad); err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("%s: Open(rotated) = %q, %v; want %q", tc.name, got, err, plaintext)
		}
	}
	if _, err := oldRing.Open(rotated, aad); !errors.Is(err, vault.ErrUnknownKey) {
		t.Errorf("old keyring: Open(rotated) error = %v, want ErrUnknownKey", err)
	}

	// Rotating again, already under the active key, still opens.
	again, err := newRing.Rotate(rotated, aad)
	if err != nil {
		t.Fatalf("Rotate(rotated): %v", err)
	}
	if got, err := onlyNew.Open(again, aad); err != nil || !bytes.Equal(got, plaintext) {
		t.Errorf("Open(rotated twice) = %q, %v", got, err)
	}
}

func TestRotateErrors(t *testing.T) {
	sealed := seal(t, testRing(t, "k1"), []byte("secret"), aad)
	tests := []struct {
		name   string
		ring   *vault.Keyring
		sealed []byte
		aad    []byte
		want   error
	}{
		{"wrong aad", testRing(t, "k2", "k1"), sealed, []byte("other"), vault.ErrDecrypt},
		{"unknown key", testRing(t, "k2"), sealed, aad, vault.ErrUnknownKey},
		{"truncated", testRing(t, "k2", "k1"), sealed[:40], aad, vault.ErrMalformed},
		{"data tampered", testRing(t, "k2", "k1"), flipLast(sealed), aad, vault.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Rotate(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("Rotate = %x, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func flipLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 1
	return b
}

func TestKeyIDErrors(t *testing.T) {
	sealed := seal(t, testRing(t, "k1"), nil, nil)
	for _, b := range [][]byte{nil, {1}, sealed[:90], append([]byte{9}, sealed[1:]...), append([]byte{1, 2, '.', '!'}, sealed[4:]...)} {
		if id, err := vault.KeyID(b); !errors.Is(err, vault.ErrMalformed) {
			t.Errorf("KeyID(%x) = %q, %v; want ErrMalformed", b, id, err)
		}
	}
}

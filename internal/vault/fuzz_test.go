package vault_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/echogen/server/internal/vault"
)

// FuzzOpen feeds arbitrary bytes to the sealed-secret parser. Open must
// never panic, must fail with a sentinel error, and must agree with KeyID.
func FuzzOpen(f *testing.F) {
	ring := testRing(f, "k1", "other-key")
	old := testRing(f, "other-key")
	for _, pt := range []string{"", "sk-live-0123456789", "\x00\xff"} {
		for _, r := range []*vault.Keyring{ring, old} {
			s := seal(f, r, []byte(pt), aad)
			f.Add(s, aad)
			f.Add(s[:len(s)/2], aad)
			f.Add(s, []byte(nil))
		}
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 1, 'k'}, aad)

	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		pt, err := ring.Open(sealed, aad)
		_, idErr := vault.KeyID(sealed)
		if err != nil {
			if pt != nil {
				t.Fatalf("Open returned %q with error %v", pt, err)
			}
			if !isOpenErr(err) {
				t.Fatalf("Open error %v wraps none of the sentinels", err)
			}
			if idErr != nil && !errors.Is(err, vault.ErrMalformed) {
				t.Fatalf("KeyID failed (%v) but Open failed with %v", idErr, err)
			}
			assertNoKeyMaterial(t, "error", err.Error(), "k1", "other-key")
			return
		}
		if idErr != nil {
			t.Fatalf("Open succeeded but KeyID failed: %v", idErr)
		}
		rotated, err := ring.Rotate(sealed, aad)
		if err != nil {
			t.Fatalf("Rotate of a value that opens: %v", err)
		}
		again, err := ring.Open(rotated, aad)
		if err != nil || !bytes.Equal(again, pt) {
			t.Fatalf("Open(Rotate(x)) = %q, %v; want %q", again, err, pt)
		}
	})
}

// FuzzOpenBitFlip seals arbitrary plaintext under arbitrary additional
// data, checks that it opens to itself, then flips one bit of the sealed
// value (or of the additional data): the result must never open.
func FuzzOpenBitFlip(f *testing.F) {
	ring := testRing(f, "k1", "other-key")
	f.Add([]byte("sk-live-0123456789"), aad, uint16(0), uint8(0), false)
	f.Add([]byte("sk-live-0123456789"), aad, uint16(3), uint8(7), false)
	f.Add([]byte(""), []byte(nil), uint16(40), uint8(1), false)
	f.Add([]byte("\x00\xff"), aad, uint16(0), uint8(2), true)
	f.Fuzz(func(t *testing.T, pt, aad []byte, at uint16, bit uint8, inAAD bool) {
		s, err := ring.Seal(pt, aad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		got, err := ring.Open(s, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", pt, got, err)
		}
		target := s
		if inAAD {
			if len(aad) == 0 {
				return
			}
			aad = bytes.Clone(aad)
			target = aad
		} else {
			s = bytes.Clone(s)
			target = s
		}
		target[int(at)%len(target)] ^= 1 << (bit % 8)
		if got, err := ring.Open(s, aad); err == nil {
			t.Fatalf("a sealed value with bit %d of byte %d flipped (in aad: %v) opened to %q", bit%8, int(at)%len(target), inAAD, got)
		} else if !isOpenErr(err) {
			t.Fatalf("Open error %v wraps none of the sentinels", err)
		}
	})
}

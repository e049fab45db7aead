package vault

import (
	"crypto/rand"
	"fmt"
)

// Sizes of the sealed format; see the package doc.
const (
	version1    = 1
	nonceSize   = 12
	tagSize     = 16
	wrappedSize = nonceSize + KeySize + tagSize
	// minSealed is a sealed empty plaintext under a one-byte id.
	minSealed = 2 + 1 + wrappedSize + nonceSize + tagSize
)

// sealed is a parsed sealed secret. Its slices alias the input.
type sealed struct {
	id      string
	header  []byte // version, id length, id
	wrapped []byte // wrap nonce, data key sealed by the KEK, tag
	data    []byte // data nonce, plaintext sealed by the data key, tag
}

// parse checks the layout of b; it decrypts nothing.
func parse(b []byte) (sealed, error) {
	if len(b) < 2 {
		return sealed{}, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if b[0] != version1 {
		return sealed{}, fmt.Errorf("%w: unsupported version %d", ErrMalformed, b[0])
	}
	n := int(b[1])
	if n < 1 || n > maxIDLen {
		return sealed{}, fmt.Errorf("%w: key id length %d", ErrMalformed, n)
	}
	if len(b) < minSealed-1+n {
		return sealed{}, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	hdr := b[:2+n]
	id := string(hdr[2:])
	if !validID(id) {
		return sealed{}, fmt.Errorf("%w: bad key id", ErrMalformed)
	}
	return sealed{
		id:      id,
		header:  hdr,
		wrapped: b[len(hdr) : len(hdr)+wrappedSize],
		data:    b[len(hdr)+wrappedSize:],
	}, nil
}

// KeyID returns the id of the KEK that sealed was wrapped under, without
// decrypting anything. Rotation uses it to skip secrets already under the
// active key.
func KeyID(sealed []byte) (string, error) {
	s, err := parse(sealed)
	if err != nil {
		return "", err
	}
	return s.id, nil
}

// Seal encrypts plaintext under a fresh random data key, wraps that key
// under the active KEK, and binds aad to both. aad should name where the
// secret lives (say, user id and provider), so that it opens nowhere else.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	if len(k.keks) == 0 {
		return nil, errEmptyKeyring
	}
	dek := make([]byte, KeySize)
	rand.Read(dek) // never fails: crypto/rand crashes the program instead
	defer clear(dek)

	dataAEAD, err := newAEAD(dek)
	if err != nil {
		return nil, fmt.Errorf("vault: seal: %w", err)
	}
	out := k.wrap(make([]byte, 0, 2+maxIDLen+wrappedSize+nonceSize+len(plaintext)+tagSize), dek, aad)
	return dataAEAD.Seal(out, nil, plaintext, dataAAD(aad)), nil
}

// wrap appends the header and the data key wrapped by the active KEK to dst.
func (k *Keyring) wrap(dst, dek, aad []byte) []byte {
	active := k.keks[0]
	dst = append(dst, version1, byte(len(active.id)))
	dst = append(dst, active.id...)
	hdr := dst[:2+len(active.id)]
	return active.aead.Seal(dst, nil, dek, wrapAAD(hdr, aad))
}

// Open decrypts a value made by Seal or Rotate with the same aad. Every
// failure wraps ErrMalformed, ErrUnknownKey or ErrDecrypt.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	s, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := k.unwrap(s, aad)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return openData(dek, s.data, aad)
}

// Rotate re-wraps the data key of sealed under the active KEK, keeping the
// data bytes as they are. It first opens the whole secret, so it never
// re-wraps a value that would not open. Running it on a value already under
// the active key is harmless; check KeyID first to skip the write.
func (k *Keyring) Rotate(sealed, aad []byte) ([]byte, error) {
	if len(k.keks) == 0 {
		return nil, errEmptyKeyring
	}
	s, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := k.unwrap(s, aad)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	plaintext, err := openData(dek, s.data, aad)
	if err != nil {
		return nil, err
	}
	clear(plaintext)
	out := k.wrap(make([]byte, 0, 2+maxIDLen+wrappedSize+len(s.data)), dek, aad)
	return append(out, s.data...), nil
}

func (k *Keyring) unwrap(s sealed, aad []byte) ([]byte, error) {
	e := k.lookup(s.id)
	if e == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, s.id)
	}
	dek, err := e.aead.Open(nil, nil, s.wrapped, wrapAAD(s.header, aad))
	if err != nil {
		// GCM's error says nothing useful; do not wrap it.
		return nil, fmt.Errorf("%w: data key (wrong aad, or tampered)", ErrDecrypt)
	}
	return dek, nil
}

func openData(dek, data, aad []byte) ([]byte, error) {
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, fmt.Errorf("vault: open: %w", err)
	}
	plaintext, err := aead.Open(nil, nil, data, dataAAD(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: data (wrong aad, or tampered)", ErrDecrypt)
	}
	return plaintext, nil
}

// wrapAAD binds the header, and so the KEK id, to the wrapped data key.
func wrapAAD(header, aad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(aad)), header...), aad...)
}

// dataAAD leaves the KEK id out so that Rotate need not touch the data.
func dataAAD(aad []byte) []byte {
	return append([]byte{version1}, aad...)
}

// Current reports whether sealed is wrapped by the active key, so rotation
// can skip it.
func (k *Keyring) Current(sealed []byte) bool {
	id, err := KeyID(sealed)
	return err == nil && id == k.ActiveID()
}

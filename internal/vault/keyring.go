package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size in bytes of every key, KEKs and data keys alike.
const KeySize = 32

// maxIDLen bounds a KEK id so it fits the sealed format's one length byte
// with room to spare.
const maxIDLen = 32

// Keyring holds the key-encryption keys. The first is active: Seal and
// Rotate use it; Open accepts any. A Keyring is immutable and safe for
// concurrent use.
type Keyring struct {
	// Pointers, not values, so that fmt printing a struct that holds a
	// Keyring by reflection shows addresses, never a key schedule.
	keks []*kek
}

type kek struct {
	id   string
	aead cipher.AEAD
}

// ParseKeyring parses a VAULT_KEYS value: comma-separated "id:base64key"
// entries, the active key first. Each key is the standard base64 encoding
// of 32 random bytes (GenerateKey makes one). The error lists every bad
// entry by position; it never shows key material.
func ParseKeyring(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no keys", ErrBadKeyring)
	}
	var (
		errs []error
		ring = &Keyring{}
		seen = map[string]int{}
	)
	for i, entry := range strings.Split(s, ",") {
		pos := i + 1
		id, key, err := parseEntry(strings.TrimSpace(entry))
		if err == nil {
			if first, dup := seen[id]; dup {
				err = fmt.Errorf("id %q already used by entry %d", id, first)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: entry %d: %w", ErrBadKeyring, pos, err))
			continue
		}
		seen[id] = pos
		aead, err := newAEAD(key)
		clear(key)
		if err != nil {
			return nil, fmt.Errorf("vault: entry %d: %w", pos, err)
		}
		ring.keks = append(ring.keks, &kek{id: id, aead: aead})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ring, nil
}

// parseEntry splits and checks one "id:base64key" entry. Its errors name
// the id only once the id is known to be well formed: a malformed entry may
// be a pasted key.
func parseEntry(entry string) (id string, key []byte, err error) {
	if entry == "" {
		return "", nil, errors.New("empty (stray comma?)")
	}
	id, b64, ok := strings.Cut(entry, ":")
	if !ok {
		return "", nil, errors.New(`want "id:base64key"`)
	}
	if !validID(id) {
		return "", nil, fmt.Errorf("key id must be 1-%d characters of A-Z a-z 0-9 _ -", maxIDLen)
	}
	key, err = base64.StdEncoding.DecodeString(b64)
	if err != nil {
		// The decoder's error gives only an offset, but say it plainly.
		return "", nil, fmt.Errorf("id %q: key is not valid standard base64", id)
	}
	if len(key) != KeySize {
		return "", nil, fmt.Errorf("id %q: key is %d bytes, want %d", id, len(key), KeySize)
	}
	if allZero(key) {
		return "", nil, fmt.Errorf("id %q: key is all zeros (a placeholder?)", id)
	}
	return id, key, nil
}

// validID reports whether id is 1-32 characters of [A-Za-z0-9_-].
func validID(id string) bool {
	if len(id) < 1 || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// newAEAD returns AES-256-GCM that draws a random nonce for every Seal and
// keeps it at the front of the output, so no caller can reuse a nonce.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// GenerateKey returns a new KEK: a random id such as "k-1a2b3c4d5e" and 32
// random bytes. Pass both to FormatKey to write a VAULT_KEYS entry.
func GenerateKey() (id string, key []byte) {
	var idBytes [5]byte
	rand.Read(idBytes[:]) // never fails: crypto/rand crashes the program instead
	key = make([]byte, KeySize)
	rand.Read(key)
	return "k-" + hex.EncodeToString(idBytes[:]), key
}

// FormatKey returns the VAULT_KEYS entry "id:base64key". To rotate, put the
// new entry first and keep the old ones after it, comma-separated:
//
//	VAULT_KEYS=<new entry>,<old entry>
func FormatKey(id string, key []byte) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("%w: key id must be 1-%d characters of A-Z a-z 0-9 _ -", ErrBadKeyring, maxIDLen)
	}
	if len(key) != KeySize {
		return "", fmt.Errorf("%w: id %q: key is %d bytes, want %d", ErrBadKeyring, id, len(key), KeySize)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// errEmptyKeyring guards the zero Keyring; ParseKeyring never returns one.
var errEmptyKeyring = fmt.Errorf("%w: no keys", ErrBadKeyring)

// ActiveID returns the id of the key that Seal and Rotate use.
func (k *Keyring) ActiveID() string {
	if len(k.keks) == 0 {
		return ""
	}
	return k.keks[0].id
}

// IDs returns the key ids, the active one first.
func (k *Keyring) IDs() []string {
	ids := make([]string, len(k.keks))
	for i, e := range k.keks {
		ids[i] = e.id
	}
	return ids
}

func (k *Keyring) lookup(id string) *kek {
	for _, e := range k.keks {
		if e.id == id {
			return e
		}
	}
	return nil
}

// String names the key ids only, so that logging a Keyring is harmless.
func (k *Keyring) String() string {
	if k == nil {
		return "vault.Keyring(nil)"
	}
	return fmt.Sprintf("vault.Keyring{ids: %s}", strings.Join(k.IDs(), ","))
}

// GoString serves %#v the same way as String.
func (k *Keyring) GoString() string { return k.String() }

// Format makes every verb print String, so no verb (%x, %+v, ...) can reach
// the keys.
func (k *Keyring) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, k.String())
}

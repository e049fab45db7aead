package vault

import "errors"

// Open, Rotate and KeyID fail with errors that wrap one of these. Their
// messages never hold key material or plaintext.
var (
	// ErrMalformed: the value is not a sealed secret this version can parse
	// (truncated, unknown version, bad id).
	ErrMalformed = errors.New("vault: malformed sealed secret")
	// ErrUnknownKey: the secret was sealed under a KEK the keyring lacks.
	ErrUnknownKey = errors.New("vault: unknown key id")
	// ErrDecrypt: authentication failed, from tampering or the wrong aad.
	ErrDecrypt = errors.New("vault: cannot decrypt sealed secret")
	// ErrBadKeyring: VAULT_KEYS, or a key given to FormatKey, is invalid.
	ErrBadKeyring = errors.New("vault: invalid VAULT_KEYS")
)

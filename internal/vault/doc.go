// Package vault seals user secrets, such as provider API keys, with envelope
// encryption: each secret gets its own random AES-256 data key, and that data
// key is wrapped by a key-encryption key (KEK) from a Keyring. Rotating a KEK
// re-wraps the small data key; the sealed data itself never changes.
//
// # Sealed format, version 1
//
// All integers are single unsigned bytes.
//
//	offset        size     field
//	0             1        version, 0x01
//	1             1        n, length of the KEK id (1..32)
//	2             n        KEK id, ASCII [A-Za-z0-9_-]
//	2+n           12       wrap nonce
//	14+n          32+16    data key sealed by the KEK (AES-256-GCM), then tag
//	62+n          12       data nonce
//	74+n          len+16   plaintext sealed by the data key (AES-256-GCM), then tag
//
// The shortest sealed value (empty plaintext, one-byte id) is 91 bytes.
//
// Both GCM operations bind the caller's additional data (aad), so a secret
// copied to another row or user does not open. The data key's wrap also binds
// the header (version, n, id), so the id cannot be swapped; the data itself
// binds only the version and the aad, which is what lets Rotate re-wrap the
// data key under a new KEK without touching the data:
//
//	wrap aad = version || n || id || aad
//	data aad = version || aad
package vault

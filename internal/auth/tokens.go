package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// newOpaqueToken returns a refresh or one-time token: 32 random bytes,
// base64url without padding, and the hex SHA-256 of it, which is all we
// store. A plain hash suffices because the token carries 256 random bits;
// there is nothing to brute-force.
func newOpaqueToken() (token, hash string) {
	token = base64.RawURLEncoding.EncodeToString(randomBytes(32))
	return token, hashToken(token)
}

// hashToken returns the stored form of an opaque token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

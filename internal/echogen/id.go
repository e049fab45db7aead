package echogen

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// NewID returns a random (version 4) UUID in its lowercase, hyphenated form,
// the shape every id of the v1 API has except job ids.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsID reports whether s has the shape NewID returns (any UUID version,
// either case). Handlers use it to answer a malformed id with 404 instead
// of handing it to the database.
func IsID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

const jobIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewJobID returns "<jobType>_" followed by 12 characters of [a-z0-9], the job
// id shape of the original server.
func NewJobID(jobType string) string {
	return jobType + "_" + RandomString(12, jobIDAlphabet)
}

// RandomString returns n characters drawn uniformly from alphabet.
func RandomString(n int, alphabet string) string {
	out := make([]byte, n)
	limit := 256 - 256%len(alphabet) // reject bytes that would bias the draw
	var buf [1]byte
	for i := 0; i < n; {
		_, _ = rand.Read(buf[:])
		if int(buf[0]) >= limit {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

package blob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// MediaPath is the path under which the local store's Handler serves
// objects: MediaPath + "<bucket>/<key>".
const MediaPath = "/media/"

// MaxSignedURLTTL is the longest a signed URL may live; S3 allows no more
// for presigned URLs, and the local store keeps the same limit.
const MaxSignedURLTTL = 7 * 24 * time.Hour

// minSigningKeyLen is the shortest signing key accepted, in bytes.
const minSigningKeyLen = 32

// Query parameters of a signed URL.
const (
	paramExpires  = "exp"
	paramKeyID    = "kid"
	paramSig      = "sig"
	paramDownload = "dl"
)

// signatureDomain separates these MACs from any other use of the keys.
const signatureDomain = "echogen-media-url-v1"

// Signer signs and verifies the local store's media URLs:
//
//	/media/<bucket>/<key>?exp=<unix seconds>&kid=<key id>&sig=<base64url>[&dl=1]
//
// sig is HMAC-SHA256, under the key named kid, over the key id, bucket,
// object key, expiry and download flag (each length-prefixed, so no two
// tuples share an encoding). The HTTP method is not signed: GET and HEAD
// read the same bytes. Several keys allow rotation: the first signs, all
// verify, so a new key can be put first while URLs signed by the old one
// run out.
type Signer struct {
	keys  []signingKey
	clock echogen.Clock
}

type signingKey struct {
	id     string
	secret []byte
}

// Grant is what a verified URL allows: reading one object until Expires,
// inline or as a download.
type Grant struct {
	Bucket   string
	Key      string
	Expires  time.Time
	Download bool
}

// NewSigner parses keys, "id:base64,id:base64,…": a key id of 1–32 letters,
// digits, '-' or '_', then at least 32 bytes of secret in base64 (standard
// or URL alphabet, padding optional). The first key signs; all verify. A
// nil clock is the system clock.
func NewSigner(keys string, clock echogen.Clock) (*Signer, error) {
	if clock == nil {
		clock = echogen.SystemClock{}
	}
	s := &Signer{clock: clock}
	seen := map[string]bool{}
	for i, entry := range strings.Split(keys, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok || !validKeyID(id) {
			// The entry is not quoted: it may hold a secret.
			return nil, fmt.Errorf("media signing key %d: want <id>:<base64 secret> with an id of 1-32 letters, digits, '-' or '_'", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("media signing key %q appears twice", id)
		}
		seen[id] = true
		secret, err := decodeBase64(b64)
		if err != nil {
			return nil, fmt.Errorf("media signing key %q: secret is not base64", id)
		}
		if len(secret) < minSigningKeyLen {
			return nil, fmt.Errorf("media signing key %q: secret has %d bytes, want at least %d", id, len(secret), minSigningKeyLen)
		}
		s.keys = append(s.keys, signingKey{id: id, secret: secret})
	}
	return s, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// SignedURL returns the relative URL that reads bucket/key until ttl has
// passed (rounded up to a whole second), as an attachment when download is
// set. It does not check that the object exists.
func (s *Signer) SignedURL(bucket, key string, ttl time.Duration, download bool) (string, error) {
	if ttl <= 0 || ttl > MaxSignedURLTTL {
		return "", fmt.Errorf("signed URL lifetime %v is not within (0, %v]", ttl, MaxSignedURLTTL)
	}
	if !validBucketName(bucket) {
		return "", unknownBucket(bucket)
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	exp := s.clock.Now().Add(ttl + time.Second - 1).Unix() // never expire early
	k := s.keys[0]
	var b strings.Builder
	b.WriteString(MediaPath)
	b.WriteString(bucket)
	for seg := range strings.SplitSeq(key, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	fmt.Fprintf(&b, "?%s=%d&%s=%s&%s=%s", paramExpires, exp, paramKeyID, k.id,
		paramSig, base64.RawURLEncoding.EncodeToString(k.mac(bucket, key, exp, download)))
	if download {
		b.WriteString("&" + paramDownload + "=1")
	}
	return b.String(), nil
}

// Verify checks a media URL (path and query, as the server received them)
// and returns what it grants. A URL that is malformed, signed by no known
// key, or changed in any part is KindPermissionDenied "invalid_signature";
// a genuine URL past its expiry is KindPermissionDenied "url_expired". The
// signature is checked first, so a forged URL never learns about expiry.
func (s *Signer) Verify(u *url.URL) (Grant, error) {
	rest, ok := strings.CutPrefix(u.Path, MediaPath)
	if !ok {
		return Grant{}, errInvalidSignature()
	}
	bucket, key, ok := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return Grant{}, errInvalidSignature()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Grant{}, errInvalidSignature()
	}
	expS, kid, sigS := single(q, paramExpires), single(q, paramKeyID), single(q, paramSig)
	download := q.Has(paramDownload)
	if download && single(q, paramDownload) != "1" {
		return Grant{}, errInvalidSignature()
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != expS { // one spelling per expiry
		return Grant{}, errInvalidSignature()
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigS)
	if err != nil || len(sig) != sha256.Size {
		return Grant{}, errInvalidSignature()
	}
	k, ok := s.key(kid)
	if !ok || !hmac.Equal(sig, k.mac(bucket, key, exp, download)) {
		return Grant{}, errInvalidSignature()
	}
	g := Grant{Bucket: bucket, Key: key, Expires: time.Unix(exp, 0).UTC(), Download: download}
	if !s.clock.Now().Before(g.Expires) {
		return Grant{}, echogen.Errorf(echogen.KindPermissionDenied, "url_expired", "Media URL has expired")
	}
	return g, nil
}

// single returns the only value of name, or "" when it is missing or
// repeated (a repeated parameter is ambiguous, so it is refused).
func single(q url.Values, name string) string {
	if v := q[name]; len(v) == 1 {
		return v[0]
	}
	return ""
}

func (s *Signer) key(id string) (signingKey, bool) {
	for _, k := range s.keys {
		if k.id == id {
			return k, true
		}
	}
	return signingKey{}, false
}

func (k signingKey) mac(bucket, key string, exp int64, download bool) []byte {
	m := hmac.New(sha256.New, k.secret)
	dl := "0"
	if download {
		dl = "1"
	}
	for _, f := range []string{signatureDomain, k.id, bucket, key, strconv.FormatInt(exp, 10), dl} {
		writeField(m, f)
	}
	return m.Sum(nil)
}

func writeField(h hash.Hash, f string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(f)))
	h.Write(n[:])
	h.Write([]byte(f))
}

func errInvalidSignature() error {
	return echogen.Errorf(echogen.KindPermissionDenied, "invalid_signature", "Invalid media URL signature")
}

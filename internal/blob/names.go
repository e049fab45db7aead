package blob

import (
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
)

// MaxKeyLen is the longest object key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// maxContentTypeLen bounds the stored content type; it ends up in a header.
const maxContentTypeLen = 255

// defaultContentType is stored when Put is given none.
const defaultContentType = "application/octet-stream"

// validateKey checks an object key. Both stores apply the same rules so a
// key that works on one works on the other, and so no key can name a path
// outside the bucket's folder: no absolute paths, no backslashes, no empty,
// "." or ".." segments. Segments that start with "." are reserved for the
// local store's own files (uploads in progress), so they are refused too.
func validateKey(key string) error {
	switch {
	case key == "":
		return invalidKey("is empty")
	case len(key) > MaxKeyLen:
		return invalidKey("is longer than 1024 bytes")
	case !utf8.ValidString(key):
		return invalidKey("is not valid UTF-8")
	case strings.ContainsRune(key, '\\'):
		return invalidKey("contains a backslash")
	case strings.HasPrefix(key, "/"):
		return invalidKey("is an absolute path")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return invalidKey("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return invalidKey("has an empty segment")
		case seg == "." || seg == "..":
			return invalidKey(`has a "." or ".." segment`)
		case strings.HasPrefix(seg, "."):
			return invalidKey(`has a segment that starts with "."`)
		}
	}
	return nil
}

// validatePrefix checks a DeletePrefix prefix: a key, optionally ending in
// "/". An empty prefix would empty the whole bucket, which no caller means
// to do, so it is refused.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return invalidKey("prefix is empty")
	}
	return validateKey(strings.TrimSuffix(prefix, "/"))
}

func invalidKey(why string) error {
	return echogen.Errorf(echogen.KindInvalid, "invalid_key", "object key %s", why)
}

// validBucketName reports whether name follows S3's bucket naming rules
// (3–63 lowercase letters, digits, '-' and '.', starting and ending with a
// letter or digit). On the local store it is also a folder name, so these
// rules keep it a single, harmless path segment.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(name)-1 || c != '-' && c != '.') {
			return false
		}
	}
	return true
}

func unknownBucket(bucket string) error {
	return echogen.Errorf(echogen.KindInternal, "unknown_bucket", "unknown bucket %q", bucket)
}

// normalizeContentType defaults an empty content type and refuses one that
// could not be sent back as a header.
func normalizeContentType(ct string) (string, error) {
	if ct == "" {
		return defaultContentType, nil
	}
	bad := len(ct) > maxContentTypeLen
	for i := 0; i < len(ct) && !bad; i++ {
		bad = ct[i] < 0x20 || ct[i] >= 0x7f
	}
	if _, _, err := mime.ParseMediaType(ct); bad || err != nil {
		return "", echogen.Errorf(echogen.KindInvalid, "invalid_content_type", "invalid content type")
	}
	return ct, nil
}

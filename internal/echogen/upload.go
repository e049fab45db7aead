package echogen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
)

// UploadKind says what an upload is for; each kind has its bucket, size
// cap and accepted types.
type UploadKind string

const (
	UploadAudio    UploadKind = "audio"
	UploadImage    UploadKind = "image"
	UploadDocument UploadKind = "document"
)

// UploadLimits caps upload sizes per kind, in bytes.
type UploadLimits struct {
	Audio    int64
	Image    int64
	Document int64
}

// DefaultUploadLimits are 200 MB of audio, 10 MB of image, 50 MB of document.
func DefaultUploadLimits() UploadLimits {
	return UploadLimits{Audio: 200 << 20, Image: 10 << 20, Document: 50 << 20}
}

// StoredObject is an uploaded object.
type StoredObject struct {
	Bucket      string
	StoragePath string
	Size        int64
	ContentType string
	SHA256      string
}

// sniffLen is how much of a file is read to tell its type.
const sniffLen = 512

// mediaType is one accepted type: its MIME type and file extension.
type mediaType struct{ mime, ext string }

// SniffType tells a file's type from its first bytes (and, only to tell
// DOCX from other ZIP files and Markdown from plain text, its name). It
// returns "" for anything it does not accept for kind.
func SniffType(kind UploadKind, head []byte, filename string) (mime, ext string) {
	t := sniff(kind, head, strings.ToLower(path.Ext(filename)))
	return t.mime, t.ext
}

func sniff(kind UploadKind, head []byte, nameExt string) mediaType {
	detected, _, _ := strings.Cut(http.DetectContentType(head), ";")
	switch kind {
	case UploadAudio:
		switch {
		case detected == "audio/mpeg" || isMP3Frame(head):
			return mediaType{"audio/mpeg", ".mp3"}
		case detected == "audio/wave":
			return mediaType{"audio/wav", ".wav"}
		case detected == "application/ogg":
			return mediaType{"audio/ogg", ".ogg"}
		case bytes.HasPrefix(head, []byte("fLaC")):
			return mediaType{"audio/flac", ".flac"}
		case len(head) >= 12 && string(head[4:8]) == "ftyp":
			return mediaType{"audio/mp4", ".m4a"}
		case detected == "video/webm":
			return mediaType{"audio/webm", ".webm"}
		}
	case UploadImage:
		switch detected {
		case "image/png":
			return mediaType{"image/png", ".png"}
		case "image/jpeg":
			return mediaType{"image/jpeg", ".jpg"}
		case "image/webp":
			return mediaType{"image/webp", ".webp"}
		case "image/gif":
			return mediaType{"image/gif", ".gif"}
		}
	case UploadDocument:
		switch {
		case detected == "application/pdf":
			return mediaType{"application/pdf", ".pdf"}
		case detected == "application/zip" && nameExt == ".docx":
			return mediaType{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"}
		case detected == "text/html":
			return mediaType{"text/html", ".html"}
		case detected == "text/plain" && (nameExt == ".md" || nameExt == ".markdown"):
			return mediaType{"text/markdown", ".md"}
		case detected == "text/plain":
			return mediaType{"text/plain", ".txt"}
		}
	}
	return mediaType{}
}

// isMP3Frame recognises an MPEG audio frame header without an ID3 tag.
func isMP3Frame(b []byte) bool {
	return len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && b[1]&0x06 != 0
}

func (s *LibraryService) bucketFor(kind UploadKind) (string, int64, error) {
	switch kind {
	case UploadAudio:
		return s.buckets.Audio, s.uploads.Audio, nil
	case UploadImage:
		return s.buckets.Art, s.uploads.Image, nil
	case UploadDocument:
		return s.buckets.Documents, s.uploads.Document, nil
	}
	return "", 0, Invalid([]string{"body", "kind"}, "enum", "kind must be one of audio, image, document")
}

// countingReader counts bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Upload streams a file into the caller's space of the kind's bucket. The
// type is sniffed from the bytes, never taken from the client; a file over
// the kind's cap is refused with nothing left behind.
func (s *LibraryService) Upload(ctx context.Context, p Principal, kind UploadKind, filename string, r io.Reader) (*StoredObject, error) {
	bucket, limit, err := s.bucketFor(kind)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, sniffLen)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if len(head) == 0 {
		return nil, Invalid([]string{"body", "file"}, "missing", "the file is empty")
	}
	t := sniff(kind, head, strings.ToLower(path.Ext(filename)))
	if t.mime == "" {
		return nil, Invalid([]string{"body", "file"}, "value_error", fmt.Sprintf("this file is not a %s type we accept (%s)", kind, acceptedTypes(kind)))
	}
	key := p.UserID + "/" + NewID() + t.ext
	hash := sha256.New()
	counted := &countingReader{r: io.LimitReader(br, limit+1)}
	size, err := s.blobs.Put(ctx, bucket, key, io.TeeReader(counted, hash), t.mime)
	if err == nil && counted.n > limit {
		err = &Error{Kind: KindTooLarge, Code: "file_too_large", Message: fmt.Sprintf("the file is larger than the %d MB limit for %s uploads", limit>>20, kind)}
	}
	if err != nil {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), bucket, key); derr != nil {
			s.log.WarnContext(ctx, "partial upload not deleted", "bucket", bucket, "key", key, "error", derr.Error())
		}
		return nil, err
	}
	return &StoredObject{Bucket: bucket, StoragePath: key, Size: size, ContentType: t.mime, SHA256: hex.EncodeToString(hash.Sum(nil))}, nil
}

func acceptedTypes(kind UploadKind) string {
	switch kind {
	case UploadAudio:
		return "MP3, WAV, OGG, FLAC, M4A, WebM"
	case UploadImage:
		return "PNG, JPEG, WebP, GIF"
	}
	return "PDF, DOCX, HTML, Markdown, plain text"
}

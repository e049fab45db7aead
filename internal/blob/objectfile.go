package blob

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
)

// A local object is one file: a fixed-size header, then the content. The
// header carries what S3 would keep as object metadata (content type,
// SHA-256, size), so one rename publishes content and metadata together and
// no sidecar can disagree with the bytes it describes.
//
//	[0:8]    magic "EGBLOB\x00\x01" (format version 1)
//	[8:40]   SHA-256 of the content
//	[40:48]  content size, big-endian
//	[48:50]  content type length n, big-endian
//	[50:50+n] content type
//	rest     zero, up to headerSize
const headerSize = 512

var headerMagic = [8]byte{'E', 'G', 'B', 'L', 'O', 'B', 0, 1}

var errCorrupt = errors.New("not a media object file, or a damaged one")

type objectHeader struct {
	sum         [32]byte
	size        int64
	contentType string
}

func (h objectHeader) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b[0:8], headerMagic[:])
	copy(b[8:40], h.sum[:])
	binary.BigEndian.PutUint64(b[40:48], uint64(h.size))
	binary.BigEndian.PutUint16(b[48:50], uint16(len(h.contentType)))
	copy(b[50:], h.contentType) // normalizeContentType caps it far below the room left
	return b
}

// readHeader reads and checks the header of an object file of fileSize
// bytes.
func readHeader(r io.ReaderAt, fileSize int64) (objectHeader, error) {
	b := make([]byte, headerSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return objectHeader{}, errCorrupt
		}
		return objectHeader{}, err
	}
	var h objectHeader
	n := int(binary.BigEndian.Uint16(b[48:50]))
	if !bytes.Equal(b[0:8], headerMagic[:]) || 50+n > headerSize {
		return objectHeader{}, errCorrupt
	}
	copy(h.sum[:], b[8:40])
	h.size = int64(binary.BigEndian.Uint64(b[40:48]))
	h.contentType = string(b[50 : 50+n])
	if h.size != fileSize-headerSize {
		return objectHeader{}, errCorrupt
	}
	return h, nil
}

// etag is the object's strong ETag: its SHA-256, computed while the object
// was written.
func (h objectHeader) etag() string {
	return `"` + hex.EncodeToString(h.sum[:]) + `"`
}

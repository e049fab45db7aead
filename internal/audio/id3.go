package audio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf16"

	"github.com/echogen/server/internal/echogen"
)

// ID3v2.3 tags (id3.org/id3v2.3.0), with chapters after the ID3v2 Chapter
// Frame Addendum: a CHAP frame per chapter and one CTOC listing them.

const (
	id3HeaderSize = 10
	maxID3Size    = 1<<28 - 1 // the header's 28-bit size
	// maxChapters is as many chapters as one CTOC frame can list.
	maxChapters = 255
)

// id3Tag returns an ID3v2.3 tag carrying tags, or nil when tags are empty.
func id3Tag(tags echogen.AudioTags) ([]byte, error) {
	if len(tags.Chapters) > maxChapters {
		return nil, fmt.Errorf("%d chapters are more than an ID3 table of contents holds (%d)", len(tags.Chapters), maxChapters)
	}
	var frames []byte
	for _, t := range []struct{ id, text string }{{"TIT2", tags.Title}, {"TPE1", tags.Artist}, {"TALB", tags.Album}} {
		if t.text != "" {
			frames = appendFrame(frames, t.id, textFrame(t.text))
		}
	}
	if tags.Comment != "" {
		enc, text := encodeText(tags.Comment)
		body := append([]byte{enc}, "und"...)   // the language is undetermined
		body = append(body, terminator(enc)...) // an empty description
		frames = appendFrame(frames, "COMM", append(body, text...))
	}
	if mime := coverType(tags); mime != "" {
		body := append([]byte{0}, mime...) // ISO-8859-1, which has no description to encode
		body = append(body, 0, 3, 0)       // the MIME type's end, "front cover", an empty description
		frames = appendFrame(frames, "APIC", append(body, tags.Cover...))
	}
	if len(tags.Chapters) > 0 {
		toc := append([]byte("toc\x00"), 0x03, byte(len(tags.Chapters))) // top-level and ordered
		for i, c := range tags.Chapters {
			id := "chp" + strconv.Itoa(i)
			toc = append(append(toc, id...), 0)
			body := append([]byte(id), 0)
			body = binary.BigEndian.AppendUint32(body, millis(c.Start))
			body = binary.BigEndian.AppendUint32(body, millis(c.End))
			// No byte offsets: players go by the times.
			body = binary.BigEndian.AppendUint32(body, 0xFFFFFFFF)
			body = binary.BigEndian.AppendUint32(body, 0xFFFFFFFF)
			if c.Title != "" {
				body = appendFrame(body, "TIT2", textFrame(c.Title))
			}
			frames = appendFrame(frames, "CHAP", body)
		}
		frames = appendFrame(frames, "CTOC", toc)
	}
	if len(frames) == 0 {
		return nil, nil
	}
	if len(frames) > maxID3Size {
		return nil, fmt.Errorf("the ID3 tag would take %d bytes, more than the %d it can", len(frames), maxID3Size)
	}
	tag := append([]byte("ID3"), 3, 0, 0) // version 2.3.0, no flags
	tag = binary.BigEndian.AppendUint32(tag, syncsafe(uint32(len(frames))))
	return append(tag, frames...), nil
}

// appendFrame appends an ID3v2.3 frame: its id, its size (not syncsafe in
// 2.3), no flags and its body.
func appendFrame(b []byte, id string, body []byte) []byte {
	b = append(b, id...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, 0, 0)
	return append(b, body...)
}

// textFrame returns the body of a text information frame.
func textFrame(s string) []byte {
	enc, text := encodeText(s)
	return append([]byte{enc}, text...)
}

// encodeText encodes s as ISO-8859-1 (encoding byte 0) when every
// character fits, else as UTF-16 with a byte-order mark (1): ID3v2.3 has
// no UTF-8.
func encodeText(s string) (byte, []byte) {
	latin1 := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			text := []byte{0xFF, 0xFE} // little-endian
			for _, u := range utf16.Encode([]rune(s)) {
				text = binary.LittleEndian.AppendUint16(text, u)
			}
			return 1, text
		}
		latin1 = append(latin1, byte(r))
	}
	return 0, latin1
}

// terminator ends a string in encoding enc.
func terminator(enc byte) []byte {
	if enc == 1 {
		return []byte{0, 0}
	}
	return []byte{0}
}

// syncsafe spreads n over four bytes of seven bits each.
func syncsafe(n uint32) uint32 {
	return n&0x7F | (n>>7&0x7F)<<8 | (n>>14&0x7F)<<16 | (n>>21&0x7F)<<24
}

// millis converts seconds to the milliseconds of a CHAP frame.
func millis(seconds float64) uint32 {
	return uint32(min(max(math.Round(seconds*1000), 0), math.MaxUint32))
}

// coverType returns the MIME type of tags' cover: the one given, else the
// one its first bytes show; "" without a cover.
func coverType(tags echogen.AudioTags) string {
	switch c := tags.Cover; {
	case len(c) == 0:
		return ""
	case tags.CoverType != "":
		return tags.CoverType
	case bytes.HasPrefix(c, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(c, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case len(c) >= 12 && string(c[:4]) == "RIFF" && string(c[8:12]) == "WEBP":
		return "image/webp"
	}
	return "application/octet-stream"
}

// Retag copies the MP3 r to w, replacing the ID3v2 tags at its start with
// one carrying tags. It streams: the audio is never held in memory.
func (e *Engine) Retag(ctx context.Context, r io.Reader, w io.Writer, tags echogen.AudioTags) error {
	tag, err := id3Tag(tags)
	if err != nil {
		return echogen.Errorf(echogen.KindBadRequest, "bad_tags", "the episode's tags cannot be written: %v", err)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if err := skipID3(br); err != nil {
		return err
	}
	if head, err := br.Peek(2); err != nil || head[0] != 0xFF || head[1]&0xE0 != 0xE0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the MP3: %w", err)
		}
		return echogen.Errorf(echogen.KindBadRequest, "bad_audio", "the file to retag is not an MP3: no MPEG audio frame follows its tags")
	}
	if _, err := w.Write(tag); err != nil {
		return fmt.Errorf("writing the tag: %w", err)
	}
	if _, err := io.Copy(w, ctxReader{ctx, br}); err != nil {
		return fmt.Errorf("copying the MP3: %w", err)
	}
	return nil
}

// skipID3 discards the ID3v2 tags at the start of r, honouring each
// header's size and footer flag.
func skipID3(r *bufio.Reader) error {
	for {
		h, err := r.Peek(id3HeaderSize)
		if err != nil || string(h[:3]) != "ID3" || h[3] < 2 || h[3] > 4 || h[6]|h[7]|h[8]|h[9] >= 0x80 {
			return nil // not a tag: the audio starts here
		}
		size := int(h[6])<<21 | int(h[7])<<14 | int(h[8])<<7 | int(h[9])
		size += id3HeaderSize
		if h[3] == 4 && h[5]&0x10 != 0 {
			size += id3HeaderSize // a footer repeats the header at the end
		}
		if n, err := r.Discard(size); err != nil {
			return echogen.Errorf(echogen.KindBadRequest, "bad_audio",
				"the MP3's ID3 tag claims %d bytes, but the file ends after %d", size, n)
		}
	}
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

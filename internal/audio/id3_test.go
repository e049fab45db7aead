package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// cover returns a small PNG.
func cover(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// id3Frame is a frame read back from a tag.
type id3Frame struct {
	ID   string
	Body []byte
}

// readID3 parses an ID3v2.3 tag at the start of b into its frames and
// returns the rest of b.
func readID3(t *testing.T, b []byte) ([]id3Frame, []byte) {
	t.Helper()
	if len(b) < 10 || string(b[:3]) != "ID3" || b[3] != 3 || b[4] != 0 || b[5] != 0 {
		t.Fatalf("no ID3v2.3 header: % x", b[:min(10, len(b))])
	}
	size := int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9])
	return readFrames(t, b[10:10+size]), b[10+size:]
}

func readFrames(t *testing.T, b []byte) []id3Frame {
	t.Helper()
	var frames []id3Frame
	for len(b) > 0 {
		if len(b) < 10 {
			t.Fatalf("a frame header is cut short: % x", b)
		}
		n := int(binary.BigEndian.Uint32(b[4:]))
		if 10+n > len(b) {
			t.Fatalf("frame %s claims %d bytes; %d are left", b[:4], n, len(b)-10)
		}
		frames = append(frames, id3Frame{ID: string(b[:4]), Body: b[10 : 10+n]})
		b = b[10+n:]
	}
	return frames
}

// text decodes the body of a text frame.
func text(t *testing.T, body []byte) string {
	t.Helper()
	switch body[0] {
	case 0:
		r := make([]rune, 0, len(body)-1)
		for _, c := range body[1:] {
			r = append(r, rune(c))
		}
		return string(r)
	case 1:
		if body[1] != 0xFF || body[2] != 0xFE {
			t.Fatalf("UTF-16 without a little-endian byte-order mark: % x", body[:3])
		}
		u := make([]uint16, 0, (len(body)-3)/2)
		for i := 3; i+1 < len(body); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(body[i:]))
		}
		return string(utf16.Decode(u))
	}
	t.Fatalf("text encoding %d", body[0])
	return ""
}

func TestID3Tag(t *testing.T) {
	png := cover(t)
	tags := echogen.AudioTags{
		Title:   "Café society",
		Artist:  "Ada & Grace — EchoGen 🎙",
		Album:   "EchoGen",
		Comment: "Made by EchoGen.",
		Cover:   png,
		Chapters: []echogen.Chapter{
			{Title: "Intro", Start: 0, End: 12.5},
			{Title: "Über alles", Start: 12.5, End: 61.0004},
		},
	}
	tag, err := id3Tag(tags)
	if err != nil {
		t.Fatal(err)
	}
	frames, rest := readID3(t, append(tag, 0xFF, 0xFB))
	if !bytes.Equal(rest, []byte{0xFF, 0xFB}) {
		t.Fatalf("the tag's size is wrong: % x follows it", rest)
	}
	ids := make([]string, len(frames))
	for i, f := range frames {
		ids[i] = f.ID
	}
	if diff := cmp.Diff([]string{"TIT2", "TPE1", "TALB", "COMM", "APIC", "CHAP", "CHAP", "CTOC"}, ids); diff != "" {
		t.Fatalf("frames (-want +got):\n%s", diff)
	}
	if got := text(t, frames[0].Body); got != tags.Title || frames[0].Body[0] != 0 {
		t.Errorf("TIT2 = %q (encoding %d), want %q in ISO-8859-1", got, frames[0].Body[0], tags.Title)
	}
	if got := text(t, frames[1].Body); got != tags.Artist || frames[1].Body[0] != 1 {
		t.Errorf("TPE1 = %q (encoding %d), want %q in UTF-16", got, frames[1].Body[0], tags.Artist)
	}
	if want := "\x00und\x00Made by EchoGen."; string(frames[3].Body) != want {
		t.Errorf("COMM = %q, want %q", frames[3].Body, want)
	}
	if want := append([]byte("\x00image/png\x00\x03\x00"), png...); !bytes.Equal(frames[4].Body, want) {
		t.Errorf("APIC starts % x, want % x", frames[4].Body[:20], want[:20])
	}

	type chap struct {
		ID         string
		Start, End uint32
		Title      string
	}
	var chaps []chap
	for _, f := range frames[5:7] {
		id, b, _ := bytes.Cut(f.Body, []byte{0})
		if !bytes.Equal(b[8:16], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}) {
			t.Errorf("CHAP %s has byte offsets % x", id, b[8:16])
		}
		sub := readFrames(t, b[16:])
		if len(sub) != 1 || sub[0].ID != "TIT2" {
			t.Fatalf("CHAP %s holds %v, want one TIT2", id, sub)
		}
		chaps = append(chaps, chap{string(id), binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), text(t, sub[0].Body)})
	}
	if diff := cmp.Diff([]chap{{"chp0", 0, 12500, "Intro"}, {"chp1", 12500, 61000, "Über alles"}}, chaps); diff != "" {
		t.Errorf("chapters (-want +got):\n%s", diff)
	}
	if want := "toc\x00\x03\x02chp0\x00chp1\x00"; string(frames[7].Body) != want {
		t.Errorf("CTOC = %q, want %q (top-level, ordered, two entries)", frames[7].Body, want)
	}

	if tag, err := id3Tag(echogen.AudioTags{}); tag != nil || err != nil {
		t.Errorf("empty tags give %q, %v; want no tag", tag, err)
	}
	if _, err := id3Tag(echogen.AudioTags{Chapters: make([]echogen.Chapter, 256)}); err == nil {
		t.Error("256 chapters were accepted")
	}
}

// TestTagsReadBack assembles tagged episodes and reads the tags back with
// ffprobe: the ID3 tag of MP3s, ffmpeg's metadata for the other formats.
func TestTagsReadBack(t *testing.T) {
	ffprobe := testenv.RequireTool(t, "ffprobe", "ffmpeg")
	testenv.RequireTool(t, "ffmpeg", "ffmpeg")
	wavs := speechTurns(t, 3, 2)
	tags := echogen.AudioTags{
		Title: "Café society: episode 1", Artist: "Ada & Grace — EchoGen", Album: "EchoGen = podcasts; #1",
		Comment: "Made by EchoGen.", Cover: cover(t), CoverType: "image/png",
	}
	marks := []echogen.ChapterMark{{Title: "Opening", FirstTurn: 0}, {Title: "Über alles", FirstTurn: 2}}
	for _, tt := range []struct {
		format    string
		wantCover bool
	}{
		{echogen.FormatMP3, true},
		{echogen.FormatM4A, true},
		{echogen.FormatOpus, false}, // no cover art in Ogg through ffmpeg
	} {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			res, err := New(Options{TempDir: t.TempDir()}).Assemble(context.Background(), echogen.AssembleRequest{
				Turns: len(wavs), OpenTurn: turnsOf(wavs), GapMs: 500, Format: tt.format, Tags: tags, Chapters: marks,
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			p := ffprobeJSON(t, ffprobe, out.Bytes())
			chapters := res.Chapters
			if tt.format == echogen.FormatOpus {
				// Ogg chapters have starts only; ffprobe ends the last
				// with the stream, which includes Opus's padding.
				if len(p.Chapters) != len(chapters) {
					t.Fatalf("ffprobe read %d chapters, want %d", len(p.Chapters), len(chapters))
				}
				chapters = slices.Clone(chapters)
				chapters[len(chapters)-1].End = p.Chapters[len(p.Chapters)-1].End
			}
			checkProbedTags(t, p, tags, chapters, tt.wantCover)
		})
	}
}

// checkProbedTags compares what ffprobe read with tags and chapters.
func checkProbedTags(t *testing.T, p probed, tags echogen.AudioTags, chapters []echogen.Chapter, wantCover bool) {
	t.Helper()
	got := p.Format.Tags
	if len(got) == 0 && len(p.Streams) > 0 {
		got = p.Streams[0].Tags // Ogg keeps its comments on the stream
	}
	for key, want := range map[string]string{"title": tags.Title, "artist": tags.Artist, "album": tags.Album, "comment": tags.Comment} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	var covers int
	for _, s := range p.Streams {
		if s.Disposition["attached_pic"] == 1 && s.CodecName == "png" {
			covers++
		}
	}
	if want := map[bool]int{true: 1}[wantCover]; covers != want {
		t.Errorf("%d covers, want %d", covers, want)
	}
	var gotChapters []echogen.Chapter
	for _, c := range p.Chapters {
		gotChapters = append(gotChapters, echogen.Chapter{Title: c.Tags["title"], Start: c.Start, End: c.End})
	}
	if diff := cmp.Diff(chapters, gotChapters, cmpopts.EquateApprox(0, 0.0011)); diff != "" {
		t.Errorf("chapters (-want +got):\n%s", diff)
	}
}

func TestRetag(t *testing.T) {
	ffprobe := testenv.RequireTool(t, "ffprobe", "ffmpeg")
	testenv.RequireTool(t, "ffmpeg", "ffmpeg")
	wavs := speechTurns(t, 2, 2)
	e := New(Options{TempDir: t.TempDir()})
	var original bytes.Buffer
	res, err := e.Assemble(context.Background(), echogen.AssembleRequest{
		Turns: 2, OpenTurn: turnsOf(wavs), GapMs: 500, Format: echogen.FormatMP3,
		Tags:     echogen.AudioTags{Title: "Old title", Artist: "Old artist", Comment: "old"},
		Chapters: []echogen.ChapterMark{{Title: "Old", FirstTurn: 0}},
	}, &original)
	if err != nil {
		t.Fatal(err)
	}
	_, audio := readID3(t, original.Bytes())

	newTags := echogen.AudioTags{
		Title: "New title", Artist: "New artist", Album: "New album", Comment: "new", Cover: cover(t),
		Chapters: []echogen.Chapter{{Title: "First", Start: 0, End: 1}, {Title: "Second", Start: 1, End: res.Seconds()}},
	}
	// A v2.4 tag with a footer, then a v2.3 one, as some tools leave them.
	v24 := []byte("ID3\x04\x00\x10\x00\x00\x00\x05abcde3DI\x04\x00\x10\x00\x00\x00\x05")
	v23, _ := id3Tag(echogen.AudioTags{Title: "stale"})
	tests := []struct {
		name string
		in   []byte
	}{
		{"our own tag", original.Bytes()},
		{"no tag", audio},
		{"several tags, one with a footer", append(append(append([]byte(nil), v24...), v23...), audio...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := e.Retag(context.Background(), bytes.NewReader(tt.in), &out, newTags); err != nil {
				t.Fatal(err)
			}
			_, rest := readID3(t, out.Bytes())
			if !bytes.Equal(rest, audio) {
				t.Error("the audio after the tag changed")
			}
			checkProbedTags(t, ffprobeJSON(t, ffprobe, out.Bytes()), newTags, newTags.Chapters, true)
		})
	}

	t.Run("empty tags remove the tag", func(t *testing.T) {
		var out bytes.Buffer
		if err := e.Retag(context.Background(), bytes.NewReader(original.Bytes()), &out, echogen.AudioTags{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), audio) {
			t.Error("want the bare audio")
		}
	})

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		in     []byte
		want   string
		wantIs error
	}{
		{name: "a WAV", ctx: context.Background(), in: canonicalWAV(t, make([]int16, 100)), want: "not an MP3"},
		{name: "nothing", ctx: context.Background(), in: nil, want: "not an MP3"},
		{name: "a tag longer than the file", ctx: context.Background(), in: []byte("ID3\x03\x00\x00\x00\x00\x10\x00abc"), want: "claims 2058 bytes"},
		{name: "a cancelled context", ctx: canceled, in: original.Bytes(), wantIs: context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Retag(tt.ctx, bytes.NewReader(tt.in), io.Discard, newTags)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("err = %v, want %v", err, tt.wantIs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || echogen.ErrorKind(err) != echogen.KindBadRequest {
				t.Errorf("err = %v, want a bad request saying %q", err, tt.want)
			}
		})
	}
}

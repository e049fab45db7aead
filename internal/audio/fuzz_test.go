package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// fuzzFormats are the labels a provider's audio may carry.
var fuzzFormats = []string{echogen.AudioWAV, echogen.AudioMP3, echogen.AudioPCM, ""}

// maxCanonicalGrowth bounds what Canonical may allocate per input byte.
// The densest input is a low-rate MP3: a 72-byte MPEG-2.5 frame at 8 kHz
// decodes to 576 samples, resampled to 1728, i.e. some 25 bytes of samples
// per input byte and a few copies of them. A size a header merely claims
// (a data chunk of 4 GiB, an ID3 tag of 256 MiB) must cost nothing.
const (
	maxCanonicalGrowth = 1024
	canonicalSlack     = 8 << 20
	// canonicalTimeout is far beyond what decoding a fuzzer's input of a
	// few kilobytes takes.
	canonicalTimeout = 5 * time.Second
	// maxFuzzAudio bounds the inputs tried.
	maxFuzzAudio = 16 << 10
)

// FuzzCanonical feeds arbitrary bytes, labels, rates and channel counts to
// Engine.Canonical. It must never panic, fail only with a bad_audio
// KindBadRequest error, and otherwise return a canonical WAV (24 kHz mono
// 16-bit, 44-byte header) whose header's sample count is the count
// returned and matches its length; what it allocates is bounded by the
// input's size, not by any size the input claims.
func FuzzCanonical(f *testing.F) {
	tone := func(n, sr, channels int) []byte {
		b := make([]byte, 0, 2*n*channels)
		for i := range n {
			v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(sr)))
			for range channels {
				b = binary.LittleEndian.AppendUint16(b, uint16(v))
			}
		}
		return b
	}
	mono := tone(480, 24000, 1)
	wav := riff(fmtChunk(wavFormatPCM, 1, 24000, 16), wavChunk{id: "data", body: mono})
	seeds := []struct {
		data     []byte
		format   string
		sr, chns int
	}{
		{mono, echogen.AudioPCM, 24000, 1},
		{mono, echogen.AudioPCM, 0, 0},
		{tone(480, 48000, 2), echogen.AudioPCM, 48000, 2},
		{append(mono[:100:100], 1), echogen.AudioPCM, 8000, 1},
		{wav, echogen.AudioWAV, 0, 0},
		{wav, echogen.AudioMP3, 0, 0},
		{riff(fmtChunk(wavFormatPCM, 2, 22050, 16), wavChunk{id: "LIST", body: []byte("INFOjunk")}, wavChunk{id: "data", body: tone(200, 22050, 2)}), echogen.AudioWAV, 0, 0},
		{riff(fmtChunk(wavFormatPCM, 1, 16000, 8), wavChunk{id: "data", body: []byte{0, 64, 128, 192, 255}, noPad: true}), "", 0, 0},
		{riff(fmtChunk(wavFormatFloat, 1, 44100, 32), wavChunk{id: "data", body: make([]byte, 64)}), echogen.AudioWAV, 0, 0},
		{riff(fmtChunk(wavFormatExtensible, 1, 24000, 24), wavChunk{id: "data", body: make([]byte, 30)}), echogen.AudioWAV, 0, 0},
		// A streaming header whose data chunk claims 4 GiB.
		{riff(fmtChunk(wavFormatPCM, 1, 24000, 16), wavChunk{id: "data", body: mono, size: ptr(0xFFFFFFFF)}), echogen.AudioWAV, 0, 0},
		{riff(fmtChunk(wavFormatPCM, 1, 24000, 16)), echogen.AudioWAV, 0, 0},
		{append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 100)...), echogen.AudioMP3, 0, 0},
		{[]byte("ID3\x03\x00\x00\x00\x00\x00\x02ab"), echogen.AudioMP3, 0, 0},
		{[]byte("ID3\x04\x00\x10\x7f\x7f\x7f\x7f"), echogen.AudioMP3, 0, 0},
		{[]byte("<html>Service unavailable</html>"), echogen.AudioMP3, 0, 0},
		{make([]byte, 100), echogen.AudioPCM, 100, 1},
		{make([]byte, 100), echogen.AudioPCM, 24000, 12},
	}
	// Real MP3s, when lame is here to make them: MPEG-1 with a LAME tag,
	// and MPEG-2.5 at 8 kHz, the densest kind.
	if lame, err := exec.LookPath("lame"); err == nil {
		long := riff(fmtChunk(wavFormatPCM, 1, 24000, 16), wavChunk{id: "data", body: tone(2400, 24000, 1)})
		for _, args := range [][]string{{"--quiet", "-b", "32", "-", "-"}, {"--quiet", "--resample", "8", "-b", "8", "-", "-"}} {
			mp3 := run(f, long, lame, args...)
			seeds = append(seeds, struct {
				data     []byte
				format   string
				sr, chns int
			}{mp3, echogen.AudioMP3, 0, 0})
		}
	}
	for _, s := range seeds {
		for i, name := range fuzzFormats {
			if name == s.format {
				f.Add(s.data, uint8(i), s.sr, s.chns)
			}
		}
	}

	e := New(Options{})
	f.Fuzz(func(t *testing.T, data []byte, format uint8, sr, channels int) {
		if len(data) > maxFuzzAudio {
			return // keep each run cheap: resampling at odd rates is slow
		}
		a := &echogen.SpeechAudio{Data: data, Format: fuzzFormats[int(format)%len(fuzzFormats)], SampleRate: sr, Channels: channels}
		var (
			before, after runtime.MemStats
			wav           []byte
			n             int64
			err           error
			done          = make(chan struct{})
		)
		runtime.ReadMemStats(&before)
		// The fuzzer has no per-input timeout: a hang must fail, so that
		// the input is kept.
		go func() {
			defer close(done)
			wav, n, err = e.Canonical(context.Background(), a)
		}()
		select {
		case <-done:
		case <-time.After(canonicalTimeout):
			t.Fatalf("Canonical of %d bytes (%q, %d Hz, %d channels) still runs after %v", len(data), a.Format, sr, channels, canonicalTimeout)
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(canonicalSlack+maxCanonicalGrowth*len(data)) {
			t.Fatalf("Canonical of %d bytes (%q) allocated %d bytes", len(data), a.Format, grew)
		}
		if err != nil {
			var ee *echogen.Error
			if !errors.As(err, &ee) || ee.Kind != echogen.KindBadRequest || ee.Code != "bad_audio" {
				t.Fatalf("Canonical: %v is not a bad_audio *echogen.Error", err)
			}
			if wav != nil || n != 0 {
				t.Fatalf("Canonical returned %d bytes, %d samples with %v", len(wav), n, err)
			}
			return
		}
		got, err := readCanonicalHeader(strings.NewReader(string(wav)))
		if err != nil {
			t.Fatalf("Canonical made a non-canonical WAV: %v", err)
		}
		if n <= 0 || got != n || int64(len(wav)) != wavHeaderSize+2*n {
			t.Fatalf("header says %d samples, %d bytes follow; Canonical said %d", got, len(wav)-wavHeaderSize, n)
		}
	})
}

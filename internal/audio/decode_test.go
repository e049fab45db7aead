package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

func TestCanonicalPCM(t *testing.T) {
	stereo48k := make([]byte, 0, 4*4800)
	for i := range 4800 {
		// A 1 kHz tone in the left channel, its negative plus 0.2 in the right.
		l := int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/48000))
		stereo48k = binary.LittleEndian.AppendUint16(stereo48k, uint16(l))
		stereo48k = binary.LittleEndian.AppendUint16(stereo48k, uint16(-l+6554))
	}
	mono24k := make([]byte, 0, 2*2400)
	for i := range 2400 {
		mono24k = binary.LittleEndian.AppendUint16(mono24k, uint16(int16(i*10-12000)))
	}
	tests := []struct {
		name    string
		audio   echogen.SpeechAudio
		samples int64
		check   func(t *testing.T, x []float64)
	}{
		{
			name:    "24 kHz mono is copied",
			audio:   echogen.SpeechAudio{Data: mono24k, Format: echogen.AudioPCM, SampleRate: rate, Channels: 1},
			samples: 2400,
			check: func(t *testing.T, x []float64) {
				if got := pcmSamples(mono24k); !equalFloats(x, got) {
					t.Error("samples changed")
				}
			},
		},
		{
			name:    "rate and channels default to 24 kHz mono",
			audio:   echogen.SpeechAudio{Data: mono24k, Format: echogen.AudioPCM},
			samples: 2400,
		},
		{
			name:    "48 kHz stereo is mixed down and halved",
			audio:   echogen.SpeechAudio{Data: stereo48k, Format: echogen.AudioPCM, SampleRate: 48000, Channels: 2},
			samples: 2400,
			check: func(t *testing.T, x []float64) {
				// The tone cancels; the offset of 0.2/2 stays.
				for i, v := range x[200 : len(x)-200] {
					if math.Abs(v-0.1) > 0.001 {
						t.Fatalf("sample %d = %.4f, want 0.1", i+200, v)
					}
				}
			},
		},
		{
			name:    "a trailing half sample is dropped",
			audio:   echogen.SpeechAudio{Data: append(append([]byte(nil), mono24k...), 1), Format: echogen.AudioPCM, SampleRate: rate},
			samples: 2400,
		},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wav, n, err := e.Canonical(context.Background(), &tt.audio)
			if err != nil {
				t.Fatal(err)
			}
			x := checkCanonical(t, wav, n)
			if n != tt.samples {
				t.Errorf("samples = %d, want %d", n, tt.samples)
			}
			if tt.check != nil {
				tt.check(t, x)
			}
		})
	}
}

// checkCanonical checks that wav is a canonical WAV of n samples and
// returns them.
func checkCanonical(t *testing.T, wav []byte, n int64) []float64 {
	t.Helper()
	got, err := readCanonicalHeader(strings.NewReader(string(wav)))
	if err != nil {
		t.Fatal(err)
	}
	if got != n || int64(len(wav)) != wavHeaderSize+2*n {
		t.Fatalf("header says %d samples, %d bytes follow; Canonical said %d", got, len(wav)-wavHeaderSize, n)
	}
	return pcmSamples(wav[wavHeaderSize:])
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCanonicalSpeech decodes a real utterance from espeak-ng as WAV (its
// 22050 Hz streaming header has a bogus size) and as MP3s made by lame and
// ffmpeg, and compares each with ffmpeg's own decoding and resampling.
func TestCanonicalSpeech(t *testing.T) {
	utterance := espeak(t, "The quick brown fox jumps over the lazy dog, twice.")
	f, data, err := parseWAV(utterance)
	if err != nil {
		t.Fatal(err)
	}
	if f.rate != 22050 {
		t.Fatalf("espeak-ng wrote %d Hz; the test expects 22050", f.rate)
	}
	want := int64((len(data)/2*rate + f.rate - 1) / f.rate)
	dir := t.TempDir()
	wavPath := filepath.Join(dir, "speech.wav")
	if err := os.WriteFile(wavPath, utterance, 0o600); err != nil {
		t.Fatal(err)
	}
	reference := decodeWithFFmpeg(t, utterance)

	tests := []struct {
		name   string
		format string
		file   func(t *testing.T) []byte
		// lag is how late the decoded speech may start: an MP3 without an
		// Info frame does not say how long its encoder's delay was.
		lag int
	}{
		{name: "WAV", format: echogen.AudioWAV, file: func(*testing.T) []byte { return utterance }},
		{name: "WAV labelled MP3", format: echogen.AudioMP3, file: func(*testing.T) []byte { return utterance }},
		{name: "MP3 by lame", format: echogen.AudioMP3, file: func(t *testing.T) []byte {
			lame := testenv.RequireTool(t, "lame", "lame")
			out := filepath.Join(t.TempDir(), "lame.mp3")
			run(t, nil, lame, "--quiet", "-b", "128", wavPath, out)
			return readFile(t, out)
		}},
		{name: "MP3 by ffmpeg at 44.1 kHz with an ID3 tag", format: echogen.AudioMP3, file: func(t *testing.T) []byte {
			ffmpeg := testenv.RequireTool(t, "ffmpeg", "ffmpeg")
			out := filepath.Join(t.TempDir(), "ffmpeg.mp3")
			run(t, nil, ffmpeg, "-v", "error", "-i", wavPath, "-ar", "44100", "-metadata", "title=x", "-c:a", "libmp3lame", "-b:a", "128k", out)
			return readFile(t, out)
		}},
		{name: "MP3 streamed, unlabelled", file: func(t *testing.T) []byte {
			lame := testenv.RequireTool(t, "lame", "lame")
			return run(t, nil, lame, "--quiet", "-b", "64", wavPath, "-")
		}, lag: (576*rate + 22050/2) / 22050},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file(t)
			wav, n, err := e.Canonical(context.Background(), &echogen.SpeechAudio{Data: file, Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			x := checkCanonical(t, wav, n)
			// MP3s decode gaplessly to the same length, give or take the
			// rounding of a second resampling.
			if extra := n - want; extra < -1 || extra > 1 && tt.lag == 0 || extra > int64(2*tt.lag+1152) {
				t.Errorf("samples = %d, want %d", n, want)
			}
			// Sample by sample against ffmpeg: the lossless path agrees
			// closely, the lossy ones roughly.
			minSNR, maxLU := 40.0, 0.05
			if sniff(file, tt.format) == echogen.AudioMP3 {
				minSNR, maxLU = 18, 0.5
			}
			lag := tt.lag
			snr := snr(reference, x[lag:])
			t.Logf("%d samples, SNR against ffmpeg %.1f dB", n, snr)
			if snr < minSNR {
				t.Errorf("differs from ffmpeg's decoding: SNR %.1f dB, want at least %.0f", snr, minSNR)
			}
			inLUFS, _ := measure(reference, rate)
			outLUFS, _ := measure(x, rate)
			if math.Abs(inLUFS-outLUFS) > maxLU {
				t.Errorf("loudness %.2f LUFS, ffmpeg's decoding %.2f", outLUFS, inLUFS)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snr compares got with want over their common length, in dB.
func snr(want, got []float64) float64 {
	var signal, noise float64
	for i := range min(len(want), len(got)) {
		signal += want[i] * want[i]
		noise += (want[i] - got[i]) * (want[i] - got[i])
	}
	return 10 * math.Log10(signal/noise)
}

func TestCanonicalErrors(t *testing.T) {
	tests := []struct {
		name  string
		audio *echogen.SpeechAudio
		want  string
	}{
		{"nil", nil, "no audio"},
		{"empty", &echogen.SpeechAudio{Format: echogen.AudioMP3}, "no audio"},
		{"garbage labelled MP3", &echogen.SpeechAudio{Data: []byte("<html>Service unavailable</html>"), Format: echogen.AudioMP3}, "not a WAV, MP3 or PCM stream"},
		{"garbage unlabelled", &echogen.SpeechAudio{Data: []byte("{\"error\": \"quota\"}")}, "not a WAV, MP3 or PCM stream"},
		{"an MP3 header and garbage", &echogen.SpeechAudio{Data: append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 100)...), Format: echogen.AudioMP3}, "MP3 audio"},
		{"an ID3 tag and nothing", &echogen.SpeechAudio{Data: []byte("ID3\x03\x00\x00\x00\x00\x00\x02ab"), Format: echogen.AudioMP3}, "MP3 audio"},
		{"a broken WAV", &echogen.SpeechAudio{Data: riff(fmtChunk(1, 1, 24000, 16)), Format: echogen.AudioWAV}, "WAV audio cannot be read: no data chunk"},
		{"a WAV of no samples", &echogen.SpeechAudio{Data: riff(fmtChunk(1, 1, 24000, 16), wavChunk{id: "data"}), Format: echogen.AudioWAV}, "holds no samples"},
		{"PCM at 100 Hz", &echogen.SpeechAudio{Data: make([]byte, 100), Format: echogen.AudioPCM, SampleRate: 100}, "unsupported format (100 Hz, 1 channels)"},
		{"PCM in 12 channels", &echogen.SpeechAudio{Data: make([]byte, 100), Format: echogen.AudioPCM, SampleRate: 24000, Channels: 12}, "unsupported format"},
	}
	e := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.Canonical(context.Background(), tt.audio)
			var ee *echogen.Error
			if !errors.As(err, &ee) || ee.Kind != echogen.KindBadRequest || ee.Code != "bad_audio" {
				t.Fatalf("err = %v, want a bad_audio *echogen.Error", err)
			}
			if !strings.Contains(ee.Message, tt.want) {
				t.Errorf("message %q does not say %q", ee.Message, tt.want)
			}
		})
	}
}

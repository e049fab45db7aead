package audio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// TestAssembleTiming joins turns of awkward lengths with gaps, without
// normalising, into a WAV: the result is exactly the turns and the
// silences, and the spans and chapters say where each lies.
func TestAssembleTiming(t *testing.T) {
	lengths := []int{24000, 2401, 7, 12345}
	var turns [][]int16
	var wavs [][]byte
	for i, n := range lengths {
		s := speechLike(float64(n)/rate+0.01, -6, uint64(i))[:n]
		turns = append(turns, s)
		wavs = append(wavs, canonicalWAV(t, s))
	}
	const gapMs = 250
	const gap = gapMs * rate / 1000
	tests := []struct {
		name  string
		gapMs int
		turns int
	}{
		{"gaps", gapMs, len(lengths)},
		{"no gaps", 0, len(lengths)},
		{"one turn has no gap", gapMs, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gap := int64(tt.gapMs * rate / 1000)
			var want []int16
			var wantSpans []echogen.TurnSpan
			for i, s := range turns[:tt.turns] {
				if i > 0 {
					want = append(want, make([]int16, gap)...)
				}
				wantSpans = append(wantSpans, echogen.TurnSpan{Start: int64(len(want)), End: int64(len(want) + len(s))})
				want = append(want, s...)
			}
			dir := t.TempDir()
			var out bytes.Buffer
			res, err := New(Options{TempDir: dir}).Assemble(context.Background(), echogen.AssembleRequest{
				Turns: tt.turns, OpenTurn: turnsOf(wavs), GapMs: tt.gapMs, Format: echogen.FormatWAV,
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			emptyDir(t, dir)
			if res.Samples != int64(len(want)) {
				t.Errorf("Samples = %d, want %d", res.Samples, len(want))
			}
			if diff := cmp.Diff(wantSpans, res.Turns); diff != "" {
				t.Errorf("Turns (-want +got):\n%s", diff)
			}
			if !bytes.Equal(out.Bytes(), canonicalWAV(t, want)) {
				t.Error("the WAV is not the turns and the gaps, unchanged")
			}
			if res.GainDB != 0 || res.Format != "wav" || res.Encoder != "wav" || res.ContentType != "audio/wav" || res.Bitrate != 0 || res.Note != "" {
				t.Errorf("result = %+v", res)
			}
			// Measured even when not normalising.
			wantLUFS, _ := measure(pcmSamples(out.Bytes()[wavHeaderSize:]), rate)
			if math.Abs(res.InputLUFS-wantLUFS) > 1e-9 || math.Abs(res.OutputLUFS-wantLUFS) > 1e-9 {
				t.Errorf("loudness in %.2f, out %.2f; want %.2f", res.InputLUFS, res.OutputLUFS, wantLUFS)
			}
		})
	}

	t.Run("chapters", func(t *testing.T) {
		res, err := New(Options{TempDir: t.TempDir()}).Assemble(context.Background(), echogen.AssembleRequest{
			Turns: len(wavs), OpenTurn: turnsOf(wavs), GapMs: gapMs, Format: echogen.FormatWAV,
			Chapters: []echogen.ChapterMark{{Title: "Intro", FirstTurn: 0}, {Title: "Middle", FirstTurn: 2}, {Title: "End", FirstTurn: 3}},
		}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		at := func(samples int) float64 { return float64(samples) / rate }
		turn2 := lengths[0] + gap + lengths[1] + gap
		turn3 := turn2 + lengths[2] + gap
		want := []echogen.Chapter{
			{Title: "Intro", Start: 0, End: at(turn2)},
			{Title: "Middle", Start: at(turn2), End: at(turn3)},
			{Title: "End", Start: at(turn3), End: at(turn3 + lengths[3])},
		}
		if diff := cmp.Diff(want, res.Chapters); diff != "" {
			t.Errorf("Chapters (-want +got):\n%s", diff)
		}
	})
}

// speechTurns returns n canonical turns of speech-like noise, each about
// seconds long, at levels from quiet to hot, like voices from different
// providers.
func speechTurns(t testing.TB, n int, seconds float64) [][]byte {
	t.Helper()
	peaks := []float64{-12, -1, -20, -6}
	wavs := make([][]byte, n)
	for i := range wavs {
		wavs[i] = canonicalWAV(t, speechLike(seconds, peaks[i%len(peaks)], uint64(i)))
	}
	return wavs
}

// TestAssembleFormats normalises speech-like turns into each format with
// each encoder, then decodes the file with ffmpeg and measures it.
func TestAssembleFormats(t *testing.T) {
	wavs := speechTurns(t, 4, 4)
	tests := []struct {
		name        string
		opts        Options
		format      string
		bitrate     int
		wantEncoder string
		wantType    string
		wantBitrate int
		wantCodec   string // as ffprobe names it
	}{
		{"mp3 by ffmpeg", Options{}, echogen.FormatMP3, 0, "ffmpeg", "audio/mpeg", 128, "mp3"},
		{"mp3 by lame", Options{FFmpeg: "/nonexistent/ffmpeg"}, echogen.FormatMP3, 96, "lame", "audio/mpeg", 96, "mp3"},
		{"mp3 at an odd bitrate", Options{}, echogen.FormatMP3, 100, "ffmpeg", "audio/mpeg", 96, "mp3"},
		{"m4a", Options{}, echogen.FormatM4A, 0, "ffmpeg", "audio/mp4", 96, "aac"},
		{"opus", Options{}, echogen.FormatOpus, 0, "ffmpeg", "audio/ogg", 48, "opus"},
		{"wav", Options{}, echogen.FormatWAV, 0, "wav", "audio/wav", 0, "pcm_s16le"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantEncoder != "wav" {
				testenv.RequireTool(t, tt.wantEncoder, tt.wantEncoder)
			}
			ffprobe := testenv.RequireTool(t, "ffprobe", "ffmpeg")
			tt.opts.TempDir = t.TempDir()
			var out bytes.Buffer
			res, err := New(tt.opts).Assemble(context.Background(), echogen.AssembleRequest{
				Turns: len(wavs), OpenTurn: turnsOf(wavs), GapMs: 400, Normalize: true,
				Format: tt.format, Bitrate: tt.bitrate,
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			emptyDir(t, tt.opts.TempDir)
			if res.Format != tt.format || res.Encoder != tt.wantEncoder || res.ContentType != tt.wantType || res.Bitrate != tt.wantBitrate || res.Note != "" {
				t.Errorf("result = %+v", res)
			}
			t.Logf("in %.2f LUFS, gain %+.2f dB, out %.3f LUFS, %.4f dBTP", res.InputLUFS, res.GainDB, res.OutputLUFS, res.TruePeak)
			if math.Abs(res.OutputLUFS-defaultTargetLUFS) > 0.5 || res.TruePeak > defaultMaxTruePeak {
				t.Errorf("reported %.2f LUFS, %.2f dBTP; want -16 ± 0.5 LUFS, at most -1 dBTP", res.OutputLUFS, res.TruePeak)
			}
			// The gain makes up for what the limiter takes.
			if plain := defaultTargetLUFS - res.InputLUFS; res.GainDB < plain || res.GainDB > plain+maxMakeup {
				t.Errorf("gain %.2f dB, want %.2f dB or a little more", res.GainDB, plain)
			}

			x := decodeWithFFmpeg(t, out.Bytes())
			lufs, dbtp := measure(x, rate)
			t.Logf("decoded: %.3f LUFS, %.4f dBTP", lufs, dbtp)
			if math.Abs(lufs-defaultTargetLUFS) > 1 || dbtp > defaultMaxTruePeak {
				t.Errorf("decoded, it measures %.2f LUFS and %.2f dBTP; want -16 ± 1 LUFS, at most -1 dBTP", lufs, dbtp)
			}

			probe := ffprobeJSON(t, ffprobe, out.Bytes())
			if len(probe.Streams) == 0 || probe.Streams[0].CodecName != tt.wantCodec || probe.Streams[0].SampleRate != "24000" && tt.wantCodec != "opus" {
				t.Errorf("ffprobe sees streams %+v, want %s at 24 kHz", probe.Streams, tt.wantCodec)
			}
			if d := probe.Format.Duration - res.Seconds(); math.Abs(d) > 0.1 {
				t.Errorf("ffprobe says %.3f s, Assemble %.3f s", probe.Format.Duration, res.Seconds())
			}
		})
	}
}

// probed is what ffprobe -show_format -show_streams -show_chapters says.
type probed struct {
	Format struct {
		FormatName string            `json:"format_name"`
		Duration   float64           `json:"duration,string"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
	Streams []struct {
		CodecName   string            `json:"codec_name"`
		SampleRate  string            `json:"sample_rate"`
		Disposition map[string]int    `json:"disposition"`
		Tags        map[string]string `json:"tags"`
	} `json:"streams"`
	Chapters []struct {
		Start float64           `json:"start_time,string"`
		End   float64           `json:"end_time,string"`
		Tags  map[string]string `json:"tags"`
	} `json:"chapters"`
}

func ffprobeJSON(t *testing.T, ffprobe string, file []byte) probed {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, nil, ffprobe, "-v", "error", "-show_format", "-show_streams", "-show_chapters", "-of", "json", path)
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe's JSON: %v\n%s", err, out)
	}
	return p
}

// TestAssembleSpeech assembles real utterances into an MP3 and decodes it
// back with Canonical: gapless decoding gives back exactly as many samples
// as were assembled, at the loudness asked for.
func TestAssembleSpeech(t *testing.T) {
	texts := []string{
		"Welcome back to the show. Today we are talking about loudness.",
		"That is a great question! Let me explain how the meter works.",
		"And what about the limiter? Does it change how the voices sound?",
	}
	e := New(Options{TempDir: t.TempDir()})
	var wavs [][]byte
	for _, text := range texts {
		wav, _, err := e.Canonical(context.Background(), &echogen.SpeechAudio{Data: espeak(t, text), Format: echogen.AudioWAV})
		if err != nil {
			t.Fatal(err)
		}
		wavs = append(wavs, wav)
	}
	testenv.RequireTool(t, "ffmpeg", "ffmpeg")
	var out bytes.Buffer
	res, err := e.Assemble(context.Background(), echogen.AssembleRequest{
		Turns: len(wavs), OpenTurn: turnsOf(wavs), GapMs: 300, Normalize: true, Format: echogen.FormatMP3,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	wav, n, err := e.Canonical(context.Background(), &echogen.SpeechAudio{Data: out.Bytes(), Format: echogen.AudioMP3})
	if err != nil {
		t.Fatal(err)
	}
	if n != res.Samples {
		t.Errorf("the MP3 decodes to %d samples, want %d", n, res.Samples)
	}
	lufs, dbtp := measure(pcmSamples(wav[wavHeaderSize:]), rate)
	t.Logf("input %.2f LUFS, gain %+.2f dB; output %.2f LUFS, %.2f dBTP; decoded %.2f LUFS, %.2f dBTP", res.InputLUFS, res.GainDB, res.OutputLUFS, res.TruePeak, lufs, dbtp)
	if math.Abs(res.OutputLUFS-defaultTargetLUFS) > 0.5 || res.TruePeak > defaultMaxTruePeak {
		t.Errorf("reported %.2f LUFS, %.2f dBTP; want -16 ± 0.5 LUFS, at most -1 dBTP", res.OutputLUFS, res.TruePeak)
	}
	if math.Abs(lufs-defaultTargetLUFS) > 1 || dbtp > defaultMaxTruePeak {
		t.Errorf("decoded, it measures %.2f LUFS, %.2f dBTP; want -16 ± 1 LUFS, at most -1 dBTP", lufs, dbtp)
	}
}

func TestAssembleOptions(t *testing.T) {
	wavs := speechTurns(t, 2, 1)
	tests := []struct {
		name string
		opts Options
		req  echogen.AssembleRequest
		want func(t *testing.T, res *echogen.AssembleResult)
	}{
		{
			name: "encoders disabled",
			opts: Options{DisableEncoders: true},
			req:  echogen.AssembleRequest{Format: echogen.FormatMP3},
			want: wantWAV("mp3 was asked for, but encoders are disabled; wrote WAV"),
		},
		{
			name: "no ffmpeg, no lame",
			opts: Options{FFmpeg: "/nonexistent/ffmpeg", Lame: "/nonexistent/lame"},
			req:  echogen.AssembleRequest{Format: echogen.FormatMP3},
			want: wantWAV("mp3 was asked for, but neither ffmpeg nor lame is installed; wrote WAV"),
		},
		{
			name: "no ffmpeg for m4a",
			opts: Options{FFmpeg: "/nonexistent/ffmpeg"},
			req:  echogen.AssembleRequest{Format: echogen.FormatM4A},
			want: wantWAV("m4a was asked for, but ffmpeg is not installed; wrote WAV"),
		},
		{
			name: "an ffmpeg without libopus",
			opts: Options{FFmpeg: fakeFFmpeg(t, "aac")},
			req:  echogen.AssembleRequest{Format: echogen.FormatOpus},
			want: wantWAV("opus was asked for, but ffmpeg lacks the libopus encoder; wrote WAV"),
		},
		{
			name: "an ffmpeg without libmp3lame, and no lame",
			opts: Options{FFmpeg: fakeFFmpeg(t, "aac"), Lame: "/nonexistent/lame"},
			req:  echogen.AssembleRequest{Format: echogen.FormatMP3},
			want: wantWAV("mp3 was asked for, but ffmpeg lacks the libmp3lame encoder and lame is not installed; wrote WAV"),
		},
		{
			name: "mp3 is the default format",
			opts: Options{DisableEncoders: true},
			req:  echogen.AssembleRequest{},
			want: wantWAV("mp3 was asked for, but encoders are disabled; wrote WAV"),
		},
		{
			name: "a custom target",
			req:  echogen.AssembleRequest{Format: echogen.FormatWAV, Normalize: true, TargetLUFS: -20, MaxTruePeak: -3},
			want: func(t *testing.T, res *echogen.AssembleResult) {
				if math.Abs(res.OutputLUFS+20) > 0.5 || res.TruePeak > -3 {
					t.Errorf("out %.2f LUFS, %.2f dBTP; want -20 LUFS, at most -3 dBTP", res.OutputLUFS, res.TruePeak)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.TempDir = t.TempDir()
			tt.req.Turns, tt.req.OpenTurn = len(wavs), turnsOf(wavs)
			var out bytes.Buffer
			res, err := New(tt.opts).Assemble(context.Background(), tt.req, &out)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format == echogen.FormatWAV {
				if n, err := readCanonicalHeader(bytes.NewReader(out.Bytes())); err != nil || n != res.Samples || out.Len() != wavHeaderSize+2*int(n) {
					t.Errorf("not a WAV of %d samples: %v", res.Samples, err)
				}
			}
			tt.want(t, res)
			emptyDir(t, tt.opts.TempDir)
		})
	}
}

func wantWAV(note string) func(*testing.T, *echogen.AssembleResult) {
	return func(t *testing.T, res *echogen.AssembleResult) {
		t.Helper()
		want := echogen.AssembleResult{Format: "wav", ContentType: "audio/wav", Encoder: "wav", Note: note}
		got := echogen.AssembleResult{Format: res.Format, ContentType: res.ContentType, Encoder: res.Encoder, Bitrate: res.Bitrate, Note: res.Note}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
	}
}

// fakeFFmpeg writes a stand-in for ffmpeg that lists only the encoders
// given and, asked to encode, fails as failing says: "early" without
// reading its input, "late" after reading all of it; otherwise it drains
// its input and succeeds, writing nothing.
func fakeFFmpeg(t *testing.T, encoders string, failing ...string) string {
	t.Helper()
	var list strings.Builder
	for _, e := range strings.Fields(encoders) {
		list.WriteString(" A....D " + e + "  an encoder\\n")
	}
	encode := "cat >/dev/null"
	switch strings.Join(failing, "") {
	case "early":
		encode = "echo 'Unknown encoder: the codec is on strike' >&2; exit 1"
	case "late":
		encode = "cat >/dev/null; echo 'Error while closing: disk full' >&2; exit 1"
	}
	script := "#!/bin/sh\ncase \"$*\" in\n*-encoders*) printf 'Encoders:\\n ------\\n" + list.String() + "';;\n*) " + encode + ";;\nesac\n"
	path := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAssembleSilence normalises silence: there is no loudness to measure,
// so no gain, and finite stand-ins for −∞.
func TestAssembleSilence(t *testing.T) {
	wavs := [][]byte{canonicalWAV(t, make([]int16, rate)), canonicalWAV(t, make([]int16, rate/10))}
	var out bytes.Buffer
	res, err := New(Options{TempDir: t.TempDir()}).Assemble(context.Background(), echogen.AssembleRequest{
		Turns: 2, OpenTurn: turnsOf(wavs), GapMs: 100, Normalize: true, Format: echogen.FormatWAV,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := echogen.AssembleResult{InputLUFS: SilenceLUFS, OutputLUFS: SilenceLUFS, TruePeak: SilenceDBTP, GainDB: 0}
	got := echogen.AssembleResult{InputLUFS: res.InputLUFS, OutputLUFS: res.OutputLUFS, TruePeak: res.TruePeak, GainDB: res.GainDB}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if !bytes.Equal(out.Bytes(), canonicalWAV(t, make([]int16, rate+rate/10+rate/10))) {
		t.Error("silence in, not silence out")
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the result cannot be encoded: %v", err)
	}
}

func TestAssembleErrors(t *testing.T) {
	good := canonicalWAV(t, speechLike(0.5, -6, 1))
	opened := errors.New("the cache is gone")
	tests := []struct {
		name     string
		opts     Options
		req      echogen.AssembleRequest
		wantKind echogen.Kind
		wantIs   error
		want     string
	}{
		{name: "no turns", req: echogen.AssembleRequest{Turns: 0}, wantKind: echogen.KindBadRequest, want: "at least one turn"},
		{name: "a negative gap", req: echogen.AssembleRequest{Turns: 1, GapMs: -5}, wantKind: echogen.KindBadRequest, want: "negative"},
		{name: "an unknown format", req: echogen.AssembleRequest{Turns: 1, Format: "flac"}, wantKind: echogen.KindBadRequest, want: `"flac" is not one of`},
		{name: "a chapter past the end", req: echogen.AssembleRequest{Turns: 2, Chapters: []echogen.ChapterMark{{Title: "A", FirstTurn: 2}}}, wantKind: echogen.KindBadRequest, want: "turns 0 to 1"},
		{name: "chapters out of order", req: echogen.AssembleRequest{Turns: 3, Chapters: []echogen.ChapterMark{{Title: "A", FirstTurn: 1}, {Title: "B", FirstTurn: 1}}}, wantKind: echogen.KindBadRequest, want: "not after the previous"},
		{
			name: "a turn that is not canonical",
			req:  echogen.AssembleRequest{Turns: 2, OpenTurn: turnsOf([][]byte{good, riff(fmtChunk(1, 1, 22050, 16), wavChunk{id: "data", body: make([]byte, 100)})})},
			want: "turn 1: not a canonical WAV",
		},
		{
			name: "a truncated turn",
			req:  echogen.AssembleRequest{Turns: 1, OpenTurn: turnsOf([][]byte{good[:len(good)-10]})},
			want: "turn 0: the WAV ends 5 samples short",
		},
		{
			name: "a turn that cannot be opened",
			req: echogen.AssembleRequest{Turns: 1, OpenTurn: func(context.Context, int) (io.ReadCloser, error) {
				return nil, opened
			}},
			wantIs: opened, want: "turn 0: opening: the cache is gone",
		},
		{
			name: "an encoder that fails at once",
			opts: Options{FFmpeg: fakeFFmpeg(t, "libmp3lame", "early")},
			req:  echogen.AssembleRequest{Turns: 1, OpenTurn: turnsOf([][]byte{canonicalWAV(t, speechLike(20, -6, 1))}), Format: echogen.FormatMP3},
			want: "ffmpeg failed: exit status 1: Unknown encoder: the codec is on strike",
		},
		{
			name: "an encoder that fails at the end",
			opts: Options{FFmpeg: fakeFFmpeg(t, "libmp3lame", "late")},
			req:  echogen.AssembleRequest{Turns: 1, OpenTurn: turnsOf([][]byte{good}), Format: echogen.FormatMP3},
			want: "ffmpeg failed: exit status 1: Error while closing: disk full",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.TempDir = t.TempDir()
			if tt.req.OpenTurn == nil {
				tt.req.OpenTurn = func(context.Context, int) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(good)), nil }
			}
			_, err := New(tt.opts).Assemble(context.Background(), tt.req, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if tt.wantKind != echogen.KindInternal && echogen.ErrorKind(err) != tt.wantKind {
				t.Errorf("kind = %v, want %v", echogen.ErrorKind(err), tt.wantKind)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
			emptyDir(t, tt.opts.TempDir)
		})
	}
}

// TestAssembleCancel cancels assembly in each pass; it stops with the
// context's error, and no temporary file or process is left behind.
func TestAssembleCancel(t *testing.T) {
	wavs := speechTurns(t, 6, 2)
	tests := []struct {
		name   string
		format string
		inTurn bool // cancel while opening turn 3; else in the last pass
	}{
		{name: "while joining", format: echogen.FormatMP3, inTurn: true},
		{name: "while rendering to ffmpeg", format: echogen.FormatMP3},
		{name: "while rendering to ffmpeg's Opus", format: echogen.FormatOpus},
		{name: "while rendering to a WAV", format: echogen.FormatWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.format != echogen.FormatWAV {
				testenv.RequireTool(t, "ffmpeg", "ffmpeg")
			}
			dir := t.TempDir()
			e := New(Options{TempDir: dir})
			assemble := func(ctx context.Context, open func(context.Context, int) (io.ReadCloser, error)) error {
				_, err := e.Assemble(ctx, echogen.AssembleRequest{
					Turns: len(wavs), OpenTurn: open, GapMs: 200, Normalize: true, Format: tt.format,
				}, io.Discard)
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var err error
			if tt.inTurn {
				err = assemble(ctx, func(ctx context.Context, i int) (io.ReadCloser, error) {
					if i == 3 {
						cancel()
					}
					return turnsOf(wavs)(ctx, i)
				})
			} else {
				// Count how often a whole assembly looks at its context,
				// then cancel a few looks before the end: in the last pass,
				// while the encoder runs.
				count := &countdownContext{Context: context.Background(), left: math.MaxInt64}
				if err := assemble(count, turnsOf(wavs)); err != nil {
					t.Fatal(err)
				}
				err = assemble(&countdownContext{Context: ctx, cancel: cancel, left: count.asked.Load() - 5}, turnsOf(wavs))
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			emptyDir(t, dir)
		})
	}
}

// countdownContext cancels itself once its Err has been asked left times:
// a way to stop at a chosen point of a pass without timing anything.
type countdownContext struct {
	context.Context
	cancel context.CancelFunc
	left   int64
	asked  atomic.Int64
}

func (c *countdownContext) Err() error {
	if c.asked.Add(1) > c.left {
		c.cancel()
	}
	return c.Context.Err()
}

package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const rate = echogen.SampleRate

// sine returns seconds of a sine at hz and amplitude (linear) sampled at
// sr, starting at phase (radians).
func sine(sr int, hz, amplitude, phase, seconds float64) []float64 {
	x := make([]float64, int(seconds*float64(sr)))
	for i := range x {
		x[i] = amplitude * math.Sin(2*math.Pi*hz*float64(i)/float64(sr)+phase)
	}
	return x
}

// dbfs converts a level in dB to a linear amplitude.
func dbfs(db float64) float64 { return math.Pow(10, db/20) }

// speechLike returns seconds of noise shaped like speech at SampleRate:
// low-passed, in syllables of varying loudness with pauses between words,
// so its peak-to-loudness ratio is a talker's (about 15 to 20 dB). Its
// sample peak is at peakDB dBFS.
func speechLike(seconds, peakDB float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float64, int(seconds*rate))
	var lp1, lp2, env, target float64
	var peak float64
	for i := range x {
		if i%(rate/5) == 0 { // a new syllable every 200 ms: loud, soft or a pause
			switch p := r.Float64(); {
			case p < 0.15:
				target = 0
			default:
				target = 0.3 + 0.7*r.Float64()
			}
		}
		env += (target - env) * 0.002
		const a = 0.25 // two one-pole low-passes, about 1 kHz
		lp1 += a * (r.NormFloat64() - lp1)
		lp2 += a * (lp1 - lp2)
		x[i] = env * lp2
		peak = max(peak, math.Abs(x[i]))
	}
	out := make([]int16, len(x))
	scale := dbfs(peakDB) / peak
	for i, v := range x {
		out[i] = toInt16(v * scale)
	}
	return out
}

// canonicalWAV makes a canonical WAV of samples.
func canonicalWAV(t testing.TB, samples []int16) []byte {
	t.Helper()
	h, err := wavHeader(int64(len(samples)))
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.NewBuffer(h)
	binary.Write(b, binary.LittleEndian, samples)
	return b.Bytes()
}

// pcmSamples reads 16-bit little-endian samples as [-1, 1].
func pcmSamples(b []byte) []float64 {
	return pcmToFloat(b[:len(b)&^1], make([]float64, len(b)/2))
}

// measure returns the integrated loudness (LUFS) and true peak (dBTP) of
// x at sr.
func measure(x []float64, sr int) (lufs, dbtp float64) {
	m := newMeter(sr)
	m.add(x)
	var p peakMeter
	p.add(x)
	p.finish()
	return m.integrated(), p.dBTP()
}

// turnsOf returns an OpenTurn serving the canonical WAVs wavs.
func turnsOf(wavs [][]byte) func(context.Context, int) (io.ReadCloser, error) {
	return func(_ context.Context, i int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(wavs[i])), nil
	}
}

// espeak returns a real utterance from espeak-ng: a 22050 Hz WAV.
func espeak(t testing.TB, text string) []byte {
	t.Helper()
	bin := testenv.RequireTool(t, "espeak-ng", "espeak-ng")
	out, err := exec.Command(bin, "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	return out
}

// run runs a command with stdin and returns its stdout, failing the test
// with its stderr when it fails.
func run(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// decodeWithFFmpeg decodes any audio file to [-1, 1] samples at SampleRate.
func decodeWithFFmpeg(t testing.TB, file []byte) []float64 {
	t.Helper()
	ffmpeg := testenv.RequireTool(t, "ffmpeg", "ffmpeg")
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	return pcmSamples(run(t, nil, ffmpeg, "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"))
}

// emptyDir fails the test unless dir holds no files.
func emptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s was left behind in the temporary folder", e.Name())
	}
}

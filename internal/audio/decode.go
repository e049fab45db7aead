package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"

	"github.com/echogen/server/internal/echogen"
)

// Limits on what providers may send.
const (
	minRate     = 4000
	maxRate     = 192000 // speech APIs answer at 48 kHz at most; higher rates only cost CPU
	maxChannels = 8
)

// Canonical decodes a provider's answer to a canonical WAV: mono 16-bit
// PCM at echogen.SampleRate. The bytes decide the format when they carry a
// WAV or MP3 header, since providers mislabel; a.Format is trusted only for
// raw PCM, which has no header. PCM without a rate or channel count is
// taken as SampleRate mono.
func (e *Engine) Canonical(ctx context.Context, a *echogen.SpeechAudio) ([]byte, int64, error) {
	if a == nil || len(a.Data) == 0 {
		return nil, 0, badAudio(nil, "the provider sent no audio")
	}
	samples, rate, err := decode(a)
	if err != nil {
		return nil, 0, err
	}
	if len(samples) == 0 {
		return nil, 0, badAudio(nil, "the provider's audio holds no samples")
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	samples = resample(samples, rate, echogen.SampleRate)
	h, err := wavHeader(int64(len(samples)))
	if err != nil {
		return nil, 0, badAudio(err, "the provider's audio is too long")
	}
	wav := make([]byte, len(h), len(h)+2*len(samples))
	copy(wav, h)
	for _, s := range samples {
		wav = binary.LittleEndian.AppendUint16(wav, uint16(toInt16(float64(s))))
	}
	return wav, int64(len(samples)), nil
}

// decode returns a's samples, mixed down to mono, and their rate.
func decode(a *echogen.SpeechAudio) ([]float32, int, error) {
	switch sniff(a.Data, a.Format) {
	case echogen.AudioWAV:
		f, data, err := parseWAV(a.Data)
		if err != nil {
			return nil, 0, badAudio(err, "the provider's WAV audio cannot be read: %v", err)
		}
		return wavToMono(f, data), f.rate, nil
	case echogen.AudioMP3:
		return decodeMP3(a.Data)
	case echogen.AudioPCM:
		rate, channels := a.SampleRate, a.Channels
		if rate == 0 {
			rate = echogen.SampleRate
		}
		if channels == 0 {
			channels = 1
		}
		if rate < minRate || rate > maxRate || channels < 1 || channels > maxChannels {
			return nil, 0, badAudio(nil, "the provider's PCM audio has an unsupported format (%d Hz, %d channels)", rate, channels)
		}
		f := wavFormat{channels: channels, rate: rate, bits: 16}
		data := a.Data[:len(a.Data)-len(a.Data)%f.frameSize()]
		return wavToMono(f, data), rate, nil
	}
	return nil, 0, badAudio(nil, "the provider's audio is not a WAV, MP3 or PCM stream (labelled %q)", a.Format)
}

// sniff names the encoding of data: WAV or MP3 when its first bytes say
// so, else PCM when it is labelled PCM, else "".
func sniff(data []byte, label string) string {
	switch {
	case len(data) >= 12 && (string(data[:4]) == "RIFF" || string(data[:4]) == "RF64") && string(data[8:12]) == "WAVE":
		return echogen.AudioWAV
	case label == echogen.AudioPCM:
		// Headerless PCM may begin with anything, an MP3 sync word
		// included, so only a RIFF header overrides the label.
		return echogen.AudioPCM
	case bytes.HasPrefix(data, []byte("ID3")),
		// An MPEG audio layer III frame header: 11 sync bits, then layer bits 01.
		len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && data[1]&0x06 == 0x02:
		return echogen.AudioMP3
	}
	return ""
}

// wavToMono converts PCM or float samples in format f to mono float32 in
// [-1, 1], averaging the channels.
func wavToMono(f wavFormat, data []byte) []float32 {
	width, n := f.bits/8, len(data)/f.frameSize()
	sample := sampleReader(f)
	out := make([]float32, n)
	scale := 1 / float64(f.channels)
	for i := range out {
		var sum float64
		frame := data[i*f.frameSize():]
		for c := range f.channels {
			sum += sample(frame[c*width:])
		}
		out[i] = float32(sum * scale)
	}
	return out
}

// sampleReader returns the function that reads one sample of format f as
// a value in [-1, 1].
func sampleReader(f wavFormat) func([]byte) float64 {
	switch {
	case f.float && f.bits == 32:
		return func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
	case f.float:
		return func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
	case f.bits == 8: // unsigned, centred on 128
		return func(b []byte) float64 { return (float64(b[0]) - 128) / 128 }
	case f.bits == 16:
		return func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15) }
	case f.bits == 24:
		return func(b []byte) float64 {
			return float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8) / (1 << 23)
		}
	default:
		return func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31) }
	}
}

// toInt16 converts a sample in [-1, 1] to 16 bits, rounding and clipping.
func toInt16(x float64) int16 {
	v := math.Round(x * (1 << 15))
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// badAudio is the error for provider audio that cannot be decoded.
func badAudio(cause error, format string, args ...any) error {
	e := echogen.Errorf(echogen.KindBadRequest, "bad_audio", format, args...)
	e.Err = cause
	return e
}

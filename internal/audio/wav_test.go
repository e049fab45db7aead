package audio

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// riff builds a RIFF WAVE file of chunks, padding odd bodies.
func riff(chunks ...wavChunk) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c.id...)
		size := uint32(len(c.body))
		if c.size != nil {
			size = *c.size
		}
		body = binary.LittleEndian.AppendUint32(body, size)
		body = append(body, c.body...)
		if len(c.body)%2 == 1 && !c.noPad {
			body = append(body, 0)
		}
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(body)))...)
	return append(append(out, "WAVE"...), body...)
}

type wavChunk struct {
	id    string
	body  []byte
	size  *uint32 // written instead of len(body) when set
	noPad bool
}

func ptr(n uint32) *uint32 { return &n }

func fmtChunk(tag uint16, channels, sr, bits int) wavChunk {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(sr))
	b = binary.LittleEndian.AppendUint32(b, uint32(sr*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	if tag == wavFormatExtensible {
		b = binary.LittleEndian.AppendUint16(b, 22)
		b = binary.LittleEndian.AppendUint16(b, uint16(bits))
		b = binary.LittleEndian.AppendUint32(b, 0x3) // channel mask
		// KSDATAFORMAT_SUBTYPE_PCM
		b = append(b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71)
	}
	return wavChunk{id: "fmt ", body: b}
}

func TestParseWAV(t *testing.T) {
	// The same frames in every encoding: mono 0, 0.5, -0.5, -1.
	values := []float64{0, 0.5, -0.5, -1}
	encode := func(bits int, float bool, channels int) []byte {
		var b []byte
		for _, v := range values {
			for range channels {
				switch {
				case float && bits == 32:
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
				case float:
					b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
				case bits == 8:
					b = append(b, byte(int(v*128)+128))
				case bits == 16:
					b = binary.LittleEndian.AppendUint16(b, uint16(int16(v*(1<<15))))
				case bits == 24:
					u := uint32(int32(v * (1 << 23)))
					b = append(b, byte(u), byte(u>>8), byte(u>>16))
				case bits == 32:
					b = binary.LittleEndian.AppendUint32(b, uint32(int32(v*(1<<31))))
				}
			}
		}
		return b
	}
	pcm16 := encode(16, false, 1)
	tests := []struct {
		name    string
		file    []byte
		rate    int
		want    []float64
		wantErr string
	}{
		{name: "16-bit mono", file: riff(fmtChunk(1, 1, 22050, 16), wavChunk{id: "data", body: pcm16}), rate: 22050, want: values},
		{name: "8-bit", file: riff(fmtChunk(1, 1, 8000, 8), wavChunk{id: "data", body: encode(8, false, 1)}), rate: 8000, want: values},
		{name: "24-bit stereo", file: riff(fmtChunk(1, 2, 48000, 24), wavChunk{id: "data", body: encode(24, false, 2)}), rate: 48000, want: values},
		{name: "32-bit", file: riff(fmtChunk(1, 1, 44100, 32), wavChunk{id: "data", body: encode(32, false, 1)}), rate: 44100, want: values},
		{name: "32-bit float", file: riff(fmtChunk(3, 1, 24000, 32), wavChunk{id: "data", body: encode(32, true, 1)}), rate: 24000, want: values},
		{name: "64-bit float stereo", file: riff(fmtChunk(3, 2, 24000, 64), wavChunk{id: "data", body: encode(64, true, 2)}), rate: 24000, want: values},
		{name: "extensible", file: riff(fmtChunk(wavFormatExtensible, 2, 16000, 16), wavChunk{id: "data", body: encode(16, false, 2)}), rate: 16000, want: values},
		{
			name: "unknown chunks, one odd-sized, are skipped",
			file: riff(wavChunk{id: "JUNK", body: []byte("abc")}, fmtChunk(1, 1, 24000, 16), wavChunk{id: "LIST", body: []byte("INFOxxxx")}, wavChunk{id: "data", body: pcm16}, wavChunk{id: "id3 ", body: []byte("tag")}),
			rate: 24000, want: values,
		},
		{name: "streaming size 0xFFFFFFFF", file: riff(fmtChunk(1, 1, 24000, 16), wavChunk{id: "data", body: pcm16, size: ptr(0xFFFFFFFF)}), rate: 24000, want: values},
		{name: "streaming size 0", file: riff(fmtChunk(1, 1, 24000, 16), wavChunk{id: "data", body: append(pcm16, 7), size: ptr(0), noPad: true}), rate: 24000, want: values},
		{name: "size past the end", file: riff(fmtChunk(1, 1, 24000, 16), wavChunk{id: "data", body: pcm16, size: ptr(1 << 20)}), rate: 24000, want: values},
		{name: "not RIFF", file: []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), wantErr: "no RIFF WAVE header"},
		{name: "no fmt", file: riff(wavChunk{id: "data", body: pcm16}), wantErr: "before the fmt chunk"},
		{name: "no data", file: riff(fmtChunk(1, 1, 24000, 16)), wantErr: "no data chunk"},
		{name: "ADPCM", file: riff(fmtChunk(2, 1, 24000, 4), wavChunk{id: "data", body: pcm16}), wantErr: "unsupported sample format"},
		{name: "absurd rate", file: riff(fmtChunk(1, 1, 100, 16), wavChunk{id: "data", body: pcm16}), wantErr: "unsupported sample rate"},
		{name: "cut short", file: riff(fmtChunk(1, 1, 24000, 16), wavChunk{id: "LIST", body: []byte("xx"), size: ptr(100)}), wantErr: "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, data, err := parseWAV(tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.rate != tt.rate {
				t.Errorf("rate = %d, want %d", f.rate, tt.rate)
			}
			got := make([]float64, 0, len(tt.want))
			for _, v := range wavToMono(f, data) {
				got = append(got, float64(v))
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCanonicalHeader(t *testing.T) {
	h, err := wavHeader(1234)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != wavHeaderSize {
		t.Fatalf("header is %d bytes", len(h))
	}
	n, err := readCanonicalHeader(strings.NewReader(string(h)))
	if err != nil || n != 1234 {
		t.Errorf("readCanonicalHeader = %d, %v; want 1234", n, err)
	}
	// Canonical headers parse as ordinary WAVs too.
	f, _, err := parseWAV(append(h, make([]byte, 2468)...))
	if diff := cmp.Diff(wavFormat{channels: 1, rate: rate, bits: 16}, f, cmp.AllowUnexported(wavFormat{})); err != nil || diff != "" {
		t.Errorf("parseWAV: %v %s", err, diff)
	}

	for _, tt := range []struct {
		name string
		file []byte
	}{
		{"short", h[:20]},
		{"another rate", riff(fmtChunk(1, 1, 22050, 16), wavChunk{id: "data", body: make([]byte, 4)})},
		{"stereo", riff(fmtChunk(1, 2, rate, 16), wavChunk{id: "data", body: make([]byte, 4)})},
		{"a chunk before the data", riff(fmtChunk(1, 1, rate, 16), wavChunk{id: "LIST", body: make([]byte, 4)}, wavChunk{id: "data", body: make([]byte, 4)})},
	} {
		if _, err := readCanonicalHeader(strings.NewReader(string(tt.file))); err == nil {
			t.Errorf("%s: readCanonicalHeader accepted it", tt.name)
		}
	}
	if _, err := wavHeader(maxWAVSamples + 1); err == nil {
		t.Error("wavHeader accepted more samples than fit")
	}
}

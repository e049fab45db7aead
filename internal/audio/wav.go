package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/echogen/server/internal/echogen"
)

// wavHeaderSize is the size of a canonical WAV's header: a RIFF header, a
// 16-byte fmt chunk and the data chunk's header, with nothing between.
const wavHeaderSize = 44

// maxWAVSamples is the most 16-bit mono samples a RIFF file's 32-bit sizes
// can describe (about 24 hours at SampleRate).
const maxWAVSamples = (1<<32 - 1 - (wavHeaderSize - 8)) / 2

// WAV format tags.
const (
	wavFormatPCM        = 1
	wavFormatFloat      = 3
	wavFormatExtensible = 0xFFFE
)

// wavHeader returns the canonical header for samples of 16-bit mono PCM at
// echogen.SampleRate.
func wavHeader(samples int64) ([]byte, error) {
	if samples < 0 || samples > maxWAVSamples {
		return nil, fmt.Errorf("%d samples do not fit in a WAV file", samples)
	}
	const bytesPerSample = 2
	dataSize := uint32(samples * bytesPerSample)
	h := make([]byte, 0, wavHeaderSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, wavHeaderSize-8+dataSize)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, wavFormatPCM)
	h = binary.LittleEndian.AppendUint16(h, 1) // channels
	h = binary.LittleEndian.AppendUint32(h, echogen.SampleRate)
	h = binary.LittleEndian.AppendUint32(h, echogen.SampleRate*bytesPerSample)
	h = binary.LittleEndian.AppendUint16(h, bytesPerSample) // block align
	h = binary.LittleEndian.AppendUint16(h, 16)             // bits per sample
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, dataSize)
	return h, nil
}

// readCanonicalHeader reads the header of a WAV that Canonical made and
// returns its length in samples; any other WAV is an error.
func readCanonicalHeader(r io.Reader) (int64, error) {
	var h [wavHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, errors.New("not a canonical WAV: shorter than a WAV header")
		}
		return 0, err
	}
	dataSize := binary.LittleEndian.Uint32(h[40:])
	want, _ := wavHeader(int64(dataSize / 2))
	// The RIFF size is not compared: it says nothing the data size does not.
	if !bytes.Equal(h[:4], want[:4]) || !bytes.Equal(h[8:], want[8:]) {
		return 0, errors.New("not a canonical WAV (24 kHz mono 16-bit PCM with a 44-byte header)")
	}
	return int64(dataSize / 2), nil
}

// wavFormat describes the samples of a WAV file.
type wavFormat struct {
	float    bool // IEEE float samples; integer PCM otherwise
	channels int
	rate     int
	bits     int // per sample
}

// frameSize is the size of one sample of every channel, in bytes.
func (f wavFormat) frameSize() int { return f.channels * f.bits / 8 }

// parseWAV finds the format and the sample data of a RIFF WAVE file. It
// skips chunks it does not know and, as streaming servers write a WAV
// before they know its length, reads a data chunk whose size is 0,
// 0xFFFFFFFF or past the end of b as running to the end of b.
func parseWAV(b []byte) (wavFormat, []byte, error) {
	if len(b) < 12 || string(b[8:12]) != "WAVE" || (string(b[:4]) != "RIFF" && string(b[:4]) != "RF64") {
		return wavFormat{}, nil, errors.New("no RIFF WAVE header")
	}
	var (
		f      wavFormat
		hasFmt bool
	)
	for rest := b[12:]; len(rest) >= 8; {
		id, size := string(rest[:4]), int64(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:]
		if id == "data" {
			if !hasFmt {
				return wavFormat{}, nil, errors.New("the data chunk comes before the fmt chunk")
			}
			if size > 0 && size != 0xFFFFFFFF && size <= int64(len(body)) {
				body = body[:size]
			}
			return f, body[:len(body)-len(body)%f.frameSize()], nil
		}
		if size > int64(len(body)) {
			return wavFormat{}, nil, fmt.Errorf("the %q chunk is cut short", id)
		}
		if id == "fmt " {
			var err error
			if f, err = parseWAVFormat(body[:size]); err != nil {
				return wavFormat{}, nil, err
			}
			hasFmt = true
		}
		size += size & 1 // chunks are padded to an even length
		rest = body[min(size, int64(len(body))):]
	}
	return wavFormat{}, nil, errors.New("no data chunk")
}

// parseWAVFormat reads the body of a fmt chunk.
func parseWAVFormat(c []byte) (wavFormat, error) {
	if len(c) < 16 {
		return wavFormat{}, errors.New("the fmt chunk is too short")
	}
	tag := binary.LittleEndian.Uint16(c)
	f := wavFormat{
		channels: int(binary.LittleEndian.Uint16(c[2:])),
		rate:     int(binary.LittleEndian.Uint32(c[4:])),
		bits:     int(binary.LittleEndian.Uint16(c[14:])),
	}
	if tag == wavFormatExtensible && len(c) >= 26 {
		// The real tag is the first two bytes of the sub-format GUID.
		tag = binary.LittleEndian.Uint16(c[24:])
	}
	switch {
	case tag == wavFormatPCM && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32):
	case tag == wavFormatFloat && (f.bits == 32 || f.bits == 64):
		f.float = true
	default:
		return wavFormat{}, fmt.Errorf("unsupported sample format (format tag %#x, %d bits)", tag, f.bits)
	}
	if f.channels < 1 || f.channels > maxChannels {
		return wavFormat{}, fmt.Errorf("unsupported channel count %d", f.channels)
	}
	if f.rate < minRate || f.rate > maxRate {
		return wavFormat{}, fmt.Errorf("unsupported sample rate %d Hz", f.rate)
	}
	return f, nil
}

package speech

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/echogen/server/internal/echogen"
)

// Sniff names the container audio data is in: echogen.AudioWAV for a
// RIFF/WAVE file, echogen.AudioMP3 for an ID3 tag or an MPEG audio frame
// header, "" for anything else (raw PCM among it). Only the WAV answer is
// certain: raw PCM may begin with bytes that look like an MP3 header.
func Sniff(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return echogen.AudioWAV
	case bytes.HasPrefix(b, []byte("ID3")):
		return echogen.AudioMP3
	case len(b) >= 4 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		// Frame sync; then a version and layer that exist, and a bitrate
		// and sample rate index that are not "bad" or "reserved".
		version, layer := b[1]>>3&3, b[1]>>1&3
		bitrate, rate := b[2]>>4, b[2]>>2&3
		if version != 1 && layer != 0 && bitrate != 0 && bitrate != 15 && rate != 3 {
			return echogen.AudioMP3
		}
	}
	return ""
}

// WAV is a decoded WAV file.
type WAV struct {
	PCM        []byte // signed 16-bit little-endian samples, interleaved
	SampleRate int
	Channels   int
}

// DecodeWAV reads a 16-bit PCM WAV file. A data chunk whose size runs past
// the end, as streaming writers (espeak-ng, OpenAI) leave it, holds the
// rest of the file. PCM shares b's memory.
func DecodeWAV(b []byte) (*WAV, error) {
	if Sniff(b) != echogen.AudioWAV {
		return nil, errors.New("not a RIFF/WAVE file")
	}
	var w WAV
	var haveFmt bool
	for rest := b[12:]; len(rest) >= 8; {
		id, size := string(rest[:4]), binary.LittleEndian.Uint32(rest[4:8])
		rest = rest[8:]
		if uint64(size) > uint64(len(rest)) {
			size = uint32(len(rest))
		}
		body := rest[:size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errors.New("short fmt chunk")
			}
			format, bits := binary.LittleEndian.Uint16(body[0:2]), binary.LittleEndian.Uint16(body[14:16])
			if format == 0xFFFE && len(body) >= 26 { // WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes
				format = binary.LittleEndian.Uint16(body[24:26])
			}
			if format != 1 || bits != 16 {
				return nil, fmt.Errorf("WAV format %d with %d-bit samples, want 16-bit PCM", format, bits)
			}
			w.Channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.SampleRate = int(binary.LittleEndian.Uint32(body[4:8]))
			if w.Channels < 1 || w.SampleRate < 1 {
				return nil, errors.New("WAV with no channels or no sample rate")
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("WAV data before its fmt chunk")
			}
			frame := 2 * w.Channels
			w.PCM = body[:len(body)/frame*frame]
			return &w, nil
		}
		rest = rest[min(int(size)+int(size&1), len(rest)):] // chunks are padded to even sizes
	}
	return nil, errors.New("WAV without a data chunk")
}

// EncodeWAV wraps 16-bit PCM in a 44-byte WAV header.
func EncodeWAV(pcm []byte, sampleRate, channels int) []byte {
	out := make([]byte, 44, 44+len(pcm))
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+len(pcm)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1) // PCM
	binary.LittleEndian.PutUint16(out[22:], uint16(channels))
	binary.LittleEndian.PutUint32(out[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(out[28:], uint32(sampleRate*channels*2))
	binary.LittleEndian.PutUint16(out[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(len(pcm)))
	return append(out, pcm...)
}

// Join joins the audio of a text's pieces, in order, into one answer. One
// piece is returned as it is. PCM and WAV pieces become PCM, which needs
// the same rate and channels throughout; MP3 pieces are laid end to end,
// since an MP3 stream is a run of frames. Characters is left to the
// caller.
func Join(parts []*echogen.SpeechAudio) (*echogen.SpeechAudio, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	out := &echogen.SpeechAudio{}
	for i, p := range parts {
		if i == 0 && p.Format == echogen.AudioMP3 {
			out.Format = echogen.AudioMP3
		}
		if (p.Format == echogen.AudioMP3) != (out.Format == echogen.AudioMP3) {
			return nil, fmt.Errorf("piece %d is %s, piece 1 %s", i+1, p.Format, parts[0].Format)
		}
		if p.Format == echogen.AudioMP3 {
			out.Data = append(out.Data, p.Data...)
			continue
		}
		pcm := WAV{PCM: p.Data, SampleRate: p.SampleRate, Channels: p.Channels}
		switch p.Format {
		case echogen.AudioWAV:
			w, err := DecodeWAV(p.Data)
			if err != nil {
				return nil, fmt.Errorf("piece %d: %w", i+1, err)
			}
			pcm = *w
		case echogen.AudioPCM:
		default:
			return nil, fmt.Errorf("piece %d is in an unknown format %q", i+1, p.Format)
		}
		if i == 0 {
			out.Format, out.SampleRate, out.Channels = echogen.AudioPCM, pcm.SampleRate, pcm.Channels
		} else if pcm.SampleRate != out.SampleRate || pcm.Channels != out.Channels {
			return nil, fmt.Errorf("piece %d is %d Hz × %d, piece 1 %d Hz × %d", i+1, pcm.SampleRate, pcm.Channels, out.SampleRate, out.Channels)
		}
		out.Data = append(out.Data, pcm.PCM...)
	}
	return out, nil
}

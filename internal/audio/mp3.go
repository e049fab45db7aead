package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/hajimehoshi/go-mp3"
)

// decodeMP3 decodes an MP3 stream to mono samples and their rate.
func decodeMP3(data []byte) (samples []float32, rate int, err error) {
	// The decoder is third-party code fed untrusted bytes.
	defer func() {
		if r := recover(); r != nil {
			samples, rate, err = nil, 0, badAudio(fmt.Errorf("go-mp3 panicked: %v", r), "the provider's MP3 audio is corrupt")
		}
	}()
	// go-mp3 allocates the size a leading ID3v2 tag claims (its 4 size
	// bytes read without the synchsafe mask, up to 512 MiB) before reading
	// it: refuse a tag that claims more than the data holds.
	if len(data) >= id3HeaderSize && string(data[:3]) == "ID3" {
		claimed := int(data[6])<<21 | int(data[7])<<14 | int(data[8])<<7 | int(data[9])
		if claimed > len(data)-id3HeaderSize {
			return nil, 0, badAudio(nil, "the provider's MP3 audio cannot be decoded: its ID3 tag claims %d bytes, more than it holds", claimed)
		}
	}
	d, err := mp3.NewDecoder(bytes.NewReader(data))
	if err != nil {
		return nil, 0, badAudio(err, "the provider's MP3 audio cannot be decoded: %v", err)
	}
	rate = d.SampleRate()
	if rate < minRate || rate > maxRate {
		return nil, 0, badAudio(nil, "the provider's MP3 audio has an unsupported sample rate (%d Hz)", rate)
	}
	capacity := 0
	if n := d.Length(); n > 0 {
		capacity = int(n / 4)
	}
	samples = make([]float32, 0, capacity)
	buf := make([]byte, 16*1024)
	for {
		n, err := io.ReadFull(d, buf)
		// go-mp3 always writes 16-bit stereo, duplicating mono.
		for frame := buf[:n-n%4]; len(frame) > 0; frame = frame[4:] {
			l, r := int16(binary.LittleEndian.Uint16(frame)), int16(binary.LittleEndian.Uint16(frame[2:]))
			samples = append(samples, float32(int32(l)+int32(r))/(2<<15))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, 0, badAudio(err, "the provider's MP3 audio cannot be decoded: %v", err)
		}
	}
	return trimMP3Delay(data, samples), rate, nil
}

// mp3DecoderDelay is the delay of every MP3 decoder's synthesis filter
// bank, in samples: go-mp3's output starts this late, like the others'.
const mp3DecoderDelay = 529

// trimMP3Delay cuts from samples, decoded from the MP3 data, what comes
// before and after the encoder's input: the silent Info frame and the
// encoder's delay and padding its LAME tag records, or, without one, the
// decoder's delay alone, which is there whatever the encoder. Turn
// timings then match the speech.
func trimMP3Delay(data []byte, samples []float32) []float32 {
	start, end := mp3Padding(data)
	if start+end >= len(samples) {
		return samples[:0]
	}
	return samples[start : len(samples)-end]
}

// mp3Padding returns how many decoded samples of data precede and follow
// the encoder's input.
func mp3Padding(data []byte) (start, end int) {
	start = mp3DecoderDelay
	// Skip ID3v2 tags.
	for len(data) >= id3HeaderSize && string(data[:3]) == "ID3" {
		size := id3HeaderSize + (int(data[6]&0x7F)<<21 | int(data[7]&0x7F)<<14 | int(data[8]&0x7F)<<7 | int(data[9]&0x7F))
		if data[3] == 4 && data[5]&0x10 != 0 {
			size += id3HeaderSize
		}
		data = data[min(size, len(data)):]
	}
	if len(data) < 4 || data[0] != 0xFF || data[1]&0xE0 != 0xE0 {
		return start, 0
	}
	// The Info (or Xing) tag follows the first frame's side information,
	// whose size depends on the MPEG version and the channel mode.
	mpeg1, mono := data[1]&0x18 == 0x18, data[3]&0xC0 == 0xC0
	frameSamples, side := 576, 17
	switch {
	case mpeg1 && mono:
		frameSamples = 1152
	case mpeg1:
		frameSamples, side = 1152, 32
	case mono:
		side = 9
	}
	at := 4 + side
	if data[1]&1 == 0 {
		at += 2 // a CRC follows the header
	}
	if len(data) < at+8 || (string(data[at:at+4]) != "Info" && string(data[at:at+4]) != "Xing") {
		return start, 0
	}
	// The tag's frame decodes to silence.
	start += frameSamples
	flags := binary.BigEndian.Uint32(data[at+4:])
	at += 8
	for _, field := range []struct {
		flag uint32
		size int
	}{{1, 4}, {2, 4}, {4, 100}, {8, 4}} { // frames, bytes, seek table, quality
		if flags&field.flag != 0 {
			at += field.size
		}
	}
	// The LAME extension, which ffmpeg writes too: an encoder's name, and
	// 21 bytes in, 12 bits of encoder delay, then 12 of padding.
	const delayAt = 21
	if len(data) < at+delayAt+3 || !slices.Contains([]string{"LAME", "Lavc", "Lavf"}, string(data[at:at+4])) {
		return start, 0
	}
	d := data[at+delayAt:]
	delay, padding := int(d[0])<<4|int(d[1])>>4, int(d[1]&0x0F)<<8|int(d[2])
	return start + delay, max(padding-mp3DecoderDelay, 0)
}

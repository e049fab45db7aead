package speech_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/speech"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		limit int
		size  func(string) int
		want  []string
	}{
		{"fits", "  One. Two!  ", 20, speech.Runes, []string{"One. Two!"}},
		{"empty", " \n\t ", 20, speech.Runes, nil},
		{"sentences packed", "One one. Two two? Three three! Four.", 18, speech.Runes,
			[]string{"One one. Two two?", "Three three! Four."}},
		{"closing quotes stay", `He said "stop." Then left.`, 16, speech.Runes, []string{`He said "stop."`, "Then left."}},
		{"decimals and abbreviations", "Pi is 3.14 today. OK", 12, speech.Runes, []string{"Pi is 3.14", "today. OK"}},
		{"line breaks end sentences", "no stop here\nnext line", 15, speech.Runes, []string{"no stop here", "next line"}},
		{"CJK marks need no space", "你好。再见！谢谢", 3, speech.Runes, []string{"你好。", "再见！", "谢谢"}},
		{"long sentence between words", "aaa bbb ccc ddd", 7, speech.Runes, []string{"aaa bbb", "ccc ddd"}},
		{"long word between characters", "abcdefgh", 3, speech.Runes, []string{"abc", "def", "gh"}},
		{"bytes keep runes whole", "ééé", 4, speech.Bytes, []string{"éé", "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := speech.Split(tt.text, tt.limit, tt.size)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Split (-want +got):\n%s", d)
			}
			for _, p := range got {
				if tt.size(p) > tt.limit {
					t.Errorf("piece %q is over %d", p, tt.limit)
				}
			}
		})
	}
}

// TestSplitKeepsText: the pieces hold every word of a long text, in order.
func TestSplitKeepsText(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. Or does it? ", 200)
	pieces := speech.Split(text, 4096, speech.Runes)
	if len(pieces) != 3 {
		t.Errorf("%d pieces, want 3", len(pieces))
	}
	if got, want := strings.Fields(strings.Join(pieces, " ")), strings.Fields(text); !cmp.Equal(got, want) {
		t.Error("the pieces do not hold the text's words in order")
	}
	for _, p := range pieces {
		if !strings.HasSuffix(p, "?") && !strings.HasSuffix(p, ".") {
			t.Errorf("piece ends mid-sentence: …%q", p[len(p)-20:])
		}
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	text := "A: one.\nB: two two.\nA: " + strings.Repeat("x", 30) + "\nB: end."
	want := []string{"A: one.\nB: two two.", "A: " + strings.Repeat("x", 30), "B: end."}
	if d := cmp.Diff(want, speech.Lines(text, 25, speech.Bytes)); d != "" {
		t.Errorf("Lines (-want +got):\n%s", d)
	}
}

// pcmOf is n mono samples counting up from 1.
func pcmOf(n int) []byte {
	b := make([]byte, 2*n)
	for i := range n {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(i+1))
	}
	return b
}

func TestWAV(t *testing.T) {
	t.Parallel()
	pcm := pcmOf(100)
	wav := speech.EncodeWAV(pcm, 22050, 1)
	if len(wav) != 44+len(pcm) || speech.Sniff(wav) != echogen.AudioWAV {
		t.Fatalf("EncodeWAV: %d bytes, sniffed %q", len(wav), speech.Sniff(wav))
	}
	check := func(name string, b []byte, wantPCM []byte, rate, channels int) {
		t.Helper()
		w, err := speech.DecodeWAV(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(w.PCM, wantPCM) || w.SampleRate != rate || w.Channels != channels {
			t.Errorf("%s: %d bytes at %d Hz × %d, want %d at %d × %d", name, len(w.PCM), w.SampleRate, w.Channels, len(wantPCM), rate, channels)
		}
	}
	check("canonical", wav, pcm, 22050, 1)

	// Streaming writers leave both sizes at "unknown".
	streaming := bytes.Clone(wav)
	binary.LittleEndian.PutUint32(streaming[4:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(streaming[40:], 0xFFFFFFFF)
	check("streaming sizes", streaming, pcm, 22050, 1)

	// A LIST chunk of odd size (padded) before the data, and stereo.
	odd := append([]byte{}, wav[:36]...)
	binary.LittleEndian.PutUint16(odd[22:], 2)
	odd = append(odd, "LIST\x03\x00\x00\x00abc\x00"...)
	odd = append(odd, wav[36:]...)
	check("extra chunk", odd, pcm, 22050, 2)

	// WAVE_FORMAT_EXTENSIBLE with a PCM subformat.
	ext := append([]byte{}, wav[:12]...)
	ext = append(ext, "fmt \x28\x00\x00\x00"...)
	fmtBody := make([]byte, 40)
	copy(fmtBody, wav[20:36])
	binary.LittleEndian.PutUint16(fmtBody[0:], 0xFFFE)
	binary.LittleEndian.PutUint16(fmtBody[24:], 1)
	ext = append(append(ext, fmtBody...), wav[36:]...)
	check("extensible", ext, pcm, 22050, 1)

	float := bytes.Clone(wav)
	binary.LittleEndian.PutUint16(float[20:], 3)
	binary.LittleEndian.PutUint16(float[34:], 32)
	for name, b := range map[string][]byte{"float": float, "no data": wav[:36], "not RIFF": pcm, "empty": nil} {
		if _, err := speech.DecodeWAV(b); err == nil {
			t.Errorf("%s: DecodeWAV succeeded", name)
		}
	}
}

func TestSniff(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		b    []byte
		want string
	}{
		"wav":            {speech.EncodeWAV(pcmOf(4), 24000, 1), echogen.AudioWAV},
		"RIFF but AVI":   {[]byte("RIFF\x00\x00\x00\x00AVI LIST"), ""},
		"ID3":            {[]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), echogen.AudioMP3},
		"MPEG-1 layer 3": {[]byte{0xFF, 0xFB, 0x90, 0x64}, echogen.AudioMP3},
		"MPEG-2 layer 3": {[]byte{0xFF, 0xF3, 0x40, 0xC4}, echogen.AudioMP3},
		"bad bitrate":    {[]byte{0xFF, 0xFB, 0xF0, 0x64}, ""},
		"silence":        {make([]byte, 16), ""},
		"JSON":           {[]byte(`{"error":"x"}`), ""},
	}
	for name, tt := range tests {
		if got := speech.Sniff(tt.b); got != tt.want {
			t.Errorf("%s: Sniff = %q, want %q", name, got, tt.want)
		}
	}
}

func TestJoin(t *testing.T) {
	t.Parallel()
	a, b := pcmOf(3), pcmOf(5)
	pcm := func(d []byte, rate int) *echogen.SpeechAudio {
		return &echogen.SpeechAudio{Data: d, Format: echogen.AudioPCM, SampleRate: rate, Channels: 1}
	}
	wav := &echogen.SpeechAudio{Data: speech.EncodeWAV(b, 24000, 1), Format: echogen.AudioWAV}
	mp3 := &echogen.SpeechAudio{Data: []byte("ID3-a"), Format: echogen.AudioMP3}

	one := pcm(a, 16000)
	if got, err := speech.Join([]*echogen.SpeechAudio{one}); err != nil || got != one {
		t.Errorf("Join of one = %v, %v; want it back", got, err)
	}
	got, err := speech.Join([]*echogen.SpeechAudio{pcm(a, 24000), wav, pcm(a, 24000)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(pcm(append(append(bytes.Clone(a), b...), a...), 24000), got); d != "" {
		t.Errorf("PCM and WAV (-want +got):\n%s", d)
	}
	got, err = speech.Join([]*echogen.SpeechAudio{mp3, mp3})
	if err != nil || got.Format != echogen.AudioMP3 || string(got.Data) != "ID3-aID3-a" {
		t.Errorf("MP3s = %+v, %v", got, err)
	}
	for name, parts := range map[string][]*echogen.SpeechAudio{
		"rates differ":  {pcm(a, 24000), pcm(a, 22050)},
		"MP3 after PCM": {pcm(a, 24000), mp3},
		"PCM after MP3": {mp3, pcm(a, 24000)},
		"bad WAV":       {wav, {Data: []byte("RIFF"), Format: echogen.AudioWAV}},
		"unknown":       {wav, {Data: a, Format: "ogg"}},
	} {
		if _, err := speech.Join(parts); err == nil {
			t.Errorf("%s: Join succeeded", name)
		}
	}
}

func TestSay(t *testing.T) {
	pcm := func(n int) *echogen.SpeechAudio {
		return &echogen.SpeechAudio{Data: pcmOf(n), Format: echogen.AudioPCM, SampleRate: 24000, Channels: 1}
	}
	var said []string
	a, err := speech.Say("Acme", "Héllo. World.", []string{"Héllo.", "World."}, func(p string) (*echogen.SpeechAudio, error) {
		said = append(said, p)
		return pcm(10), nil
	})
	if err != nil || len(a.Data) != 2*len(pcmOf(10)) || a.Characters != 13 || strings.Join(said, "|") != "Héllo.|World." {
		t.Errorf("Say = %+v, %v; said %q", a, err, said)
	}
	if _, err := speech.Say("Acme", "", nil, nil); echogen.ErrorKind(err) != echogen.KindBadRequest || !strings.Contains(err.Error(), "Acme") {
		t.Errorf("no text: %v", err)
	}
	mixed := []*echogen.SpeechAudio{pcm(10), {Data: []byte("ID3"), Format: echogen.AudioMP3}}
	n := 0
	if _, err := speech.Say("Acme", "a b", []string{"a", "b"}, func(string) (*echogen.SpeechAudio, error) { n++; return mixed[n-1], nil }); echogen.ErrorKind(err) != echogen.KindUnavailable {
		t.Errorf("pieces that cannot be joined: %v", err)
	}
	refused := echogen.Errorf(echogen.KindUnauthenticated, "x", "no")
	if _, err := speech.Say("Acme", "a", []string{"a"}, func(string) (*echogen.SpeechAudio, error) { return nil, refused }); err != refused {
		t.Errorf("a piece's error: %v", err)
	}
}

package gemini_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
	"github.com/echogen/server/internal/provider/ttstest"
)

const (
	speechKey   = "AIzaSyTEST-speech-key-123456"
	speechModel = "gemini-2.5-flash-preview-tts"
	speechText  = "Welcome back to the show. Today we talk about bridges."
)

func speechSetup(t *testing.T, answer func(ttstest.Request) ttstest.Reply) (*ttstest.Server, *gemini.Client) {
	t.Helper()
	s := ttstest.New(t, ttstest.Gemini, answer)
	return s, gemini.New(gemini.Options{HTTPClient: s.Client(), BaseURL: s.URL})
}

// checkSpeech wants 24 kHz mono PCM with at least 0.3 s of speech per
// word of text.
func checkSpeech(t *testing.T, a *echogen.SpeechAudio, text string) {
	t.Helper()
	if a.Format != echogen.AudioPCM || a.SampleRate != 24000 || a.Channels != 1 {
		t.Fatalf("audio is %q at %d Hz × %d, want PCM at 24000 × 1", a.Format, a.SampleRate, a.Channels)
	}
	if a.Characters != len([]rune(text)) {
		t.Errorf("Characters = %d, want %d", a.Characters, len([]rune(text)))
	}
	words := len(strings.Fields(text))
	if got, want := float64(len(a.Data))/48000, 0.3*float64(words); got < want {
		t.Errorf("%.2f s of speech for %d words, want at least %.2f s", got, words, want)
	}
}

func TestSynthesizeRequest(t *testing.T) {
	t.Parallel()
	conversation := "Ann: Hi Bob, what is new?\nBob: Bridges, Ann. Lots of bridges."
	tests := []struct {
		name     string
		req      echogen.SpeechRequest
		wantBody string
		want     ttstest.Request
	}{
		{
			name: "one voice with a tone and a language",
			req:  echogen.SpeechRequest{Model: speechModel, Voice: "Kore", Text: speechText, Tone: "warmly:", Language: "fr"},
			wantBody: `{"contents":[{"parts":[{"text":"Say warmly: ` + speechText + `"}],"role":"user"}],"generationConfig":{"responseModalities":["AUDIO"],
				"speechConfig":{"languageCode":"fr-FR","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}`,
			want: ttstest.Request{Wire: ttstest.Gemini, Model: speechModel, APIKey: speechKey, Voice: "Kore", Text: "Say warmly: " + speechText, Language: "fr-FR"},
		},
		{
			name:     "Gemini's voice and language",
			req:      echogen.SpeechRequest{Model: "models/" + speechModel, Text: speechText, Settings: map[string]float64{"speed": 2}},
			wantBody: `{"contents":[{"parts":[{"text":"` + speechText + `"}],"role":"user"}],"generationConfig":{"responseModalities":["AUDIO"]}}`,
			want:     ttstest.Request{Wire: ttstest.Gemini, Model: speechModel, APIKey: speechKey, Text: speechText},
		},
		{
			name: "two speakers",
			req: echogen.SpeechRequest{Model: speechModel, Text: conversation, Tone: "ignored", Language: "en-US",
				Speakers: []echogen.SpeakerVoice{{Speaker: "Ann", Voice: "Zephyr"}, {Speaker: "Bob", Voice: "Puck"}}},
			wantBody: `{"contents":[{"parts":[{"text":"TTS the following conversation between Ann and Bob:\n\nAnn: Hi Bob, what is new?\nBob: Bridges, Ann. Lots of bridges."}],"role":"user"}],
				"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"languageCode":"en-US","multiSpeakerVoiceConfig":{"speakerVoiceConfigs":[
				{"speaker":"Ann","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Zephyr"}}},{"speaker":"Bob","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Puck"}}}]}}}}`,
			want: ttstest.Request{Wire: ttstest.Gemini, Model: speechModel, APIKey: speechKey, Language: "en-US",
				Text:     "TTS the following conversation between Ann and Bob:\n\n" + conversation,
				Speakers: []echogen.SpeakerVoice{{Speaker: "Ann", Voice: "Zephyr"}, {Speaker: "Bob", Voice: "Puck"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, nil)
			got, err := c.Synthesize(context.Background(), speechKey, tt.req)
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			checkSpeech(t, got, tt.req.Text)
			s.CheckRequest(t, tt.want, tt.wantBody)
		})
	}
}

// TestSynthesizeLanguage: a BCP 47 tag becomes one of the languageCode
// values Gemini takes, or none.
func TestSynthesizeLanguage(t *testing.T) {
	t.Parallel()
	s, c := speechSetup(t, nil)
	tags := map[string]string{"fr": "fr-FR", "en-GB": "en-US", "en-in": "en-IN", "pt_PT": "pt-BR", "zh-TW": "zh-CN", "ja-JP": "ja-JP", "sw": "", "": ""}
	for tag := range tags {
		if _, err := c.Synthesize(context.Background(), speechKey, echogen.SpeechRequest{Model: speechModel, Voice: "Kore", Text: tag + ".", Language: tag}); err != nil {
			t.Fatalf("%q: %v", tag, err)
		}
	}
	for _, r := range s.Requests() {
		if tag := strings.TrimSuffix(r.Text, "."); r.Language != tags[tag] {
			t.Errorf("%q sent as %q, want %q", tag, r.Language, tags[tag])
		}
	}
}

func TestSynthesizeSplit(t *testing.T) {
	t.Parallel()
	const prefix = "TTS the following conversation between Ann and Bob:\n\n"
	var conversation strings.Builder
	for i := range 120 {
		fmt.Fprintf(&conversation, "%s: Line %d is a short one. It has two sentences.\n", []string{"Ann", "Bob"}[i%2], i)
	}
	tests := []struct {
		name   string
		req    echogen.SpeechRequest
		prefix string
	}{
		{"one voice, at sentence ends", echogen.SpeechRequest{Model: speechModel, Voice: "Kore", Tone: "calmly",
			Text: strings.Repeat("Ann reads a short line. ", 220)}, "Say calmly: "},
		{"two speakers, at line ends", echogen.SpeechRequest{Model: speechModel, Text: conversation.String(),
			Speakers: []echogen.SpeakerVoice{{Speaker: "Ann", Voice: "Kore"}, {Speaker: "Bob", Voice: "Puck"}}}, prefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Each piece is answered with the same short sentence, so the
			// joined audio is that sentence twice.
			const say = "This piece is short."
			s, c := speechSetup(t, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{Say: say} })
			got, err := c.Synthesize(context.Background(), speechKey, tt.req)
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			if got.Format != echogen.AudioPCM || got.SampleRate != 24000 || got.Characters != len(tt.req.Text) {
				t.Errorf("audio is %q at %d Hz for %d characters, want PCM at 24000 for %d", got.Format, got.SampleRate, got.Characters, len(tt.req.Text))
			}
			half := len(got.Data) / 2
			if float64(half)/48000 < 0.3*4 || !bytes.Equal(got.Data[:half], got.Data[half:]) {
				t.Errorf("%d bytes of audio are not %q said twice", len(got.Data), say)
			}
			reqs := s.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			var pieces []string
			for _, r := range reqs {
				piece, ok := strings.CutPrefix(r.Text, tt.prefix)
				if !ok || len(piece) > 5000 {
					t.Errorf("a piece of %d bytes starts %q, want at most 5000 after %q", len(piece), r.Text[:20], tt.prefix)
				}
				if len(tt.req.Speakers) == 2 {
					for _, line := range strings.Split(piece, "\n") {
						if !strings.HasPrefix(line, "Ann: ") && !strings.HasPrefix(line, "Bob: ") || !strings.HasSuffix(line, "sentences.") {
							t.Errorf("line %q is not whole", line)
						}
					}
				}
				pieces = append(pieces, piece)
			}
			sep := map[bool]string{true: "\n", false: " "}[len(tt.req.Speakers) == 2]
			if strings.Join(pieces, sep) != strings.TrimSpace(tt.req.Text) {
				t.Error("the pieces are not the text")
			}
		})
	}
}

// checkSpeechErr is standin.CheckErr wanting speechKey nowhere in the
// error.
func checkSpeechErr(t *testing.T, err error, want standin.WantErr) {
	t.Helper()
	want.NotContaining = speechKey
	standin.CheckErr(t, err, want)
}

func TestSynthesizeErrors(t *testing.T) {
	t.Parallel()
	candidate := func(part, finish string) string {
		return `{"candidates":[{"content":{"role":"model","parts":[` + part + `]},"finishReason":"` + finish + `","index":0}]}`
	}
	tests := []struct {
		name  string
		reply ttstest.Reply
		want  standin.WantErr
	}{
		{"401", ttstest.Reply{Status: 401, Message: "Request had invalid authentication credentials."},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "invalid authentication credentials"}},
		{"403", ttstest.Reply{Status: 403, Message: "Permission denied on the project."},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Permission denied"}},
		{"400 API key not valid", ttstest.Reply{Status: 400, Message: "API key not valid. Please pass a valid API key."},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "API key not valid"}},
		{"429 with Retry-After", ttstest.Reply{Status: 429, Message: "You exceeded your current quota.", RetryAfter: "7"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "exceeded your current quota", RetryAfter: 7 * time.Second}},
		{"500", ttstest.Reply{Status: 500, Message: "An internal error has occurred."},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "An internal error"}},
		{"502 HTML page", ttstest.Reply{Status: 502, Raw: "<html><body>Bad gateway</body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "HTTP 502"}},
		{"400 echoing the key", ttstest.Reply{Status: 400, Message: "voice Kore unknown for " + speechKey},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "voice Kore unknown for [redacted]"}},
		{"malformed JSON", ttstest.Reply{Raw: `{"candidates":[{"content":`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not the JSON"}},
		{"text instead of audio", ttstest.Reply{Raw: candidate(`{"text":"I cannot say that."}`, "OTHER")},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "sent no audio (finish reason other)"}},
		{"blocked prompt", ttstest.Reply{Raw: `{"promptFeedback":{"blockReason":"SAFETY"}}`},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRefused, Message: "blocked by Gemini: the prompt (SAFETY)"}},
		{"audio we cannot read", ttstest.Reply{Raw: candidate(`{"inlineData":{"mimeType":"audio/ogg","data":"T2dnUw=="}}`, "STOP")},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: `"audio/ogg"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, func(ttstest.Request) ttstest.Reply { return tt.reply })
			got, err := c.Synthesize(context.Background(), speechKey, echogen.SpeechRequest{Model: speechModel, Voice: "Kore", Text: speechText})
			checkSpeechErr(t, err, tt.want)
			if got != nil || s.Calls() != 1 {
				t.Errorf("answer %v after %d calls, want nil after 1", got, s.Calls())
			}
		})
	}
}

// TestSynthesizeAnswerTypes: PCM at another rate, and a WAV, are read
// for what they are.
func TestSynthesizeAnswerTypes(t *testing.T) {
	t.Parallel()
	answer := func(mime, data string) ttstest.Reply {
		return ttstest.Reply{Raw: `{"candidates":[{"content":{"role":"model","parts":[{"inlineData":{"mimeType":"` + mime + `","data":"` + data + `"}}]},"finishReason":"STOP"}]}`}
	}
	tests := []struct {
		reply ttstest.Reply
		want  *echogen.SpeechAudio
	}{
		{answer("audio/L16;codec=pcm;rate=16000", "AQACAAMA"), &echogen.SpeechAudio{Data: []byte{1, 0, 2, 0, 3, 0}, Format: echogen.AudioPCM, SampleRate: 16000, Channels: 1, Characters: 3}},
		{answer("audio/pcm", "AQACAAM="), &echogen.SpeechAudio{Data: []byte{1, 0, 2, 0}, Format: echogen.AudioPCM, SampleRate: 24000, Channels: 1, Characters: 3}},
		{answer("audio/wav", "UklGRgAAAABXQVZF"), &echogen.SpeechAudio{Data: []byte("RIFF\x00\x00\x00\x00WAVE"), Format: echogen.AudioWAV, Characters: 3}},
	}
	for _, tt := range tests {
		_, c := speechSetup(t, func(ttstest.Request) ttstest.Reply { return tt.reply })
		got, err := c.Synthesize(context.Background(), speechKey, echogen.SpeechRequest{Model: speechModel, Text: "Hi."})
		if err != nil {
			t.Fatalf("Synthesize: %v", err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("audio (-want +got):\n%s", d)
		}
	}
}

func TestSynthesizeInvalid(t *testing.T) {
	t.Parallel()
	two := func(a, b echogen.SpeakerVoice) []echogen.SpeakerVoice { return []echogen.SpeakerVoice{a, b} }
	tests := []struct {
		name string
		key  string
		req  echogen.SpeechRequest
		want string
	}{
		{"no key", "", echogen.SpeechRequest{Model: speechModel, Text: "hi"}, "no Gemini API key"},
		{"no model", speechKey, echogen.SpeechRequest{Text: "hi"}, "no model"},
		{"blank text", speechKey, echogen.SpeechRequest{Model: speechModel, Text: "\n \n"}, "no text"},
		{"one speaker", speechKey, echogen.SpeechRequest{Model: speechModel, Text: "A: hi", Speakers: []echogen.SpeakerVoice{{Speaker: "A", Voice: "Kore"}}}, "not 1"},
		{"three speakers", speechKey, echogen.SpeechRequest{Model: speechModel, Text: "A: hi", Speakers: make([]echogen.SpeakerVoice, 3)}, "not 3"},
		{"same names", speechKey, echogen.SpeechRequest{Model: speechModel, Text: "A: hi", Speakers: two(echogen.SpeakerVoice{Speaker: "A", Voice: "Kore"}, echogen.SpeakerVoice{Speaker: "A", Voice: "Puck"})}, "different names"},
		{"a speaker without a voice", speechKey, echogen.SpeechRequest{Model: speechModel, Text: "A: hi", Speakers: two(echogen.SpeakerVoice{Speaker: "A", Voice: "Kore"}, echogen.SpeakerVoice{Speaker: "B"})}, "a name and a voice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, nil)
			_, err := c.Synthesize(context.Background(), tt.key, tt.req)
			checkSpeechErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.want})
			if s.Calls() != 0 {
				t.Errorf("%d calls, want 0", s.Calls())
			}
		})
	}
}

// TestSynthesizeCanceled: a call in flight ends when its context does.
func TestSynthesizeCanceled(t *testing.T) {
	t.Parallel()
	arrived, never := make(chan struct{}), make(chan struct{})
	s, c := speechSetup(t, func(ttstest.Request) ttstest.Reply {
		close(arrived)
		return ttstest.Reply{Hold: never}
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Synthesize(ctx, speechKey, echogen.SpeechRequest{Model: speechModel, Voice: "Kore", Text: speechText})
	checkSpeechErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled, Message: "canceled"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if s.Calls() != 1 {
		t.Errorf("%d calls, want 1", s.Calls())
	}
}

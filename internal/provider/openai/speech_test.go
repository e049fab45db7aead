package openai_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/speech"
	"github.com/echogen/server/internal/provider/standin"
	"github.com/echogen/server/internal/provider/ttstest"
	"github.com/echogen/server/internal/testenv"
)

const speechText = "Welcome back to the show. Today we talk about bridges."

// speechSetup starts a stand-in and a client of kind pointed at it; the
// requests' BaseURL must be s.URL.
func speechSetup(t *testing.T, kind func(openai.Options) *openai.Client, answer func(ttstest.Request) ttstest.Reply) (*ttstest.Server, *openai.Client) {
	t.Helper()
	s := ttstest.New(t, ttstest.OpenAI, answer)
	return s, kind(openai.Options{HTTPClient: s.Client()})
}

// speechSeconds is the length of PCM or WAV audio.
func speechSeconds(t *testing.T, a *echogen.SpeechAudio) float64 {
	t.Helper()
	pcm, rate, channels := a.Data, a.SampleRate, a.Channels
	if a.Format == echogen.AudioWAV {
		w, err := speech.DecodeWAV(a.Data)
		if err != nil {
			t.Fatalf("the WAV does not decode: %v", err)
		}
		pcm, rate, channels = w.PCM, w.SampleRate, w.Channels
	}
	return float64(len(pcm)) / float64(2*rate*channels)
}

// checkSpeechLength wants at least 0.3 s of speech per word of text.
func checkSpeechLength(t *testing.T, a *echogen.SpeechAudio, text string) {
	t.Helper()
	if got, want := speechSeconds(t, a), 0.3*float64(len(strings.Fields(text))); got < want {
		t.Errorf("%.2f s of speech for %d words, want at least %.2f s", got, len(strings.Fields(text)), want)
	}
}

func TestSynthesizeRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		kind     func(openai.Options) *openai.Client
		req      echogen.SpeechRequest
		wantBody string
		want     ttstest.Request
		format   string
	}{
		{
			name: "OpenAI: PCM, instructions and speed", kind: openai.NewOpenAI,
			req:      echogen.SpeechRequest{Model: "gpt-4o-mini-tts", Voice: "alloy", Text: speechText, Tone: " warmly ", Settings: map[string]float64{"speed": 1.25, "pitch": 3}},
			wantBody: `{"input":"` + speechText + `","model":"gpt-4o-mini-tts","voice":"alloy","instructions":"warmly","response_format":"pcm","speed":1.25}`,
			want: ttstest.Request{Wire: ttstest.OpenAI, Model: "gpt-4o-mini-tts", APIKey: testKey, Voice: "alloy", Text: speechText, Tone: "warmly",
				Settings: map[string]float64{"speed": 1.25}, Format: "pcm"},
			format: echogen.AudioPCM,
		},
		{
			name: "OpenAI: a dated gpt-4o-mini-tts takes instructions", kind: openai.NewOpenAI,
			req:      echogen.SpeechRequest{Model: "gpt-4o-mini-tts-2025-12-15", Voice: "coral", Text: speechText, Tone: "calmly"},
			wantBody: `{"input":"` + speechText + `","model":"gpt-4o-mini-tts-2025-12-15","voice":"coral","instructions":"calmly","response_format":"pcm"}`,
			want:     ttstest.Request{Wire: ttstest.OpenAI, Model: "gpt-4o-mini-tts-2025-12-15", APIKey: testKey, Voice: "coral", Text: speechText, Tone: "calmly", Format: "pcm"},
			format:   echogen.AudioPCM,
		},
		{
			name: "OpenAI: tts-1 gets no instructions, speed held to 4", kind: openai.NewOpenAI,
			req:      echogen.SpeechRequest{Model: "tts-1", Voice: "onyx", Text: speechText, Tone: "warmly", Settings: map[string]float64{"speed": 9}},
			wantBody: `{"input":"` + speechText + `","model":"tts-1","voice":"onyx","response_format":"pcm","speed":4}`,
			want:     ttstest.Request{Wire: ttstest.OpenAI, Model: "tts-1", APIKey: testKey, Voice: "onyx", Text: speechText, Settings: map[string]float64{"speed": 4}, Format: "pcm"},
			format:   echogen.AudioPCM,
		},
		{
			name: "compatible server: WAV", kind: openai.NewCompatible,
			req:      echogen.SpeechRequest{Model: "kokoro", Voice: "af_bella", Text: speechText, Tone: "warmly"},
			wantBody: `{"input":"` + speechText + `","model":"kokoro","voice":"af_bella","response_format":"wav"}`,
			want:     ttstest.Request{Wire: ttstest.OpenAI, Model: "kokoro", APIKey: testKey, Voice: "af_bella", Text: speechText, Format: "wav"},
			format:   echogen.AudioWAV,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, tt.kind, nil)
			req := tt.req
			req.BaseURL = s.URL
			got, err := c.Synthesize(context.Background(), testKey, req)
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			s.CheckRequest(t, tt.want, tt.wantBody)
			if got.Format != tt.format || got.Characters != len(speechText) {
				t.Errorf("Format, Characters = %q, %d; want %q, %d", got.Format, got.Characters, tt.format, len(speechText))
			}
			if got.Format == echogen.AudioPCM && (got.SampleRate != 24000 || got.Channels != 1) {
				t.Errorf("PCM at %d Hz × %d, want 24000 × 1", got.SampleRate, got.Channels)
			}
			checkSpeechLength(t, got, speechText)
		})
	}
}

// longText is over OpenAI's 4096 characters: 180 sentences of 24.
var longText = strings.Repeat("Ann reads a short line. ", 180)

func TestSynthesizeSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   func(openai.Options) *openai.Client
		reply  ttstest.Reply
		format string
	}{
		{"PCM pieces", openai.NewOpenAI, ttstest.Reply{}, echogen.AudioPCM},
		{"WAV pieces become PCM", openai.NewCompatible, ttstest.Reply{}, echogen.AudioPCM},
		{"MP3 pieces", openai.NewCompatible, ttstest.Reply{Format: "mp3"}, echogen.AudioMP3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.format == echogen.AudioMP3 {
				testenv.RequireTool(t, "lame", "lame")
			}
			// Each piece is answered with the same short sentence, so the
			// joined audio is that sentence twice.
			const say = "This piece is short."
			reply := tt.reply
			reply.Say = say
			s, c := speechSetup(t, tt.kind, func(ttstest.Request) ttstest.Reply { return reply })
			got, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: longText, BaseURL: s.URL})
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			reqs := s.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			var sent []string
			for _, r := range reqs {
				if n := len([]rune(r.Text)); n > 4096 || !strings.HasSuffix(r.Text, "line.") {
					t.Errorf("a piece of %d characters ends %q", n, r.Text[len(r.Text)-10:])
				}
				sent = append(sent, r.Text)
			}
			if strings.Join(sent, " ") != strings.TrimSpace(longText) {
				t.Error("the pieces are not the text")
			}
			if got.Format != tt.format || got.Characters != len(longText) {
				t.Errorf("Format, Characters = %q, %d; want %q, %d", got.Format, got.Characters, tt.format, len(longText))
			}
			half := len(got.Data) / 2
			if !bytes.Equal(got.Data[:half], got.Data[half:]) || speech.Sniff(got.Data[half:]) != speech.Sniff(got.Data) {
				t.Errorf("%d bytes of audio are not %q said twice", len(got.Data), say)
			}
			if got.Format == echogen.AudioMP3 {
				return
			}
			if got.SampleRate != 24000 || got.Channels != 1 {
				t.Errorf("PCM at %d Hz × %d, want 24000 × 1", got.SampleRate, got.Channels)
			}
			checkSpeechLength(t, got, say+" "+say)
		})
	}
}

// TestSynthesizeAnswerFormats: a compatible server's answer is read for
// what it is, whatever was asked.
func TestSynthesizeAnswerFormats(t *testing.T) {
	t.Parallel()
	testenv.RequireTool(t, "lame", "lame")
	tests := []struct {
		name  string
		kind  func(openai.Options) *openai.Client
		reply string
		want  string
	}{
		{"MP3 to a WAV request", openai.NewCompatible, "mp3", echogen.AudioMP3},
		{"WAV to a PCM request", openai.NewOpenAI, "wav", echogen.AudioWAV},
		{"PCM to a WAV request", openai.NewCompatible, "pcm", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, tt.kind, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{Format: tt.reply} })
			got, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: speechText, BaseURL: s.URL})
			if tt.want == "" {
				checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "neither WAV nor MP3"})
				return
			}
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			if got.Format != tt.want {
				t.Errorf("Format = %q, want %q", got.Format, tt.want)
			}
		})
	}
}

func TestSynthesizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  func(openai.Options) *openai.Client
		reply ttstest.Reply
		want  standin.WantErr
	}{
		{"401", openai.NewOpenAI, ttstest.Reply{Status: 401, Message: "Incorrect API key provided: sk-test****cdef."},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Incorrect API key provided"}},
		{"403", openai.NewOpenAI, ttstest.Reply{Status: 403, Message: "Project does not have access to model tts-1"},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "does not have access"}},
		{"429 with Retry-After", openai.NewOpenAI, ttstest.Reply{Status: 429, Message: "Rate limit reached for tts-1", RetryAfter: "12"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "Rate limit reached", RetryAfter: 12 * time.Second}},
		{"500", openai.NewOpenAI, ttstest.Reply{Status: 500, Message: "The server had an error"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "The server had an error"}},
		{"502 HTML page", openai.NewCompatible, ttstest.Reply{Status: 502, Raw: "<html><body>Bad gateway</body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "HTTP 502"}},
		{"400 echoing the key", openai.NewOpenAI, ttstest.Reply{Status: 400, Message: "voice not found for key " + testKey},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "voice not found for key [redacted]"}},
		{"JSON instead of audio", openai.NewOpenAI, ttstest.Reply{Raw: `{"object":"audio","data":`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "application/json instead of audio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, tt.kind, func(ttstest.Request) ttstest.Reply { return tt.reply })
			got, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: speechText, BaseURL: s.URL})
			checkErr(t, err, tt.want)
			if got != nil || s.Calls() != 1 {
				t.Errorf("answer %v after %d calls, want nil after 1", got, s.Calls())
			}
		})
	}
}

func TestSynthesizeInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   func(openai.Options) *openai.Client
		req    echogen.SpeechRequest
		noBase bool
		want   string
	}{
		{"no model", openai.NewOpenAI, echogen.SpeechRequest{Voice: "nova", Text: "hi"}, false, "no model"},
		{"no voice", openai.NewOpenAI, echogen.SpeechRequest{Model: "tts-1", Text: "hi"}, false, "no voice"},
		{"blank text", openai.NewOpenAI, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: " \n "}, false, "no text"},
		{"compatible server without a base URL", openai.NewCompatible, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: "hi"}, true, "base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := speechSetup(t, tt.kind, nil)
			if !tt.noBase {
				tt.req.BaseURL = s.URL
			}
			_, err := c.Synthesize(context.Background(), testKey, tt.req)
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.want})
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
	s, c := speechSetup(t, openai.NewOpenAI, func(ttstest.Request) ttstest.Reply {
		close(arrived)
		return ttstest.Reply{Hold: never}
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Synthesize(ctx, testKey, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: speechText, BaseURL: s.URL})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled})
	if !errorsIs(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestSynthesizeTimeout(t *testing.T) {
	t.Parallel()
	never := make(chan struct{})
	s := ttstest.New(t, ttstest.OpenAI, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{Hold: never} })
	c := openai.NewOpenAI(openai.Options{HTTPClient: s.Client(), Timeout: 50 * time.Millisecond})
	_, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Model: "tts-1", Voice: "nova", Text: speechText, BaseURL: s.URL})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout, Message: "did not answer in time"})
}

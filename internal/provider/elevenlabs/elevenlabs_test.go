package elevenlabs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/elevenlabs"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
	"github.com/echogen/server/internal/provider/ttstest"
)

const (
	testKey = "sk_elevenlabs_SECRET_0123456789"
	text    = "Welcome back to the show. Today we talk about bridges."
)

var rachel = ttstest.DefaultVoices()[0].ID

func setup(t *testing.T, answer func(ttstest.Request) ttstest.Reply) (*ttstest.Server, *elevenlabs.Client) {
	t.Helper()
	s := ttstest.New(t, ttstest.ElevenLabs, answer)
	return s, elevenlabs.New(elevenlabs.Options{HTTPClient: s.Client(), BaseURL: s.URL + "/"})
}

func TestSynthesize(t *testing.T) {
	t.Parallel()
	all := map[string]float64{"stability": 0.4, "similarity_boost": 0.8, "style": 0, "use_speaker_boost": 1, "speed": 1.1, "pitch": 40}
	tests := []struct {
		name     string
		req      echogen.SpeechRequest
		wantBody string
		want     ttstest.Request
	}{
		{
			name:     "defaults",
			req:      echogen.SpeechRequest{Voice: rachel, Text: text, Tone: "warmly", Language: "en-US"},
			wantBody: `{"text":"` + text + `","model_id":"eleven_multilingual_v2"}`,
			want:     ttstest.Request{Wire: ttstest.ElevenLabs, Model: "eleven_multilingual_v2", APIKey: testKey, Voice: rachel, Text: text, Format: "pcm_24000"},
		},
		{
			name: "language and every setting",
			req:  echogen.SpeechRequest{Model: "eleven_flash_v2_5", Voice: rachel, Text: text, Language: "fr-FR", Settings: all},
			wantBody: `{"text":"` + text + `","model_id":"eleven_flash_v2_5","language_code":"fr",
				"voice_settings":{"stability":0.4,"similarity_boost":0.8,"style":0,"use_speaker_boost":true,"speed":1.1}}`,
			want: ttstest.Request{Wire: ttstest.ElevenLabs, Model: "eleven_flash_v2_5", APIKey: testKey, Voice: rachel, Text: text, Language: "fr", Format: "pcm_24000",
				Settings: map[string]float64{"stability": 0.4, "similarity_boost": 0.8, "style": 0, "use_speaker_boost": 1, "speed": 1.1}},
		},
		{
			name:     "some settings, held to their ranges",
			req:      echogen.SpeechRequest{Model: "eleven_turbo_v2_5", Voice: rachel, Text: text, Settings: map[string]float64{"speed": 1.5, "style": -1, "use_speaker_boost": 0}},
			wantBody: `{"text":"` + text + `","model_id":"eleven_turbo_v2_5","voice_settings":{"style":0,"use_speaker_boost":false,"speed":1.2}}`,
			want: ttstest.Request{Wire: ttstest.ElevenLabs, Model: "eleven_turbo_v2_5", APIKey: testKey, Voice: rachel, Text: text, Format: "pcm_24000",
				Settings: map[string]float64{"speed": 1.2, "style": 0, "use_speaker_boost": 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t, nil)
			got, err := c.Synthesize(context.Background(), testKey, tt.req)
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			if got.Format != echogen.AudioPCM || got.SampleRate != 24000 || got.Channels != 1 || got.Characters != len(text) {
				t.Errorf("audio is %q at %d Hz × %d for %d characters", got.Format, got.SampleRate, got.Channels, got.Characters)
			}
			words := len(strings.Fields(text))
			if secs := float64(len(got.Data)) / 48000; secs < 0.3*float64(words) {
				t.Errorf("%.2f s of speech for %d words", secs, words)
			}
			s.CheckRequest(t, tt.want, tt.wantBody)
		})
	}
}

func TestSynthesizeSplit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Ann reads a short line. ", 220) // 5280 characters
	tests := []struct {
		model  string
		pieces int
	}{
		{"eleven_multilingual_v2", 2},
		{"eleven_flash_v2_5", 1},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			t.Parallel()
			// Each piece is answered with the same short sentence.
			const say = "This piece is short."
			s, c := setup(t, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{Say: say} })
			got, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Model: tt.model, Voice: rachel, Text: long})
			if err != nil {
				t.Fatalf("Synthesize: %v", err)
			}
			reqs := s.Requests()
			if len(reqs) != tt.pieces {
				t.Fatalf("%d requests, want %d", len(reqs), tt.pieces)
			}
			var sent []string
			for _, r := range reqs {
				if len(r.Text) > 5000 && tt.pieces > 1 {
					t.Errorf("a piece of %d characters", len(r.Text))
				}
				sent = append(sent, r.Text)
			}
			if strings.Join(sent, " ") != strings.TrimSpace(long) {
				t.Error("the pieces are not the text")
			}
			if got.Characters != len(long) {
				t.Errorf("Characters = %d, want %d", got.Characters, len(long))
			}
			if tt.pieces == 2 {
				if half := len(got.Data) / 2; !bytes.Equal(got.Data[:half], got.Data[half:]) {
					t.Error("the audio is not both pieces' audio joined")
				}
			}
		})
	}
}

func TestListVoices(t *testing.T) {
	t.Parallel()
	s, c := setup(t, nil)
	got, err := c.ListVoices(context.Background(), testKey)
	if err != nil {
		t.Fatalf("ListVoices: %v", err)
	}
	if d := cmp.Diff(ttstest.DefaultVoices(), got); d != "" {
		t.Errorf("voices (-want +got):\n%s", d)
	}
	if s.Calls() != 1 {
		t.Errorf("%d calls, want 1", s.Calls())
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"detail":{"status":"invalid_api_key","message":"Invalid API key: %s"}}`, r.Header.Get("xi-api-key"))
	}))
	defer srv.Close()
	_, err = elevenlabs.New(elevenlabs.Options{BaseURL: srv.URL}).ListVoices(context.Background(), testKey)
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Invalid API key: [redacted]"})
}

// checkErr is standin.CheckErr wanting testKey nowhere in the error.
func checkErr(t *testing.T, err error, want standin.WantErr) {
	t.Helper()
	want.NotContaining = testKey
	standin.CheckErr(t, err, want)
}

func TestSynthesizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		voice string
		reply ttstest.Reply
		want  standin.WantErr
	}{
		{"401 bad key", rachel, ttstest.Reply{Status: 401, Code: "invalid_api_key", Message: "Invalid API key"},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "ElevenLabs refused the API key: Invalid API key"}},
		{"401 out of quota", rachel, ttstest.Reply{Status: 401, Code: "quota_exceeded", Message: "This request exceeds your quota of 10000. You have 0 credits remaining."},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "This request exceeds your quota of 10000"}},
		{"403", rachel, ttstest.Reply{Status: 403, Code: "missing_permissions", Message: "The API key does not have the permission text_to_speech"},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "does not have the permission"}},
		{"429 with Retry-After", rachel, ttstest.Reply{Status: 429, Message: "Too many concurrent requests", RetryAfter: "3"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "Too many concurrent requests", RetryAfter: 3 * time.Second}},
		{"500", rachel, ttstest.Reply{Status: 500, Message: "Internal error"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "ElevenLabs is unavailable (HTTP 500): Internal error"}},
		{"unknown voice", "nobody", ttstest.Reply{},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "A voice with voice_id nobody does not exist"}},
		{"422 validation", rachel, ttstest.Reply{Status: 422, Raw: `{"detail":[{"loc":["body","text"],"msg":"field required","type":"value_error.missing"}]}`},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "(HTTP 422): field required"}},
		{"plain detail", rachel, ttstest.Reply{Status: 404, Raw: `{"detail":"Not Found"}`},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "(HTTP 404): Not Found"}},
		{"502 HTML page", rachel, ttstest.Reply{Status: 502, Raw: "<html><body>Bad gateway</body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "HTTP 502"}},
		{"JSON instead of audio", rachel, ttstest.Reply{Raw: `{"audio_base64":`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "application/json instead of audio"}},
		{"400 echoing the key", rachel, ttstest.Reply{Status: 400, Message: "bad request for " + testKey},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "bad request for [redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t, func(ttstest.Request) ttstest.Reply { return tt.reply })
			got, err := c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Voice: tt.voice, Text: text})
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
		name, key string
		req       echogen.SpeechRequest
		want      string
	}{
		{"no key", " ", echogen.SpeechRequest{Voice: rachel, Text: "hi"}, "no ElevenLabs API key"},
		{"key with a line break", "k\nX-Evil: 1", echogen.SpeechRequest{Voice: rachel, Text: "hi"}, "cannot be sent"},
		{"no voice", testKey, echogen.SpeechRequest{Text: "hi"}, "voice id"},
		{"a path for a voice", testKey, echogen.SpeechRequest{Voice: "../voices", Text: "hi"}, "voice id"},
		{"blank text", testKey, echogen.SpeechRequest{Voice: rachel, Text: "  "}, "no text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t, nil)
			_, err := c.Synthesize(context.Background(), tt.key, tt.req)
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.want})
			if s.Calls() != 0 {
				t.Errorf("%d calls, want 0", s.Calls())
			}
		})
	}
}

func TestSynthesizeUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := elevenlabs.New(elevenlabs.Options{BaseURL: base}).Synthesize(context.Background(), testKey, echogen.SpeechRequest{Voice: rachel, Text: "hi"})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "could not reach ElevenLabs"})
}

// TestSynthesizeCanceled: a call in flight ends when its context does,
// or when the client's timeout does.
func TestSynthesizeCanceled(t *testing.T) {
	t.Parallel()
	arrived, never := make(chan struct{}, 2), make(chan struct{})
	s := ttstest.New(t, ttstest.ElevenLabs, func(ttstest.Request) ttstest.Reply {
		arrived <- struct{}{}
		return ttstest.Reply{Hold: never}
	})
	c := elevenlabs.New(elevenlabs.Options{HTTPClient: s.Client(), BaseURL: s.URL})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Synthesize(ctx, testKey, echogen.SpeechRequest{Voice: rachel, Text: text})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled, Message: "canceled"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	c = elevenlabs.New(elevenlabs.Options{HTTPClient: s.Client(), BaseURL: s.URL, Timeout: 50 * time.Millisecond})
	_, err = c.Synthesize(context.Background(), testKey, echogen.SpeechRequest{Voice: rachel, Text: text})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout, Message: "did not answer in time"})
}

// Package ttstest is a stand-in for three speech APIs, for tests: a real
// loopback HTTP server that speaks OpenAI's /v1/audio/speech, Gemini's
// generateContent with audio output, or ElevenLabs' text-to-speech and
// voices endpoints, so the real adapters (internal/provider/openai, gemini,
// elevenlabs) and their SDKs run unchanged against it.
//
// It answers with real speech: espeak-ng says the request's text, and the
// stand-in converts it to what the wire returns (raw PCM, WAV or MP3 at
// the rate asked). Tests that use it are skipped when espeak-ng is missing
// (see testenv.RequireTool).
//
// It is strict, as llmtest is: a request the real API would not take, or
// that the adapters are not meant to send (unknown JSON fields at any
// depth, a missing key, a wrong path, method or query, text over the
// model's limit), fails the test and is answered 400 in the wire's error
// format.
package ttstest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/speech"
	"github.com/echogen/server/internal/provider/standin"
	"github.com/echogen/server/internal/testenv"
)

// Wire is an API format the stand-in speaks.
type Wire int

const (
	OpenAI     Wire = iota + 1 // POST /v1/audio/speech
	Gemini                     // POST /v1beta/models/{model}:generateContent
	ElevenLabs                 // POST /v1/text-to-speech/{voice_id}, GET /v1/voices
)

func (w Wire) String() string {
	if w >= OpenAI && w <= ElevenLabs {
		return [...]string{"OpenAI", "Gemini", "ElevenLabs"}[w-1]
	}
	return "Wire(" + strconv.Itoa(int(w)) + ")"
}

// Request is one synthesis call as the stand-in understood it,
// provider-neutral.
type Request struct {
	Wire   Wire
	Model  string
	APIKey string // from Authorization: Bearer / x-goog-api-key / xi-api-key
	// Voice is OpenAI's voice, Gemini's single prebuilt voice or the
	// ElevenLabs voice id of the path.
	Voice string
	// Text is what would be spoken, as sent: OpenAI's input, Gemini's
	// text parts joined (with any instruction prefix), ElevenLabs' text.
	Text     string
	Tone     string // OpenAI's instructions
	Language string // Gemini's speechConfig.languageCode, ElevenLabs' language_code
	// Settings are OpenAI's speed or ElevenLabs' voice_settings
	// (use_speaker_boost as 0 or 1); nil when none were sent.
	Settings map[string]float64
	Speakers []echogen.SpeakerVoice // Gemini's multiSpeakerVoiceConfig
	// Format is the encoding asked for: OpenAI's response_format
	// (default "mp3"), ElevenLabs' output_format (default
	// "mp3_44100_128"); "" for Gemini, which has no choice.
	Format string
	// Body is the JSON body as sent, for tests that pin it exactly.
	Body string
}

// Reply is how the stand-in answers one synthesis request. The zero Reply
// answers the speech asked for.
type Reply struct {
	Status     int    // >= 400: answer an error in the wire's error format
	Message    string // the error message for Status >= 400; default the status text
	Code       string // the wire's error code (OpenAI error.code, Gemini error.status, ElevenLabs detail.status); default per status
	RetryAfter string // Retry-After header value, sent with any status
	Raw        string // when set: written verbatim as the body, with Status or 200
	// Say, when set, is spoken instead of the request's text: a short
	// answer for a test about long texts.
	Say string
	// Format, when set, makes the stand-in answer "pcm", "wav" or "mp3"
	// instead of what was asked for, as servers that ignore the asked
	// format do. "mp3" needs lame.
	Format string
	// Hold, when not nil, delays the answer until it is closed or the
	// client gives up, so a test can catch calls in flight without
	// sleeping.
	Hold <-chan struct{}
}

// Server is a running stand-in. It is safe for concurrent use.
type Server struct {
	// URL is what the adapter takes as its base URL: the server's root
	// with "/v1" for OpenAI (the SDK adds "/audio/speech"), the bare root
	// for Gemini and ElevenLabs.
	URL string

	t      testing.TB
	wire   Wire
	espeak string
	answer func(Request) Reply
	srv    *httptest.Server
	reqs   standin.Recorder[Request]

	mu     sync.Mutex
	calls  int
	voices []echogen.Voice
}

// DefaultVoices returns the ElevenLabs voices the stand-in knows until
// SetVoices says otherwise: the premade voices the server hands out by
// default.
func DefaultVoices() []echogen.Voice {
	return []echogen.Voice{
		{ID: "21m00Tcm4TlvDq8ikWAM", Label: "Rachel"},
		{ID: "pNInz6obpgDQGcFmaJgB", Label: "Adam"},
		{ID: "EXAVITQu4vr4xnSDxMaL", Label: "Bella"},
		{ID: "ErXwobaYiN019PkySvjV", Label: "Antoni"},
	}
}

// New starts a stand-in for wire, closed by t.Cleanup; it skips the test
// when espeak-ng is not installed. answer, called once per synthesis
// request and possibly concurrently, chooses the reply; nil always
// answers speech.
func New(t testing.TB, wire Wire, answer func(Request) Reply) *Server {
	t.Helper()
	if wire < OpenAI || wire > ElevenLabs {
		t.Fatalf("ttstest.New: unknown wire %v", wire)
	}
	if answer == nil {
		answer = func(Request) Reply { return Reply{} }
	}
	s := &Server{t: t, wire: wire, answer: answer, voices: DefaultVoices(), reqs: standin.Recorder[Request]{Clone: clone}}
	s.espeak = testenv.RequireTool(t, "espeak-ng", "espeak-ng")
	s.srv = standin.Start(t, s.serve)
	s.URL = s.srv.URL
	if wire == OpenAI {
		s.URL += "/v1"
	}
	return s
}

// Client returns an HTTP client for the server whose idle connections are
// closed with it.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns the synthesis requests received, in arrival order
// (voice lists and rejected requests are not recorded).
func (s *Server) Requests() []Request { return s.reqs.All() }

// CheckRequest checks that s took one request, want but for its Body,
// and that the body sent is wantBody as JSON.
func (s *Server) CheckRequest(t testing.TB, want Request, wantBody string) {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if d := gocmp.Diff(want, reqs[0], cmpopts.IgnoreFields(Request{}, "Body")); d != "" {
		t.Errorf("request (-want +got):\n%s", d)
	}
	if d := standin.JSONDiff(t, wantBody, reqs[0].Body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
}

// Calls counts every HTTP request the server received, rejected ones and
// voice lists included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// SetVoices sets the voices ElevenLabs' GET /v1/voices lists and its
// text-to-speech endpoint accepts (DefaultVoices at first).
func (s *Server) SetVoices(v ...echogen.Voice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.voices = slices.Clone(v)
}

func clone(r Request) Request {
	r.Settings = maps.Clone(r.Settings)
	r.Speakers = slices.Clone(r.Speakers)
	return r
}

// serve routes, checks and answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()

	list, pathArg, err := s.route(r)
	var key string
	if err == nil {
		key, err = s.checkHeaders(r, !list)
	}
	if err != nil {
		s.reject(w, r, err)
		return
	}
	if list {
		s.listVoices(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var req Request
	if err == nil {
		req, err = s.decode(body, pathArg, r.URL.Query().Get("output_format"))
	}
	if err != nil {
		s.reject(w, r, err)
		return
	}
	req.Wire, req.APIKey, req.Body = s.wire, key, string(body)
	if s.wire == ElevenLabs && !s.knownVoice(req.Voice) {
		// A caller's mistake the real API answers, not an adapter's bug.
		msg := fmt.Sprintf("A voice with voice_id %s does not exist.", req.Voice)
		s.fail(w, Reply{Status: http.StatusNotFound, Code: "voice_not_found", Message: msg})
		return
	}
	n := s.reqs.Add(req)

	rep := s.answer(req)
	if rep.Hold != nil {
		select {
		case <-rep.Hold:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case rep.Raw != "":
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		standin.WriteRaw(w, rep.Status, rep.Raw)
	case rep.Status >= 400:
		s.fail(w, rep)
	default:
		s.speak(w, n, req, rep)
	}
}

// reject fails the test and answers 400 as the real API answers a bad
// request.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, err error) {
	standin.Reject(s.t, w, r, "ttstest "+s.wire.String(), err, s.errorBody(Reply{Status: http.StatusBadRequest, Message: err.Error()}))
}

// fail answers rep's error in the wire's format.
func (s *Server) fail(w http.ResponseWriter, rep Reply) {
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	standin.WriteJSON(w, rep.Status, s.errorBody(rep))
}

// route checks the method, path and query; pathArg is Gemini's model or
// ElevenLabs' voice id.
func (s *Server) route(r *http.Request) (list bool, pathArg string, err error) {
	p := r.URL.Path
	var synth bool
	var query []string // allowed query parameters
	switch s.wire {
	case OpenAI:
		synth = p == "/v1/audio/speech"
	case Gemini:
		if rest, ok := strings.CutPrefix(p, "/v1beta/models/"); ok {
			pathArg, synth = strings.CutSuffix(rest, ":generateContent")
		}
	case ElevenLabs:
		list = p == "/v1/voices"
		if rest, ok := strings.CutPrefix(p, "/v1/text-to-speech/"); ok {
			pathArg, synth, query = rest, true, []string{"output_format"}
		}
	}
	if synth && (strings.Contains(pathArg, "/") || (s.wire != OpenAI && pathArg == "")) {
		return false, "", fmt.Errorf("bad path %q", p)
	}
	want := http.MethodPost
	switch {
	case list:
		want = http.MethodGet
	case !synth:
		return false, "", fmt.Errorf("unknown path %q", p)
	}
	if r.Method != want {
		return false, "", fmt.Errorf("method %s, want %s", r.Method, want)
	}
	return list, pathArg, standin.Query(r, query...)
}

// checkHeaders checks and returns the key and, on a POST, checks the
// content type.
func (s *Server) checkHeaders(r *http.Request, post bool) (string, error) {
	h := r.Header
	var key string
	var err error
	switch s.wire {
	case OpenAI:
		key, err = standin.BearerKey(h)
	case Gemini:
		key, err = standin.HeaderKey(h, "x-goog-api-key")
	case ElevenLabs:
		if key, err = standin.HeaderKey(h, "xi-api-key"); err != nil {
			return "", err
		}
		if h.Get("Authorization") != "" {
			return "", fmt.Errorf("an Authorization header; ElevenLabs takes the key in xi-api-key")
		}
	}
	if err == nil && post {
		err = standin.JSONContent(h)
	}
	return key, err
}

func (s *Server) decode(body []byte, pathArg, outputFormat string) (Request, error) {
	switch s.wire {
	case OpenAI:
		return decodeOpenAI(body)
	case Gemini:
		return decodeGemini(body, pathArg)
	}
	return decodeElevenLabs(body, pathArg, outputFormat)
}

// openAIFormats are the response formats OpenAI takes; the stand-in
// makes the first three.
var openAIFormats = []string{"pcm", "wav", "mp3", "opus", "aac", "flac"}

func decodeOpenAI(body []byte) (Request, error) {
	var b struct {
		Model          string   `json:"model"`
		Input          *string  `json:"input"`
		Voice          string   `json:"voice"`
		Instructions   *string  `json:"instructions"`
		Speed          *float64 `json:"speed"`
		ResponseFormat *string  `json:"response_format"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Model: b.Model, Voice: b.Voice, Format: "mp3"}
	if err := standin.Required("model", b.Model != "", "input", b.Input != nil, "voice", b.Voice != ""); err != nil {
		return req, err
	}
	req.Text = *b.Input
	switch n := utf8.RuneCountInString(req.Text); {
	case strings.TrimSpace(req.Text) == "":
		return req, fmt.Errorf("input is empty")
	case n > 4096:
		return req, fmt.Errorf("input is %d characters, over the limit of 4096", n)
	}
	if b.Instructions != nil {
		if strings.HasPrefix(b.Model, "tts-1") {
			return req, fmt.Errorf("instructions are not supported by %s", b.Model)
		}
		req.Tone = *b.Instructions
	}
	if b.Speed != nil {
		if *b.Speed < 0.25 || *b.Speed > 4 {
			return req, fmt.Errorf("speed %v is not between 0.25 and 4.0", *b.Speed)
		}
		req.Settings = map[string]float64{"speed": *b.Speed}
	}
	if b.ResponseFormat != nil {
		if req.Format = *b.ResponseFormat; !slices.Contains(openAIFormats, req.Format) {
			return req, fmt.Errorf("response_format %q is not one of %v", req.Format, openAIFormats)
		}
		if !slices.Contains(openAIFormats[:3], req.Format) {
			return req, fmt.Errorf("the stand-in does not make %s audio", req.Format)
		}
	}
	return req, nil
}

// geminiTextLimit bounds the text of one Gemini TTS request; the real
// limit is a context of 32k tokens, far above what the adapter sends.
const geminiTextLimit = 32000

func decodeGemini(body []byte, model string) (Request, error) {
	type voiceConfig struct {
		PrebuiltVoiceConfig *struct {
			VoiceName string `json:"voiceName"`
		} `json:"prebuiltVoiceConfig"`
	}
	voiceName := func(vc *voiceConfig, at string) (string, error) {
		if vc == nil || vc.PrebuiltVoiceConfig == nil || vc.PrebuiltVoiceConfig.VoiceName == "" {
			return "", fmt.Errorf("missing required field %q", at+".prebuiltVoiceConfig.voiceName")
		}
		return vc.PrebuiltVoiceConfig.VoiceName, nil
	}
	var b struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text *string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
		GenerationConfig *struct {
			ResponseModalities []string `json:"responseModalities"`
			SpeechConfig       *struct {
				LanguageCode            string       `json:"languageCode"`
				VoiceConfig             *voiceConfig `json:"voiceConfig"`
				MultiSpeakerVoiceConfig *struct {
					SpeakerVoiceConfigs []struct {
						Speaker     string       `json:"speaker"`
						VoiceConfig *voiceConfig `json:"voiceConfig"`
					} `json:"speakerVoiceConfigs"`
				} `json:"multiSpeakerVoiceConfig"`
			} `json:"speechConfig"`
		} `json:"generationConfig"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Model: model}
	gc := b.GenerationConfig
	if err := standin.Required("contents", len(b.Contents) > 0, "generationConfig", gc != nil); err != nil {
		return req, err
	}
	if len(b.Contents) != 1 || (b.Contents[0].Role != "" && b.Contents[0].Role != "user") {
		return req, fmt.Errorf("a TTS request takes one user content, not %d", len(b.Contents))
	}
	var text strings.Builder
	for i, p := range b.Contents[0].Parts {
		if p.Text == nil {
			return req, fmt.Errorf("contents[0].parts[%d] has no text", i)
		}
		text.WriteString(*p.Text)
	}
	if req.Text = text.String(); strings.TrimSpace(req.Text) == "" {
		return req, fmt.Errorf("contents[0] has no text")
	}
	if len(req.Text) > geminiTextLimit {
		return req, fmt.Errorf("the text is %d bytes, over the stand-in's limit of %d", len(req.Text), geminiTextLimit)
	}
	if !slices.Equal(gc.ResponseModalities, []string{"AUDIO"}) {
		return req, fmt.Errorf("generationConfig.responseModalities = %q, want [AUDIO]", gc.ResponseModalities)
	}
	sc := gc.SpeechConfig
	if sc == nil {
		return req, nil
	}
	req.Language = sc.LanguageCode
	var err error
	switch {
	case sc.VoiceConfig != nil && sc.MultiSpeakerVoiceConfig != nil:
		return req, fmt.Errorf("speechConfig has both voiceConfig and multiSpeakerVoiceConfig")
	case sc.VoiceConfig != nil:
		req.Voice, err = voiceName(sc.VoiceConfig, "generationConfig.speechConfig.voiceConfig")
	case sc.MultiSpeakerVoiceConfig != nil:
		svc := sc.MultiSpeakerVoiceConfig.SpeakerVoiceConfigs
		if len(svc) != 2 || svc[0].Speaker == svc[1].Speaker {
			return req, fmt.Errorf("multiSpeakerVoiceConfig needs exactly two distinct speakers, got %d", len(svc))
		}
		for i, c := range svc {
			at := fmt.Sprintf("generationConfig.speechConfig.multiSpeakerVoiceConfig.speakerVoiceConfigs[%d]", i)
			v, err := voiceName(c.VoiceConfig, at+".voiceConfig")
			if err != nil {
				return req, err
			}
			if !strings.Contains(req.Text, c.Speaker+":") {
				return req, fmt.Errorf("speaker %q does not appear as \"%s:\" in the text", c.Speaker, c.Speaker)
			}
			req.Speakers = append(req.Speakers, echogen.SpeakerVoice{Speaker: c.Speaker, Voice: v})
		}
	}
	return req, err
}

// elevenLabsLimits are the models' characters per request; others take
// elevenLabsDefaultLimit.
var elevenLabsLimits = map[string]int{
	"eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000,
	"eleven_flash_v2": 30000, "eleven_turbo_v2": 30000,
	"eleven_multilingual_v2": 10000, "eleven_monolingual_v1": 10000,
}

const elevenLabsDefaultLimit = 5000 // eleven_v3

// elevenLabsLanguageModels are the models that take language_code.
var elevenLabsLanguageModels = []string{"eleven_flash_v2_5", "eleven_turbo_v2_5"}

func decodeElevenLabs(body []byte, voice, outputFormat string) (Request, error) {
	var b struct {
		Text          *string `json:"text"`
		ModelID       string  `json:"model_id"`
		LanguageCode  *string `json:"language_code"`
		VoiceSettings *struct {
			Stability       *float64 `json:"stability"`
			SimilarityBoost *float64 `json:"similarity_boost"`
			Style           *float64 `json:"style"`
			UseSpeakerBoost *bool    `json:"use_speaker_boost"`
			Speed           *float64 `json:"speed"`
		} `json:"voice_settings"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return Request{}, err
	}
	req := Request{Voice: voice, Model: cmp.Or(b.ModelID, "eleven_multilingual_v2"), Format: cmp.Or(outputFormat, "mp3_44100_128")}
	if err := standin.Required("text", b.Text != nil); err != nil {
		return req, err
	}
	req.Text = *b.Text
	limit := cmp.Or(elevenLabsLimits[req.Model], elevenLabsDefaultLimit)
	switch n := utf8.RuneCountInString(req.Text); {
	case strings.TrimSpace(req.Text) == "":
		return req, fmt.Errorf("text is empty")
	case n > limit:
		return req, fmt.Errorf("text is %d characters, over the %d of %s", n, limit, req.Model)
	}
	if _, _, err := elevenLabsFormat(req.Format); err != nil {
		return req, err
	}
	if b.LanguageCode != nil {
		if !slices.Contains(elevenLabsLanguageModels, req.Model) {
			return req, fmt.Errorf("language_code is not supported by %s", req.Model)
		}
		if req.Language = *b.LanguageCode; len(req.Language) < 2 || len(req.Language) > 3 || strings.ToLower(req.Language) != req.Language {
			return req, fmt.Errorf("language_code %q is not a lower-case ISO 639 code", req.Language)
		}
	}
	if vs := b.VoiceSettings; vs != nil {
		req.Settings = map[string]float64{}
		for _, f := range []struct {
			name     string
			v        *float64
			min, max float64
		}{
			{"stability", vs.Stability, 0, 1}, {"similarity_boost", vs.SimilarityBoost, 0, 1},
			{"style", vs.Style, 0, 1}, {"speed", vs.Speed, 0.7, 1.2},
		} {
			if f.v == nil {
				continue
			}
			if *f.v < f.min || *f.v > f.max {
				return req, fmt.Errorf("voice_settings.%s %v is not between %v and %v", f.name, *f.v, f.min, f.max)
			}
			req.Settings[f.name] = *f.v
		}
		if vs.UseSpeakerBoost != nil {
			req.Settings["use_speaker_boost"] = 0
			if *vs.UseSpeakerBoost {
				req.Settings["use_speaker_boost"] = 1
			}
		}
	}
	return req, nil
}

// elevenLabsFormat reads an output_format the stand-in makes: pcm_<rate>
// or mp3_<rate>_<kbps>.
func elevenLabsFormat(f string) (codec string, rate int, err error) {
	parts := strings.Split(f, "_")
	rates := []int{8000, 16000, 22050, 24000, 44100, 48000}
	if len(parts) >= 2 {
		rate, _ = strconv.Atoi(parts[1])
	}
	switch {
	case len(parts) == 2 && parts[0] == "pcm" && slices.Contains(rates, rate):
		return "pcm", rate, nil
	case len(parts) == 3 && parts[0] == "mp3" && (rate == 22050 || rate == 44100):
		return "mp3", rate, nil
	}
	return "", 0, fmt.Errorf("output_format %q is not one the stand-in makes (pcm_<rate>, mp3_44100_<kbps>)", f)
}

func (s *Server) knownVoice(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.voices, func(v echogen.Voice) bool { return v.ID == id })
}

// listVoices answers ElevenLabs' GET /v1/voices.
func (s *Server) listVoices(w http.ResponseWriter) {
	s.mu.Lock()
	voices := slices.Clone(s.voices)
	s.mu.Unlock()
	list := make([]any, 0, len(voices))
	for _, v := range voices {
		list = append(list, map[string]any{
			"voice_id": v.ID, "name": v.Label, "category": "premade",
			"labels":      map[string]any{"accent": "american", "use_case": "narration"},
			"preview_url": "https://storage.googleapis.com/eleven-public-prod/premade/voices/" + v.ID + "/preview.mp3",
		})
	}
	standin.WriteJSON(w, http.StatusOK, map[string]any{"voices": list})
}

// speak answers the speech req asks for.
func (s *Server) speak(w http.ResponseWriter, n int, req Request, rep Reply) {
	format, rate := req.Format, speech24k
	switch s.wire {
	case Gemini:
		format = "pcm"
	case ElevenLabs:
		format, rate, _ = elevenLabsFormat(req.Format)
	}
	format = cmp.Or(rep.Format, format)
	pcm, err := s.say(cmp.Or(rep.Say, req.Text), rate)
	var audio []byte
	if err == nil {
		audio, err = encode(pcm, rate, format)
	}
	if err != nil {
		s.t.Errorf("ttstest %v: %v", s.wire, err)
		s.fail(w, Reply{Status: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	if s.wire == OpenAI && format == "wav" {
		// OpenAI streams its WAV, so both RIFF sizes say "unknown".
		binary.LittleEndian.PutUint32(audio[4:], math.MaxUint32)
		binary.LittleEndian.PutUint32(audio[40:], math.MaxUint32)
	}
	if s.wire != Gemini {
		w.Header().Set("Content-Type", map[string]string{"pcm": "audio/pcm", "wav": "audio/wav", "mp3": "audio/mpeg"}[format])
		if s.wire == ElevenLabs {
			w.Header().Set("character-cost", strconv.Itoa(utf8.RuneCountInString(req.Text)))
		}
		w.Write(audio)
		return
	}
	mimeType := map[string]string{"pcm": "audio/L16;codec=pcm;rate=" + strconv.Itoa(rate), "wav": "audio/wav", "mp3": "audio/mpeg"}[format]
	in, out := len(strings.Fields(req.Text)), len(pcm)/2*25/rate // Gemini counts 25 tokens a second of audio
	standin.WriteJSON(w, http.StatusOK, map[string]any{
		"candidates": []any{map[string]any{
			"content": map[string]any{"role": "model", "parts": []any{map[string]any{
				"inlineData": map[string]any{"mimeType": mimeType, "data": base64.StdEncoding.EncodeToString(audio)},
			}}},
			"finishReason": "STOP",
			"index":        0,
		}},
		"usageMetadata": map[string]any{
			"promptTokenCount": in, "candidatesTokenCount": out, "totalTokenCount": in + out,
			"promptTokensDetails":     []any{map[string]any{"modality": "TEXT", "tokenCount": in}},
			"candidatesTokensDetails": []any{map[string]any{"modality": "AUDIO", "tokenCount": out}},
		},
		"modelVersion": req.Model,
		"responseId":   fmt.Sprintf("ttstest%d", n),
	})
}

// speech24k is the rate OpenAI and Gemini speak at.
const speech24k = 24000

// say runs espeak-ng on text (on stdin, so that no text is taken for a
// flag) and returns mono 16-bit PCM at rate.
func (s *Server) say(text string, rate int) ([]byte, error) {
	cmd := exec.Command(s.espeak, "--stdout", "-v", "en-us")
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("espeak-ng: %v: %s", err, stderr.Bytes())
	}
	wav, err := speech.DecodeWAV(out)
	if err != nil {
		return nil, fmt.Errorf("espeak-ng's answer: %w", err)
	}
	if wav.Channels != 1 {
		return nil, fmt.Errorf("espeak-ng spoke %d channels", wav.Channels)
	}
	return Resample(wav.PCM, wav.SampleRate, rate), nil
}

// encode wraps mono PCM at rate in format: "pcm", "wav" or "mp3".
func encode(pcm []byte, rate int, format string) ([]byte, error) {
	switch format {
	case "pcm":
		return pcm, nil
	case "wav":
		return speech.EncodeWAV(pcm, rate, 1), nil
	case "mp3":
		lame, err := exec.LookPath("lame")
		if err != nil {
			return nil, fmt.Errorf("an MP3 answer needs lame (apt-get install lame)")
		}
		cmd := exec.Command(lame, "--quiet", "-r", "-s", strconv.FormatFloat(float64(rate)/1000, 'f', -1, 64),
			"--bitwidth", "16", "--signed", "--little-endian", "-m", "m", "-", "-")
		cmd.Stdin = bytes.NewReader(pcm)
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("lame: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown answer format %q", format)
}

// Resample converts mono 16-bit PCM from one rate to another by linear
// interpolation: plain, but good enough for a stand-in's speech.
func Resample(pcm []byte, from, to int) []byte {
	n := len(pcm) / 2
	if from == to || n == 0 {
		return pcm
	}
	sample := func(i int) float64 { return float64(int16(binary.LittleEndian.Uint16(pcm[2*min(i, n-1):]))) }
	m := int(int64(n) * int64(to) / int64(from))
	out := make([]byte, 2*m)
	for j := range m {
		pos := float64(j) * float64(from) / float64(to)
		i := int(pos)
		v := sample(i) + (sample(i+1)-sample(i))*(pos-float64(i))
		binary.LittleEndian.PutUint16(out[2*j:], uint16(int16(math.Round(v))))
	}
	return out
}

// errorBody is the wire's error answer.
func (s *Server) errorBody(rep Reply) any {
	status := rep.Status
	msg := cmp.Or(rep.Message, http.StatusText(status))
	switch s.wire {
	case OpenAI:
		return standin.OpenAIError(status, msg, rep.Code)
	case Gemini:
		return standin.GoogleError(status, msg, rep.Code, rep.RetryAfter)
	}
	code := cmp.Or(rep.Code, map[int]string{400: "invalid_request", 401: "invalid_api_key", 404: "not_found",
		429: "too_many_concurrent_requests", 500: "internal_server_error", 503: "system_busy"}[status], "error")
	return map[string]any{"detail": map[string]any{"status": code, "message": msg}}
}

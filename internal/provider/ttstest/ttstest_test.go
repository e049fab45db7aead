package ttstest_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/speech"
	"github.com/echogen/server/internal/provider/standin"
	"github.com/echogen/server/internal/provider/ttstest"
	"github.com/echogen/server/internal/testenv"
)

const key = "test-key-0123"

var (
	ctJSON   = map[string]string{"Content-Type": "application/json"}
	oaiAuth  = with(ctJSON, map[string]string{"Authorization": "Bearer " + key})
	gemAuth  = with(ctJSON, map[string]string{"x-goog-api-key": key})
	elAuth   = with(ctJSON, map[string]string{"xi-api-key": key})
	rachel   = ttstest.DefaultVoices()[0].ID
	elPath   = "/v1/text-to-speech/" + rachel + "?output_format=pcm_24000"
	gemPath  = "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent"
	gemAudio = `"generationConfig":{"responseModalities":["AUDIO"]}`
)

func with(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for _, h := range []map[string]string{a, b} {
		for k, v := range h {
			m[k] = v
		}
	}
	return m
}

// seconds is the length of mono 16-bit PCM.
func seconds(pcm []byte, rate int) float64 { return float64(len(pcm)/2) / float64(rate) }

// TestSpeech: each wire answers espeak-ng's speech in the format asked,
// and records the request.
func TestSpeech(t *testing.T) {
	t.Parallel()
	const text = "Hello there, welcome to the show."
	tests := []struct {
		name    string
		wire    ttstest.Wire
		path    string
		header  map[string]string
		body    string
		ctype   string
		want    ttstest.Request
		needs   string // a tool besides espeak-ng
		decode  func(t *testing.T, body []byte) (pcm []byte, rate int)
		checkHd func(t *testing.T, h http.Header)
	}{
		{
			name: "OpenAI pcm", wire: ttstest.OpenAI, path: "/audio/speech", header: oaiAuth, ctype: "audio/pcm",
			body: `{"model":"gpt-4o-mini-tts","input":"` + text + `","voice":"alloy","instructions":"warmly","speed":1.5,"response_format":"pcm"}`,
			want: ttstest.Request{Wire: ttstest.OpenAI, Model: "gpt-4o-mini-tts", APIKey: key, Voice: "alloy", Text: text, Tone: "warmly",
				Settings: map[string]float64{"speed": 1.5}, Format: "pcm"},
			decode: func(t *testing.T, b []byte) ([]byte, int) { return b, 24000 },
		},
		{
			name: "OpenAI wav streams its sizes", wire: ttstest.OpenAI, path: "/audio/speech", header: oaiAuth, ctype: "audio/wav",
			body: `{"model":"tts-1","input":"` + text + `","voice":"onyx","response_format":"wav"}`,
			want: ttstest.Request{Wire: ttstest.OpenAI, Model: "tts-1", APIKey: key, Voice: "onyx", Text: text, Format: "wav"},
			decode: func(t *testing.T, b []byte) ([]byte, int) {
				if size := binary.LittleEndian.Uint32(b[40:]); size != 0xFFFFFFFF {
					t.Errorf("data size %#x, want 0xFFFFFFFF", size)
				}
				return decodeWAV(t, b)
			},
		},
		{
			name: "OpenAI mp3 by default", wire: ttstest.OpenAI, path: "/audio/speech", header: oaiAuth, ctype: "audio/mpeg", needs: "lame",
			body: `{"model":"tts-1","input":"` + text + `","voice":"onyx"}`,
			want: ttstest.Request{Wire: ttstest.OpenAI, Model: "tts-1", APIKey: key, Voice: "onyx", Text: text, Format: "mp3"},
			decode: func(t *testing.T, b []byte) ([]byte, int) {
				if speech.Sniff(b) != echogen.AudioMP3 {
					t.Errorf("answer is not an MP3: % x", b[:8])
				}
				return nil, 0
			},
		},
		{
			name: "Gemini two speakers", wire: ttstest.Gemini, path: gemPath, header: gemAuth, ctype: "application/json",
			body: `{"contents":[{"role":"user","parts":[{"text":"Ann: Hi.\nBob: Hello."}]}],"generationConfig":{"responseModalities":["AUDIO"],
				"speechConfig":{"languageCode":"en-US","multiSpeakerVoiceConfig":{"speakerVoiceConfigs":[
				{"speaker":"Ann","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}},
				{"speaker":"Bob","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Puck"}}}]}}}}`,
			want: ttstest.Request{Wire: ttstest.Gemini, Model: "gemini-2.5-flash-preview-tts", APIKey: key, Text: "Ann: Hi.\nBob: Hello.", Language: "en-US",
				Speakers: []echogen.SpeakerVoice{{Speaker: "Ann", Voice: "Kore"}, {Speaker: "Bob", Voice: "Puck"}}},
			decode: decodeGemini,
		},
		{
			name: "Gemini one voice", wire: ttstest.Gemini, path: gemPath, header: gemAuth, ctype: "application/json",
			body: `{"contents":[{"parts":[{"text":"` + text + `"}]}],"generationConfig":{"responseModalities":["AUDIO"],
				"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}`,
			want:   ttstest.Request{Wire: ttstest.Gemini, Model: "gemini-2.5-flash-preview-tts", APIKey: key, Text: text, Voice: "Kore"},
			decode: decodeGemini,
		},
		{
			name: "ElevenLabs pcm_16000", wire: ttstest.ElevenLabs, path: "/v1/text-to-speech/" + rachel + "?output_format=pcm_16000", header: elAuth, ctype: "audio/pcm",
			body: `{"text":"` + text + `","model_id":"eleven_flash_v2_5","language_code":"en",
				"voice_settings":{"stability":0.4,"similarity_boost":0.8,"style":0,"use_speaker_boost":true,"speed":1.1}}`,
			want: ttstest.Request{Wire: ttstest.ElevenLabs, Model: "eleven_flash_v2_5", APIKey: key, Voice: rachel, Text: text, Language: "en", Format: "pcm_16000",
				Settings: map[string]float64{"stability": 0.4, "similarity_boost": 0.8, "style": 0, "use_speaker_boost": 1, "speed": 1.1}},
			decode: func(t *testing.T, b []byte) ([]byte, int) { return b, 16000 },
			checkHd: func(t *testing.T, h http.Header) {
				if got := h.Get("character-cost"); got != fmt.Sprint(len(text)) {
					t.Errorf("character-cost = %q, want %d", got, len(text))
				}
			},
		},
		{
			name: "ElevenLabs defaults", wire: ttstest.ElevenLabs, path: "/v1/text-to-speech/" + rachel, header: elAuth, ctype: "audio/mpeg", needs: "lame",
			body: `{"text":"` + text + `"}`,
			want: ttstest.Request{Wire: ttstest.ElevenLabs, Model: "eleven_multilingual_v2", APIKey: key, Voice: rachel, Text: text, Format: "mp3_44100_128"},
			decode: func(t *testing.T, b []byte) ([]byte, int) {
				if speech.Sniff(b) != echogen.AudioMP3 {
					t.Errorf("answer is not an MP3: % x", b[:8])
				}
				return nil, 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.needs != "" {
				testenv.RequireTool(t, tt.needs, tt.needs)
			}
			s := ttstest.New(t, tt.wire, nil)
			status, h, body := standin.Send(t, s.Client(), "", s.URL+tt.path, tt.header, tt.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if got := h.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if tt.checkHd != nil {
				tt.checkHd(t, h)
			}
			// espeak-ng speaks this sentence in about two seconds.
			if pcm, rate := tt.decode(t, body); rate != 0 && (seconds(pcm, rate) < 1.2 || seconds(pcm, rate) > 5) {
				t.Errorf("%.2f s of speech at %d Hz, want about 2 s", seconds(pcm, rate), rate)
			}
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests recorded, want 1", len(reqs))
			}
			if d := cmp.Diff(tt.want, reqs[0], cmpopts.IgnoreFields(ttstest.Request{}, "Body")); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
			if reqs[0].Body != tt.body {
				t.Errorf("Body = %s, want the body sent", reqs[0].Body)
			}
			if s.Calls() != 1 {
				t.Errorf("Calls = %d, want 1", s.Calls())
			}
		})
	}
}

func decodeWAV(t *testing.T, b []byte) ([]byte, int) {
	t.Helper()
	w, err := speech.DecodeWAV(b)
	if err != nil {
		t.Fatalf("answer is not a WAV: %v", err)
	}
	if w.Channels != 1 {
		t.Errorf("%d channels, want 1", w.Channels)
	}
	return w.PCM, w.SampleRate
}

func decodeGemini(t *testing.T, b []byte) ([]byte, int) {
	t.Helper()
	var ans struct {
		Candidates []struct {
			Content struct {
				Role  string `json:"role"`
				Parts []struct {
					InlineData struct {
						MimeType string `json:"mimeType"`
						Data     string `json:"data"`
					} `json:"inlineData"`
				} `json:"parts"`
			} `json:"content"`
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		UsageMetadata struct {
			CandidatesTokenCount int `json:"candidatesTokenCount"`
		} `json:"usageMetadata"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || len(ans.Candidates) != 1 || len(ans.Candidates[0].Content.Parts) != 1 {
		t.Fatalf("answer %s: %v", b, err)
	}
	c := ans.Candidates[0]
	if c.Content.Role != "model" || c.FinishReason != "STOP" || c.Content.Parts[0].InlineData.MimeType != "audio/L16;codec=pcm;rate=24000" {
		t.Errorf("answer's candidate: %+v", c)
	}
	pcm, err := base64.StdEncoding.DecodeString(c.Content.Parts[0].InlineData.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ans.UsageMetadata.CandidatesTokenCount, int(seconds(pcm, 24000)*25); got != want {
		t.Errorf("candidatesTokenCount = %d, want %d (25 a second)", got, want)
	}
	return pcm, 24000
}

func TestRejects(t *testing.T) {
	t.Parallel()
	oaiOK := `{"model":"tts-1","input":"hi","voice":"alloy"}`
	elOK := `{"text":"hi"}`
	tests := []struct {
		name    string
		wire    ttstest.Wire
		method  string // default POST
		path    string // after Server.URL
		header  map[string]string
		body    string
		wantErr string // in the reported error and the answer's message
	}{
		{"unknown field", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"alloy","stream_format":"audio"}`, `unknown field "stream_format"`},
		{"field in the wrong case", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"Model":"tts-1","input":"hi","voice":"alloy"}`, `unknown field "Model"`},
		{"voice object", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":{"id":"v1"}}`, "voice"},
		{"no input", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","voice":"alloy"}`, `missing required field "input"`},
		{"input over 4096", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","voice":"alloy","input":"` + strings.Repeat("é", 4097) + `"}`, "4097 characters"},
		{"instructions to tts-1", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1-hd","input":"hi","voice":"alloy","instructions":"calm"}`, "instructions are not supported by tts-1-hd"},
		{"speed out of range", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"alloy","speed":5}`, "speed 5"},
		{"format the stand-in lacks", ttstest.OpenAI, "", "/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"alloy","response_format":"opus"}`, "does not make opus"},
		{"no key", ttstest.OpenAI, "", "/audio/speech", ctJSON, oaiOK, `Authorization = ""`},
		{"no content type", ttstest.OpenAI, "", "/audio/speech", map[string]string{"Authorization": "Bearer k"}, oaiOK, "Content-Type"},
		{"wrong path", ttstest.OpenAI, "", "/audio/speeches", oaiAuth, oaiOK, `unknown path "/v1/audio/speeches"`},
		{"wrong method", ttstest.OpenAI, http.MethodPut, "/audio/speech", oaiAuth, oaiOK, "method PUT, want POST"},
		{"a query", ttstest.OpenAI, "", "/audio/speech?stream=1", oaiAuth, oaiOK, `unexpected query parameter "stream"`},
		{"Gemini unknown nested field", ttstest.Gemini, "", gemPath, gemAuth,
			`{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore","pitch":2}}}}}`,
			`unknown field "generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.pitch"`},
		{"Gemini text modality", ttstest.Gemini, "", gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseModalities":["TEXT"]}}`, "want [AUDIO]"},
		{"Gemini no generationConfig", ttstest.Gemini, "", gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]}]}`, `missing required field "generationConfig"`},
		{"Gemini system instruction", ttstest.Gemini, "", gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"x"}]},` + gemAudio + `}`, `unknown field "systemInstruction"`},
		{"Gemini two turns", ttstest.Gemini, "", gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"yo"}]}],` + gemAudio + `}`, "one user content"},
		{"Gemini three speakers", ttstest.Gemini, "", gemPath, gemAuth,
			`{"contents":[{"parts":[{"text":"A: x\nB: y\nC: z"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"multiSpeakerVoiceConfig":{"speakerVoiceConfigs":[` +
				`{"speaker":"A","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}},{"speaker":"B","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Puck"}}},` +
				`{"speaker":"C","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Puck"}}}]}}}}`, "exactly two"},
		{"Gemini speaker not in the text", ttstest.Gemini, "", gemPath, gemAuth,
			`{"contents":[{"parts":[{"text":"A: x\nB: y"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"multiSpeakerVoiceConfig":{"speakerVoiceConfigs":[` +
				`{"speaker":"A","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}},{"speaker":"Zed","voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Puck"}}}]}}}}`, `speaker "Zed"`},
		{"Gemini key in the query", ttstest.Gemini, "", gemPath + "?key=" + key, gemAuth, `{}`, "query"},
		{"ElevenLabs Bearer key", ttstest.ElevenLabs, "", elPath, with(elAuth, map[string]string{"Authorization": "Bearer " + key}), elOK, "Authorization"},
		{"ElevenLabs no key", ttstest.ElevenLabs, "", elPath, ctJSON, elOK, "xi-api-key"},
		{"ElevenLabs unknown query", ttstest.ElevenLabs, "", elPath + "&enable_logging=false", elAuth, elOK, `"enable_logging"`},
		{"ElevenLabs bad format", ttstest.ElevenLabs, "", "/v1/text-to-speech/" + rachel + "?output_format=pcm_11025", elAuth, elOK, "pcm_11025"},
		{"ElevenLabs language for v2", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"hi","model_id":"eleven_multilingual_v2","language_code":"fr"}`, "language_code is not supported"},
		{"ElevenLabs region in language", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"hi","model_id":"eleven_flash_v2_5","language_code":"fr-FR"}`, "ISO 639"},
		{"ElevenLabs stability out of range", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"hi","voice_settings":{"stability":2}}`, "voice_settings.stability 2"},
		{"ElevenLabs unknown setting", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"hi","voice_settings":{"pitch":2}}`, `unknown field "voice_settings.pitch"`},
		{"ElevenLabs text over the limit", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"` + strings.Repeat("a", 10001) + `"}`, "over the 10000 of eleven_multilingual_v2"},
		{"ElevenLabs blank text", ttstest.ElevenLabs, "", elPath, elAuth, `{"text":"  "}`, "text is empty"},
		{"ElevenLabs voices by POST", ttstest.ElevenLabs, "", "/v1/voices", elAuth, "", "method POST, want GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &standin.RecordingTB{TB: t}
			s := ttstest.New(rec, tt.wire, func(ttstest.Request) ttstest.Reply {
				t.Error("answer called for a bad request")
				return ttstest.Reply{}
			})
			status, _, body := standin.Send(t, s.Client(), tt.method, s.URL+tt.path, tt.header, tt.body)
			if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
				t.Errorf("reported %q, want one error with %q", errs, tt.wantErr)
			}
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", status)
			}
			if msg := errorMessage(t, tt.wire, body, http.StatusBadRequest); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("answer's message %q does not contain %q", msg, tt.wantErr)
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests recorded, want 0", n)
			}
			if n := s.Calls(); n != 1 {
				t.Errorf("Calls = %d, want 1", n)
			}
		})
	}
}

// errorMessage reads the message of a wire's error answer, checking its
// shape.
func errorMessage(t *testing.T, wire ttstest.Wire, body []byte, status int) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
			Status  string `json:"status"`
		} `json:"error"`
		Detail struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error answer is not JSON: %v: %s", err, body)
	}
	var ok bool
	switch wire {
	case ttstest.OpenAI:
		ok = e.Error.Type != "" && e.Error.Message != ""
	case ttstest.Gemini:
		ok = e.Error.Code == float64(status) && e.Error.Status != ""
	case ttstest.ElevenLabs:
		ok, e.Error.Message = e.Detail.Status != "" && e.Detail.Message != "", e.Detail.Message
	}
	if !ok {
		t.Errorf("%v error answer has the wrong shape: %s", wire, body)
	}
	return e.Error.Message
}

// TestErrorBodies pins the error answers the adapters read.
func TestErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		wire  ttstest.Wire
		path  string
		hd    map[string]string
		body  string
		reply ttstest.Reply
		want  string
	}{
		{"OpenAI 429", ttstest.OpenAI, "/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"alloy"}`,
			ttstest.Reply{Status: 429, Message: "Rate limit reached", RetryAfter: "7"},
			`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
		{"Gemini 429", ttstest.Gemini, gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]}],` + gemAudio + `}`,
			ttstest.Reply{Status: 429, Message: "quota", RetryAfter: "7"},
			`{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`},
		{"Gemini 400 with a status", ttstest.Gemini, gemPath, gemAuth, `{"contents":[{"parts":[{"text":"hi"}]}],` + gemAudio + `}`,
			ttstest.Reply{Status: 400, Message: "API key not valid.", Code: "INVALID_ARGUMENT"},
			`{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}`},
		{"ElevenLabs quota", ttstest.ElevenLabs, elPath, elAuth, `{"text":"hi"}`,
			ttstest.Reply{Status: 401, Code: "quota_exceeded", Message: "This request exceeds your quota."},
			`{"detail":{"status":"quota_exceeded","message":"This request exceeds your quota."}}`},
		{"ElevenLabs 429", ttstest.ElevenLabs, elPath, elAuth, `{"text":"hi"}`,
			ttstest.Reply{Status: 429, RetryAfter: "3"},
			`{"detail":{"status":"too_many_concurrent_requests","message":"Too Many Requests"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ttstest.New(t, tt.wire, func(ttstest.Request) ttstest.Reply { return tt.reply })
			status, h, body := standin.Send(t, s.Client(), "", s.URL+tt.path, tt.hd, tt.body)
			if status != tt.reply.Status || h.Get("Retry-After") != tt.reply.RetryAfter {
				t.Errorf("status %d, Retry-After %q; want %d, %q", status, h.Get("Retry-After"), tt.reply.Status, tt.reply.RetryAfter)
			}
			if d := standin.JSONDiff(t, tt.want, string(body)); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
		})
	}
}

func TestRawAndFormat(t *testing.T) {
	t.Parallel()
	s := ttstest.New(t, ttstest.OpenAI, func(r ttstest.Request) ttstest.Reply {
		if r.Voice == "echo" {
			return ttstest.Reply{Status: 502, Raw: "<html>Bad gateway</html>"}
		}
		return ttstest.Reply{Format: "wav"}
	})
	status, h, body := standin.Send(t, s.Client(), "", s.URL+"/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"echo"}`)
	if status != 502 || h.Get("Content-Type") != "text/html" || string(body) != "<html>Bad gateway</html>" {
		t.Errorf("raw answer: %d %q %s", status, h.Get("Content-Type"), body)
	}
	_, h, body = standin.Send(t, s.Client(), "", s.URL+"/audio/speech", oaiAuth, `{"model":"tts-1","input":"hi","voice":"alloy","response_format":"pcm"}`)
	if h.Get("Content-Type") != "audio/wav" || speech.Sniff(body) != echogen.AudioWAV {
		t.Errorf("forced WAV: %q, % x", h.Get("Content-Type"), body[:min(len(body), 12)])
	}
}

func TestVoices(t *testing.T) {
	t.Parallel()
	s := ttstest.New(t, ttstest.ElevenLabs, nil)
	s.SetVoices(echogen.Voice{ID: "abc", Label: "Abby"})
	status, _, body := standin.Send(t, s.Client(), http.MethodGet, s.URL+"/v1/voices", map[string]string{"xi-api-key": key}, "")
	var list struct {
		Voices []struct {
			VoiceID string `json:"voice_id"`
			Name    string `json:"name"`
		} `json:"voices"`
	}
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Voices) != 1 || list.Voices[0].VoiceID != "abc" || list.Voices[0].Name != "Abby" {
		t.Errorf("voices: %d %s", status, body)
	}
	// An unknown voice is the caller's mistake, which the real API answers.
	status, _, body = standin.Send(t, s.Client(), "", s.URL+elPath, elAuth, `{"text":"hi"}`)
	if status != 404 || !strings.Contains(string(body), `"voice_not_found"`) {
		t.Errorf("unknown voice: %d %s", status, body)
	}
	if s.Calls() != 2 || len(s.Requests()) != 0 {
		t.Errorf("Calls = %d, %d recorded; want 2, 0", s.Calls(), len(s.Requests()))
	}
}

// TestHold: a held answer waits for the test, and a client that gives up
// frees it.
func TestHold(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan string, 2), make(chan struct{})
	s := ttstest.New(t, ttstest.OpenAI, func(r ttstest.Request) ttstest.Reply {
		arrived <- r.Text
		return ttstest.Reply{Hold: release}
	})
	post := func(ctx context.Context, text string) error {
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/audio/speech",
			strings.NewReader(`{"model":"tts-1","input":"`+text+`","voice":"alloy","response_format":"pcm"}`))
		r.Header = http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
		resp, err := s.Client().Do(r)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp, done := make(chan error), make(chan error)
	go func() { gaveUp <- post(ctx, "first") }()
	go func() { done <- post(context.Background(), "second") }()
	<-arrived
	<-arrived // both are in flight at once
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled call: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("released call: %v", err)
	}
}

func TestResample(t *testing.T) {
	t.Parallel()
	// A ramp stays a ramp: sample j of the output is the input at
	// j·22050/24000.
	pcm := make([]byte, 2*22050)
	for i := range 22050 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(i-11025)))
	}
	out := ttstest.Resample(pcm, 22050, 24000)
	if len(out) != 2*24000 {
		t.Fatalf("%d samples, want 24000", len(out)/2)
	}
	for j := range 24000 {
		got, want := float64(int16(binary.LittleEndian.Uint16(out[2*j:]))), float64(j)*22050/24000-11025
		if got < want-0.5 || got > want+0.5 {
			t.Fatalf("sample %d = %v, want %.1f", j, got, want)
		}
	}
	if got := ttstest.Resample(pcm, 24000, 24000); &got[0] != &pcm[0] {
		t.Error("same rate copied")
	}
}

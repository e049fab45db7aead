// Package elevenlabs talks to ElevenLabs' text-to-speech API
// (api.elevenlabs.io) over plain HTTP. Client implements echogen.TTS and
// lists the voices a key may use.
//
// Each call has its own timeout and is not retried (the job queue
// retries). The key travels only in the xi-api-key header and no returned
// error contains it.
package elevenlabs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/speech"
)

// DefaultBaseURL is the API's root.
const DefaultBaseURL = "https://api.elevenlabs.io"

// DefaultModel is the model of a request that names none.
const DefaultModel = "eleven_multilingual_v2"

// DefaultTimeout bounds one call when Options.Timeout is zero.
const DefaultTimeout = 4 * time.Minute

// OutputFormat is the audio asked for: what the server assembles, so
// nothing is resampled or decoded.
const OutputFormat = "pcm_24000"

const (
	name     = "ElevenLabs"
	maxAudio = 64 << 20 // 40,000 characters are about 40 minutes, 115 MB of PCM; pieces are far shorter
	maxJSON  = 8 << 20
)

// textLimits are the characters a model takes per request; others take
// defaultTextLimit. Multilingual v2 takes 10,000, but shorter pieces fail
// less and cost less to redo.
var textLimits = map[string]int{
	"eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000,
	"eleven_flash_v2": 30000, "eleven_turbo_v2": 30000,
	"eleven_v3": 3000,
}

const defaultTextLimit = 5000

// languageModels take language_code; the others detect the language, and
// some refuse the field.
var languageModels = map[string]bool{"eleven_flash_v2_5": true, "eleven_turbo_v2_5": true}

// notTheKey are detail.status values ElevenLabs sends with a 401 that do
// not mean a bad key: the account is out of credits, or blocked.
var notTheKey = map[string]bool{"quota_exceeded": true, "detected_unusual_activity": true}

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests; nil means a plain &http.Client{}.
	HTTPClient *http.Client
	// BaseURL replaces DefaultBaseURL (tests, proxies).
	BaseURL string
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client calls the ElevenLabs API. It is safe for concurrent use.
type Client struct {
	hc      *http.Client
	base    string
	timeout time.Duration
}

var _ echogen.TTS = (*Client)(nil)

// New returns a Client.
func New(opts Options) *Client {
	c := &Client{hc: opts.HTTPClient, base: strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/"), timeout: opts.Timeout}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}

// ttsBody is the body of POST /v1/text-to-speech/{voice_id}.
type ttsBody struct {
	Text          string         `json:"text"`
	ModelID       string         `json:"model_id"`
	LanguageCode  string         `json:"language_code,omitempty"`
	VoiceSettings *voiceSettings `json:"voice_settings,omitempty"`
}

type voiceSettings struct {
	Stability       *float64 `json:"stability,omitempty"`
	SimilarityBoost *float64 `json:"similarity_boost,omitempty"`
	Style           *float64 `json:"style,omitempty"`
	UseSpeakerBoost *bool    `json:"use_speaker_boost,omitempty"`
	Speed           *float64 `json:"speed,omitempty"`
}

// Synthesize implements echogen.TTS with POST
// /v1/text-to-speech/{voice_id}?output_format=pcm_24000, which answers
// raw PCM, 24 kHz mono s16le.
//
// Model defaults to DefaultModel. Settings stability, similarity_boost,
// style (0–1), use_speaker_boost (non-zero is true) and speed (0.7–1.2)
// become voice_settings; those not given keep the voice's own. Language goes as
// language_code ("fr" of "fr-FR") to the models that take it
// (eleven_flash_v2_5, eleven_turbo_v2_5); the others detect it. Tone is
// ignored. Text over the model's limit is split at sentence ends and the
// pieces' audio joined.
//
// Errors: KindUnauthenticated when ElevenLabs refuses the key (401, 403);
// KindBadRequest for an exhausted quota (which ElevenLabs answers 401
// quota_exceeded), an unknown voice or another 4xx; KindRateLimited, with
// RetryAfter, on 429; KindUnavailable on a 5xx, a network error, a timeout
// or an answer that is not audio. Messages carry ElevenLabs' own.
func (c *Client) Synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	a, err := c.synthesize(ctx, apiKey, req)
	return a, providerhttp.RedactError(err, apiKey)
}

func (c *Client) synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	if err := checkKey(apiKey); err != nil {
		return nil, err
	}
	voice := strings.TrimSpace(req.Voice)
	if !validID(voice) {
		return nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "%q is not an %s voice id", providerhttp.Clean(voice), name)
	}
	body := ttsBody{ModelID: strings.TrimSpace(req.Model), VoiceSettings: settings(req.Settings)}
	if body.ModelID == "" {
		body.ModelID = DefaultModel
	}
	if languageModels[body.ModelID] {
		base, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(req.Language), "_", "-"), "-")
		if n := len(base); n == 2 || n == 3 {
			body.LanguageCode = strings.ToLower(base)
		}
	}
	limit := textLimits[body.ModelID]
	if limit == 0 {
		limit = defaultTextLimit
	}
	endpoint := c.base + "/v1/text-to-speech/" + voice + "?output_format=" + OutputFormat
	return speech.Say(name, req.Text, speech.Split(req.Text, limit, speech.Runes), func(text string) (*echogen.SpeechAudio, error) {
		body.Text = text
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		pcm, mt, err := c.call(ctx, apiKey, http.MethodPost, endpoint, b, maxAudio, "audio/*")
		switch {
		case err != nil:
			return nil, err
		case mt == "application/json" || strings.HasPrefix(mt, "text/"):
			return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse, "%s sent %s instead of audio", name, mt)
		case len(pcm) < 2:
			return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent no audio", name)
		}
		return &echogen.SpeechAudio{Data: pcm[:len(pcm)&^1], Format: echogen.AudioPCM, SampleRate: echogen.SampleRate, Channels: 1}, nil
	})
}

// settings maps a request's Settings to voice_settings, held to the
// ranges the API takes; nil when none apply.
func settings(s map[string]float64) *voiceSettings {
	var vs voiceSettings
	get := func(k string, lo, hi float64) *float64 {
		if v, ok := s[k]; ok {
			v = min(max(v, lo), hi)
			return &v
		}
		return nil
	}
	vs.Stability, vs.SimilarityBoost, vs.Style = get("stability", 0, 1), get("similarity_boost", 0, 1), get("style", 0, 1)
	vs.Speed = get("speed", 0.7, 1.2)
	if v := get("use_speaker_boost", 0, 1); v != nil {
		on := *v != 0
		vs.UseSpeakerBoost = &on
	}
	if vs == (voiceSettings{}) {
		return nil
	}
	return &vs
}

// ListVoices returns the voices the key may use, from GET /v1/voices, in
// ElevenLabs' order. Errors are those of Synthesize.
func (c *Client) ListVoices(ctx context.Context, apiKey string) ([]echogen.Voice, error) {
	voices, err := c.listVoices(ctx, apiKey)
	return voices, providerhttp.RedactError(err, apiKey)
}

func (c *Client) listVoices(ctx context.Context, apiKey string) ([]echogen.Voice, error) {
	if err := checkKey(apiKey); err != nil {
		return nil, err
	}
	b, _, err := c.call(ctx, apiKey, http.MethodGet, c.base+"/v1/voices", nil, maxJSON, "application/json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Voices []struct {
			VoiceID string `json:"voice_id"`
			Name    string `json:"name"`
		} `json:"voices"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
			Message: name + " sent an answer that is not the JSON we expect", Err: err}
	}
	voices := make([]echogen.Voice, 0, len(list.Voices))
	for _, v := range list.Voices {
		if v.VoiceID != "" {
			voices = append(voices, echogen.Voice{ID: v.VoiceID, Label: v.Name})
		}
	}
	return voices, nil
}

// call makes one request and returns the body of a 2xx answer and its
// media type.
func (c *Client) call(ctx context.Context, apiKey, method, endpoint string, body []byte, limit int64, accept string) ([]byte, string, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(cctx, method, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, "", echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "the %s base URL is not valid", name)
	}
	r.Header.Set("xi-api-key", apiKey)
	r.Header.Set("Accept", accept)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(r)
	if err != nil {
		return nil, "", providerhttp.LLMCallError(cctx, name, err, false, apiKey)
	}
	defer resp.Body.Close()
	b, err := providerhttp.ReadCapped(resp.Body, limit)
	switch {
	case resp.StatusCode >= 300:
		return nil, "", statusError(resp, b, apiKey) // an unread body still leaves the status
	case errors.Is(err, providerhttp.ErrTooLarge):
		return nil, "", echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse, "%s sent more than %s", name, providerhttp.SizeText(limit))
	case err != nil:
		return nil, "", providerhttp.LLMCallError(cctx, name, err, false, apiKey)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return b, mt, nil
}

// statusError maps an error answer. ElevenLabs says why in
// {"detail":{"status":"…","message":"…"}}, {"detail":"…"} or, for a
// request it cannot validate, {"detail":[{"msg":"…"},…]}.
func statusError(resp *http.Response, body []byte, apiKey string) error {
	status, said := detail(body)
	code := providerhttp.LLMCodeOf(resp.StatusCode)
	if notTheKey[status] {
		code = providerhttp.LLMRejected
	}
	cause := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.StatusCode, status))
	retry := providerhttp.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return providerhttp.LLMStatusError(name, code, resp.StatusCode, said, cause, retry, apiKey)
}

// detail reads an error answer's detail.
func detail(body []byte) (status, message string) {
	var top struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &top) != nil || len(top.Detail) == 0 {
		return "", ""
	}
	if s := providerhttp.JSONText(top.Detail); s != "" {
		return "", s
	}
	var d struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if json.Unmarshal(top.Detail, &d) == nil {
		return d.Status, d.Message
	}
	var list []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(top.Detail, &list) == nil {
		msgs := make([]string, 0, len(list))
		for _, e := range list {
			msgs = append(msgs, e.Msg)
		}
		return "", strings.Join(msgs, "; ")
	}
	return "", ""
}

// checkKey refuses a key that cannot be sent.
func checkKey(apiKey string) error {
	if strings.TrimSpace(apiKey) == "" {
		return echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no %s API key", name)
	}
	if !providerhttp.ValidHeaderValue(apiKey) {
		return echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest,
			"the %s API key contains characters that cannot be sent in a request header", name)
	}
	return nil
}

// validID accepts a voice id that goes into the path as it is: ElevenLabs'
// ids are letters and digits.
func validID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

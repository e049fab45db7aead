package openai

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/speech"
)

const (
	// speechLimit is the most characters /audio/speech takes at once.
	speechLimit = 4096
	// maxSpeechBytes caps one answer: 4096 characters are about five
	// minutes of speech, 14 MB of PCM.
	maxSpeechBytes = 64 << 20
)

var _ echogen.TTS = (*Client)(nil)

// Synthesize implements echogen.TTS with POST {base}/audio/speech.
//
// OpenAI itself (a Client whose default base URL is OpenAIBaseURL) is
// asked for raw PCM, 24 kHz mono s16le. Any other server (Groq, Kokoro,
// Speaches, LocalAI, …) is asked for WAV, which they all make while few
// make PCM; since some answer their own default instead, the answer's
// bytes decide whether it is WAV or MP3. Text over 4096 characters is
// split at sentence ends and the pieces' audio joined: PCM and WAV into
// PCM, MP3 end to end. Tone becomes instructions for gpt-4o-mini-tts
// models only (tts-1 refuses them); Settings["speed"] (0.25–4) is the
// speed. Errors are those of Complete.
func (c *Client) Synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	a, err := c.synthesize(ctx, apiKey, req)
	return a, providerhttp.RedactError(err, apiKey)
}

func (c *Client) synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	params, err := c.speechParams(req)
	if err != nil {
		return nil, err
	}
	base, err := c.baseURL(req.BaseURL)
	if err != nil {
		return nil, err
	}
	return speech.Say(c.name, req.Text, speech.Split(req.Text, speechLimit, speech.Runes), func(text string) (*echogen.SpeechAudio, error) {
		params.Input = text
		return c.speak(ctx, apiKey, base, params)
	})
}

// speechParams maps a SpeechRequest to the SDK's request body, but for
// its input.
func (c *Client) speechParams(req echogen.SpeechRequest) (openai.AudioSpeechNewParams, error) {
	var p openai.AudioSpeechNewParams
	model, voice := strings.TrimSpace(req.Model), strings.TrimSpace(req.Voice)
	if model == "" {
		return p, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no model given for %s", c.name)
	}
	if voice == "" {
		return p, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no voice given for %s", c.name)
	}
	p.Model = model
	p.Voice = openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String(voice)}
	p.ResponseFormat = openai.AudioSpeechNewParamsResponseFormatWAV
	if c.base == OpenAIBaseURL {
		p.ResponseFormat = openai.AudioSpeechNewParamsResponseFormatPCM
	}
	if tone := strings.TrimSpace(req.Tone); tone != "" && strings.HasPrefix(model, "gpt-4o-mini-tts") {
		p.Instructions = openai.String(tone)
	}
	if s := req.Settings["speed"]; s > 0 {
		p.Speed = openai.Float(min(max(s, 0.25), 4))
	}
	return p, nil
}

// speak makes one request.
func (c *Client) speak(ctx context.Context, apiKey, base string, p openai.AudioSpeechNewParams) (*echogen.SpeechAudio, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	var raw *http.Response
	svc := openai.NewAudioSpeechService(c.callOptions(apiKey, base, &raw)...)
	resp, err := svc.New(cctx, p)
	if err != nil {
		return nil, c.callError(cctx, raw, err, apiKey)
	}
	defer resp.Body.Close()
	data, err := providerhttp.ReadCapped(resp.Body, maxSpeechBytes)
	if errors.Is(err, providerhttp.ErrTooLarge) {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse,
			"%s sent more than %s of audio", c.name, providerhttp.SizeText(maxSpeechBytes))
	}
	if err != nil {
		return nil, providerhttp.LLMCallError(cctx, c.name, err, false, apiKey)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" || strings.HasPrefix(mt, "text/") {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse, "%s sent %s instead of audio", c.name, mt)
	}
	return c.audio(data, p.ResponseFormat)
}

// audio reads an answer to a request for asked. Only a WAV answer can be
// told from PCM for sure; raw PCM may begin with bytes that look like an
// MP3 header, so an answer to a PCM request is PCM unless it is a WAV.
func (c *Client) audio(data []byte, asked openai.AudioSpeechNewParamsResponseFormat) (*echogen.SpeechAudio, error) {
	if len(data) == 0 {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent no audio", c.name)
	}
	switch got := speech.Sniff(data); {
	case got == echogen.AudioWAV:
		if _, err := speech.DecodeWAV(data); err != nil {
			return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
				Message: c.name + " sent a WAV file we cannot read", Err: err}
		}
		return &echogen.SpeechAudio{Data: data, Format: echogen.AudioWAV}, nil
	case asked == openai.AudioSpeechNewParamsResponseFormatPCM:
		return &echogen.SpeechAudio{Data: data[:len(data)&^1], Format: echogen.AudioPCM, SampleRate: echogen.SampleRate, Channels: 1}, nil
	case got == echogen.AudioMP3:
		return &echogen.SpeechAudio{Data: data, Format: echogen.AudioMP3}, nil
	}
	return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse,
		"%s sent audio that is neither WAV nor MP3", c.name)
}

package gemini

import (
	"context"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"google.golang.org/genai"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/speech"
)

// speechBytes is the text one TTS request carries at most: far inside the
// models' 32k-token context, and small enough that a failed piece costs
// little to redo.
const speechBytes = 5000

// speechLanguages are the languageCode values of Gemini's TTS models: the
// app's ten first, then the rest Google lists. A bare language ("fr")
// takes the first of its regions here.
var speechLanguages = []string{
	"en-US", "ko-KR", "ja-JP", "zh-CN", "fr-FR", "de-DE", "es-US", "it-IT", "pt-BR", "hi-IN",
	"ar-EG", "bn-BD", "en-IN", "id-ID", "mr-IN", "nl-NL", "pl-PL", "ro-RO", "ru-RU", "ta-IN",
	"te-IN", "th-TH", "tr-TR", "uk-UA", "vi-VN",
}

var _ echogen.TTS = (*Client)(nil)

// Synthesize implements echogen.TTS with generateContent asking for AUDIO.
//
// A single voice is req.Voice (Gemini's default when empty), and a Tone
// prefixes the text with "Say <tone>: ", Gemini's way of steering style.
// Exactly two req.Speakers ask for a multi-speaker clip of the
// "Name: line" conversation in Text, introduced as the app did. Language
// is mapped to one of speechLanguages, or left to Gemini when it has none
// close. Text over 5000 bytes is split, at sentence ends for one voice and
// at line ends for a conversation (a longer line goes whole), and the
// pieces' PCM (24 kHz s16le mono) joined. Errors are those of Complete.
func (c *Client) Synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	a, err := c.synthesize(ctx, apiKey, req)
	return a, providerhttp.RedactError(err, apiKey)
}

func (c *Client) synthesize(ctx context.Context, apiKey string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	sc, prefix, split, err := speechConfig(req)
	if err != nil {
		return nil, err
	}
	cl, rec, err := c.sdk(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	return speech.Say(name, req.Text, split(req.Text, speechBytes, speech.Bytes), func(text string) (*echogen.SpeechAudio, error) {
		// params checks the model and builds the one user turn.
		model, contents, cfg, err := params(echogen.LLMRequest{Model: req.Model,
			Messages: []echogen.LLMMessage{{Role: "user", Content: prefix + text}}})
		if err != nil {
			return nil, err
		}
		cfg.ResponseModalities = []string{string(genai.ModalityAudio)}
		cfg.SpeechConfig = sc
		return c.speak(ctx, cl, rec, apiKey, model, contents, cfg)
	})
}

// speechConfig returns the request's speech config, the text to put before
// each piece, and how to split the text.
func speechConfig(req echogen.SpeechRequest) (*genai.SpeechConfig, string, func(string, int, func(string) int) []string, error) {
	sc := &genai.SpeechConfig{LanguageCode: languageCode(req.Language)}
	prebuilt := func(voice string) *genai.VoiceConfig {
		return &genai.VoiceConfig{PrebuiltVoiceConfig: &genai.PrebuiltVoiceConfig{VoiceName: voice}}
	}
	switch len(req.Speakers) {
	case 0:
		var prefix string
		if v := strings.TrimSpace(req.Voice); v != "" {
			sc.VoiceConfig = prebuilt(v)
		}
		if tone := strings.TrimRight(strings.TrimSpace(req.Tone), ":"); tone != "" {
			prefix = "Say " + tone + ": "
		}
		if *sc == (genai.SpeechConfig{}) {
			sc = nil
		}
		return sc, prefix, speech.Split, nil
	case 2:
		a, b := req.Speakers[0], req.Speakers[1]
		for _, s := range req.Speakers {
			if strings.TrimSpace(s.Speaker) == "" || strings.TrimSpace(s.Voice) == "" {
				return nil, "", nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "each %s speaker needs a name and a voice", name)
			}
		}
		if a.Speaker == b.Speaker {
			return nil, "", nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "the two %s speakers need different names", name)
		}
		sc.MultiSpeakerVoiceConfig = &genai.MultiSpeakerVoiceConfig{SpeakerVoiceConfigs: []*genai.SpeakerVoiceConfig{
			{Speaker: a.Speaker, VoiceConfig: prebuilt(a.Voice)},
			{Speaker: b.Speaker, VoiceConfig: prebuilt(b.Voice)},
		}}
		prefix := fmt.Sprintf("TTS the following conversation between %s and %s:\n\n", a.Speaker, b.Speaker)
		return sc, prefix, speech.Lines, nil
	}
	return nil, "", nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest,
		"%s speaks one voice or a conversation of two speakers, not %d", name, len(req.Speakers))
}

// languageCode maps a BCP 47 tag to one of speechLanguages: the same tag,
// else the first with the same language; "" when there is none.
func languageCode(tag string) string {
	tag = strings.ReplaceAll(strings.TrimSpace(tag), "_", "-")
	if tag == "" {
		return ""
	}
	base, _, _ := strings.Cut(tag, "-")
	var sameBase string
	for _, l := range speechLanguages {
		if strings.EqualFold(l, tag) {
			return l
		}
		if lb, _, _ := strings.Cut(l, "-"); sameBase == "" && strings.EqualFold(lb, base) {
			sameBase = l
		}
	}
	return sameBase
}

// speak makes one request.
func (c *Client) speak(ctx context.Context, cl *genai.Client, rec *recorder, apiKey, model string, contents []*genai.Content, cfg *genai.GenerateContentConfig) (*echogen.SpeechAudio, error) {
	out, err := c.generateContent(ctx, cl, rec, apiKey, model, contents, cfg)
	if err != nil {
		return nil, err
	}
	// answer's checks for a withheld answer hold for audio too; its
	// complaint about missing text does not.
	if _, err := answer(out, model, apiKey); echogen.ErrorCode(err) == providerhttp.LLMRefused {
		return nil, err
	}
	cand := out.Candidates[0]
	var parts []*echogen.SpeechAudio
	if cand.Content != nil {
		for _, p := range cand.Content.Parts {
			if p == nil || p.InlineData == nil || len(p.InlineData.Data) == 0 {
				continue
			}
			a, err := inlineAudio(p.InlineData)
			if err != nil {
				return nil, err
			}
			parts = append(parts, a)
		}
	}
	if len(parts) == 0 {
		msg := name + " sent no audio"
		if f := finishReason(cand.FinishReason); f != "" {
			msg += " (finish reason " + providerhttp.Clean(f) + ")"
		}
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: msg}
	}
	a, err := speech.Join(parts)
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
			Message: name + " sent parts of audio that cannot be joined", Err: err}
	}
	return a, nil
}

// inlineAudio reads one inlineData part: raw PCM ("audio/L16;codec=pcm;
// rate=24000", little-endian whatever L16 says), WAV or MP3.
func inlineAudio(b *genai.Blob) (*echogen.SpeechAudio, error) {
	mt, p, err := mime.ParseMediaType(b.MIMEType)
	switch {
	case err != nil:
	case mt == "audio/l16" || mt == "audio/pcm":
		rate, channels := echogen.SampleRate, 1
		if r, err := strconv.Atoi(p["rate"]); err == nil && r > 0 {
			rate = r
		}
		if n, err := strconv.Atoi(p["channels"]); err == nil && n > 0 {
			channels = n
		}
		frame := 2 * channels
		return &echogen.SpeechAudio{Data: b.Data[:len(b.Data)/frame*frame], Format: echogen.AudioPCM, SampleRate: rate, Channels: channels}, nil
	case mt == "audio/wav" || mt == "audio/x-wav" || mt == "audio/wave":
		return &echogen.SpeechAudio{Data: b.Data, Format: echogen.AudioWAV}, nil
	case mt == "audio/mpeg" || mt == "audio/mp3":
		return &echogen.SpeechAudio{Data: b.Data, Format: echogen.AudioMP3}, nil
	}
	return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse,
		"%s sent audio of a type we cannot read (%q)", name, providerhttp.Clean(b.MIMEType))
}

package speech

import (
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

// Say has provider say each piece of text, in order, and joins the audio
// into one answer billed for all of text. No pieces (no text) is a
// KindBadRequest error; pieces that cannot be joined are the provider's
// fault, KindUnavailable.
func Say(provider, text string, pieces []string, say func(piece string) (*echogen.SpeechAudio, error)) (*echogen.SpeechAudio, error) {
	if len(pieces) == 0 {
		return nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, "no text to send to %s", provider)
	}
	parts := make([]*echogen.SpeechAudio, 0, len(pieces))
	for _, p := range pieces {
		a, err := say(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	out, err := Join(parts)
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
			Message: provider + " sent pieces of audio that cannot be joined", Err: err}
	}
	out.Characters = utf8.RuneCountInString(text)
	return out, nil
}

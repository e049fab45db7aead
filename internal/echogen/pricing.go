package echogen

import "strings"

// PricesAsOf dates the price table: the providers' published list prices
// per million tokens, as last checked. Costs are estimates for the user's
// own budgeting; the provider's bill is the truth.
const PricesAsOf = "2025-08-01"

// Price is a model's list price in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64
	OutputPerMTok float64
}

// llmPrices maps a provider to model-name prefixes; the longest prefix
// that matches a model's name prices it ("gpt-4o-mini-2024-07-18" is
// "gpt-4o-mini", not "gpt-4o").
var llmPrices = map[Provider]map[string]Price{
	ProviderOpenAI: {
		"gpt-5": {1.25, 10}, "gpt-5-mini": {0.25, 2}, "gpt-5-nano": {0.05, 0.40},
		"gpt-4.1": {2, 8}, "gpt-4.1-mini": {0.40, 1.60}, "gpt-4.1-nano": {0.10, 0.40},
		"gpt-4o": {2.50, 10}, "gpt-4o-mini": {0.15, 0.60},
		"o3": {2, 8}, "o4-mini": {1.10, 4.40}, "o3-mini": {1.10, 4.40},
	},
	ProviderGemini: {
		"gemini-2.5-pro": {1.25, 10}, "gemini-2.5-flash": {0.30, 2.50}, "gemini-2.5-flash-lite": {0.10, 0.40},
		"gemini-2.0-flash": {0.10, 0.40}, "gemini-2.0-flash-lite": {0.075, 0.30},
	},
	ProviderAnthropic: {
		"claude-opus-4": {15, 75}, "claude-sonnet-4": {3, 15}, "claude-haiku-4": {1, 5},
		"claude-3-7-sonnet": {3, 15}, "claude-3-5-haiku": {0.80, 4},
	},
	ProviderGroq: {
		"llama-3.3-70b-versatile": {0.59, 0.79}, "llama-3.1-8b-instant": {0.05, 0.08},
		"openai/gpt-oss-120b": {0.15, 0.75}, "openai/gpt-oss-20b": {0.10, 0.50},
	},
}

// vendors maps OpenRouter's model prefixes ("openai/gpt-4o") to the
// provider whose list price OpenRouter passes on.
var vendors = map[string]Provider{"openai": ProviderOpenAI, "google": ProviderGemini, "anthropic": ProviderAnthropic}

// EstimateCost prices a model call. Self-hosted providers (Ollama, any
// OpenAI-compatible server) and the offline writer cost nothing; a model
// the table does not know is priced at zero with known false.
func EstimateCost(provider Provider, model string, inputTokens, outputTokens int) (usd float64, known bool) {
	switch provider {
	case ProviderOllama, ProviderOpenAICompatible, ProviderLocal:
		return 0, true
	case ProviderOpenRouter:
		vendor, name, ok := strings.Cut(model, "/")
		p, found := vendors[vendor]
		if !ok || !found {
			return 0, false
		}
		if usd, known := EstimateCost(p, name, inputTokens, outputTokens); known {
			return usd, true
		}
		// OpenRouter writes Anthropic's versions with dots: claude-sonnet-4.5.
		return EstimateCost(p, strings.ReplaceAll(name, ".", "-"), inputTokens, outputTokens)
	}
	best, ok := longestPrefix(llmPrices[provider], model)
	if !ok {
		return 0, false
	}
	return (float64(inputTokens)*best.InputPerMTok + float64(outputTokens)*best.OutputPerMTok) / 1e6, true
}

// speechPrices are list prices of speech models, by model-name prefix: per
// million characters of text, and per minute of audio for models billed
// by the audio they produce (token prices turned into minutes: Gemini
// counts 32 audio tokens a second; OpenAI quotes gpt-4o-mini-tts at about
// $0.015 a minute). ElevenLabs sells credits; a character is a credit on
// multilingual v2 and half of one on the flash and turbo models, priced
// here at the Creator plan's $0.22 per thousand credits.
var speechPrices = map[Provider]map[string]struct{ PerMChars, PerMinute float64 }{
	ProviderOpenAI: {"tts-1": {15, 0}, "tts-1-hd": {30, 0}, "gpt-4o-mini-tts": {0, 0.015}},
	ProviderGemini: {
		"gemini-2.5-flash-preview-tts": {0.125, 32 * 60 * 10 / 1e6},
		"gemini-2.5-pro-preview-tts":   {0.25, 32 * 60 * 20 / 1e6},
	},
	ProviderElevenLabs: {"eleven_multilingual_v2": {220, 0}, "eleven_flash": {110, 0}, "eleven_turbo": {110, 0}, "eleven_v3": {220, 0}},
}

// EstimateSpeechCost prices a speech call from its characters and the
// seconds of audio it made; self-hosted and offline engines cost nothing.
func EstimateSpeechCost(provider Provider, model string, characters int, seconds float64) (usd float64, known bool) {
	switch provider {
	case ProviderLocal, ProviderOpenAICompatible, ProviderOllama:
		return 0, true
	}
	p, ok := longestPrefix(speechPrices[provider], model)
	if !ok {
		return 0, false
	}
	return float64(characters)*p.PerMChars/1e6 + seconds/60*p.PerMinute, true
}

// imagePrices are list prices per square image at standard quality.
var imagePrices = map[Provider]map[string]float64{
	ProviderOpenAI: {"gpt-image-1": 0.042, "gpt-image-1-mini": 0.011, "dall-e-3": 0.04, "dall-e-2": 0.02},
	ProviderGemini: {"imagen-4.0-generate": 0.04, "imagen-4.0-fast": 0.02, "imagen-4.0-ultra": 0.06, "imagen-3.0": 0.03, "gemini-2.5-flash-image": 0.039},
}

// EstimateImageCost prices one generated image. ImageRouter passes on the
// price of whichever model it routes to, which the table cannot know.
func EstimateImageCost(provider Provider, model string) (usd float64, known bool) {
	if provider == ProviderLocal {
		return 0, true
	}
	return longestPrefix(imagePrices[provider], model)
}

// longestPrefix finds the entry whose key is the longest prefix of model.
func longestPrefix[V any](table map[string]V, model string) (V, bool) {
	model = strings.TrimPrefix(model, "models/")
	var best V
	bestLen := -1
	for prefix, v := range table {
		if strings.HasPrefix(model, prefix) && len(prefix) > bestLen {
			best, bestLen = v, len(prefix)
		}
	}
	return best, bestLen >= 0
}

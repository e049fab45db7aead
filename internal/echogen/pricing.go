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
	model = strings.TrimPrefix(model, "models/")
	best, bestLen := Price{}, -1
	for prefix, p := range llmPrices[provider] {
		if strings.HasPrefix(model, prefix) && len(prefix) > bestLen {
			best, bestLen = p, len(prefix)
		}
	}
	if bestLen < 0 {
		return 0, false
	}
	return (float64(inputTokens)*best.InputPerMTok + float64(outputTokens)*best.OutputPerMTok) / 1e6, true
}

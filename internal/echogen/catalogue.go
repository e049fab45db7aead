package echogen

import (
	"context"
	"sort"
	"sync"
	"time"
)

// What a provider can do.
const (
	KindLLM    = "llm"
	KindTTS    = "tts"
	KindImage  = "image"
	KindScrape = "scrape"
)

// Voice is a TTS voice.
type Voice struct {
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
}

// ProviderInfo is one entry of the provider catalogue, as the caller sees
// it.
type ProviderInfo struct {
	ID           Provider
	Name         string
	Kinds        []string
	HasKey       bool   // the caller can use it now
	KeySource    string // "user", "server" or ""
	Models       []string
	ModelsSource string // "live" (asked the provider with the caller's key) or "builtin"
	TTSModels    []string
	Voices       []Voice
	Languages    []string
}

// ModelLister asks a provider which models a key can use.
type ModelLister interface {
	ListModels(ctx context.Context, apiKey, baseURL string) ([]string, error)
}

// ModelListerFunc adapts a function to a ModelLister.
type ModelListerFunc func(ctx context.Context, apiKey, baseURL string) ([]string, error)

// ListModels calls f.
func (f ModelListerFunc) ListModels(ctx context.Context, apiKey, baseURL string) ([]string, error) {
	return f(ctx, apiKey, baseURL)
}

// VoiceLister asks a speech provider which voices a key can use; the
// offline engine is asked with no key.
type VoiceLister interface {
	ListVoices(ctx context.Context, apiKey string) ([]Voice, error)
}

// builtinCatalogue is what the server knows without asking (checked
// 2026-11). Live model lists replace Models when the caller has a key.
func builtinCatalogue() []ProviderInfo {
	geminiVoices := []Voice{
		{"Zephyr", "Bright"}, {"Puck", "Upbeat"}, {"Charon", "Informative"}, {"Kore", "Firm"}, {"Fenrir", "Excitable"},
		{"Leda", "Youthful"}, {"Orus", "Firm"}, {"Aoede", "Breezy"}, {"Callirrhoe", "Easy-going"}, {"Autonoe", "Bright"},
		{"Enceladus", "Breathy"}, {"Iapetus", "Clear"}, {"Umbriel", "Easy-going"}, {"Algieba", "Smooth"}, {"Despina", "Smooth"},
		{"Erinome", "Clear"}, {"Algenib", "Gravelly"}, {"Rasalgethi", "Informative"}, {"Laomedeia", "Upbeat"}, {"Achernar", "Soft"},
		{"Alnilam", "Firm"}, {"Schedar", "Even"}, {"Gacrux", "Mature"}, {"Pulcherrima", "Forward"}, {"Achird", "Friendly"},
		{"Zubenelgenubi", "Casual"}, {"Vindemiatrix", "Gentle"}, {"Sadachbia", "Lively"}, {"Sadaltager", "Knowledgeable"}, {"Sulafat", "Warm"},
	}
	openaiVoices := []Voice{{ID: "alloy"}, {ID: "ash"}, {ID: "ballad"}, {ID: "coral"}, {ID: "echo"}, {ID: "fable"},
		{ID: "nova"}, {ID: "onyx"}, {ID: "sage"}, {ID: "shimmer"}}
	return []ProviderInfo{
		{ID: ProviderOpenAI, Name: "OpenAI", Kinds: []string{KindLLM, KindTTS, KindImage},
			Models: []string{"gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4o"}, TTSModels: []string{"gpt-4o-mini-tts", "tts-1", "tts-1-hd"}, Voices: openaiVoices},
		{ID: ProviderGemini, Name: "Google Gemini", Kinds: []string{KindLLM, KindTTS, KindImage},
			Models: []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"}, TTSModels: []string{"gemini-2.5-flash-preview-tts", "gemini-2.5-pro-preview-tts"},
			Voices: geminiVoices, Languages: []string{"en-US", "ko-KR", "ja-JP", "zh-CN", "fr-FR", "de-DE", "es-US", "it-IT", "pt-BR", "hi-IN"}},
		{ID: ProviderElevenLabs, Name: "ElevenLabs", Kinds: []string{KindTTS}, TTSModels: []string{"eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_turbo_v2_5"}},
		{ID: ProviderGroq, Name: "Groq", Kinds: []string{KindLLM}, Models: []string{"llama-3.3-70b-versatile", "llama-3.1-8b-instant"}},
		{ID: ProviderOpenRouter, Name: "OpenRouter", Kinds: []string{KindLLM}, Models: []string{"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash"}},
		{ID: ProviderAnthropic, Name: "Anthropic", Kinds: []string{KindLLM}, Models: []string{"claude-sonnet-4-5", "claude-haiku-4-5"}},
		{ID: ProviderImageRouter, Name: "ImageRouter", Kinds: []string{KindImage}},
		{ID: ProviderFirecrawl, Name: "Firecrawl", Kinds: []string{KindScrape}},
		{ID: ProviderHyperbrowser, Name: "Hyperbrowser", Kinds: []string{KindScrape}},
		{ID: ProviderOllama, Name: "Ollama", Kinds: []string{KindLLM}},
		{ID: ProviderOpenAICompatible, Name: "OpenAI-compatible server", Kinds: []string{KindLLM, KindTTS}},
		{ID: ProviderLocal, Name: "Offline engines", Kinds: []string{KindLLM, KindTTS, KindImage}, HasKey: true, Models: []string{"extractive"},
			TTSModels: []string{"espeak-ng"}, Voices: []Voice{{ID: "en-us"}, {ID: "en-us+m3"}, {ID: "en-us+f3"}, {ID: "en-gb"}}},
	}
}

// catalogueTTL is how long a live model list is reused.
const catalogueTTL = 10 * time.Minute

// liveListTimeout bounds each provider's model list call.
const liveListTimeout = 5 * time.Second

type cachedList struct {
	list any // []string or []Voice
	at   time.Time
}

// Catalogue lists the providers with what the caller can use.
type Catalogue struct {
	library *LibraryService
	listers map[Provider]ModelLister
	voices  map[Provider]VoiceLister
	clock   Clock

	mu    sync.Mutex
	cache map[string]cachedList // user id + key id + what → live list
}

// NewCatalogue returns a Catalogue; listers fetch live model lists and
// voices live voice lists.
func NewCatalogue(library *LibraryService, listers map[Provider]ModelLister, voices map[Provider]VoiceLister, clock Clock) *Catalogue {
	return &Catalogue{library: library, listers: listers, voices: voices, clock: clock, cache: map[string]cachedList{}}
}

// Providers returns the catalogue for the caller. A provider's live model
// list, asked with the caller's key, replaces the built-in one; when it
// cannot be had, the built-in list is served and says so.
func (c *Catalogue) Providers(ctx context.Context, p Principal) ([]ProviderInfo, error) {
	keys, err := c.library.store.ListAPIKeys(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	userKey := map[Provider]APIKey{}
	for _, k := range keys {
		if prev, ok := userKey[k.Provider]; k.Status != KeyInvalid && (!ok || (k.Status == KeyValid && prev.Status != KeyValid)) {
			userKey[k.Provider] = k
		}
	}
	out := builtinCatalogue()
	var wg sync.WaitGroup
	for i := range out {
		info := &out[i]
		if info.ModelsSource == "" && len(info.Models) > 0 {
			info.ModelsSource = "builtin"
		}
		k, ok := userKey[info.ID]
		switch {
		case ok:
			info.HasKey, info.KeySource = true, "user"
		case info.ID == ProviderLocal:
		case c.library.serverKeys[info.ID] != "":
			info.HasKey, info.KeySource = true, "server"
			continue
		default:
			continue
		}
		if lister := c.listers[info.ID]; lister != nil && ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				list := func(ctx context.Context, secret, base string) ([]string, error) {
					models, err := lister.ListModels(ctx, secret, base)
					sort.Strings(models)
					return models, err
				}
				if models := live(c, ctx, p.UserID, k, "models", list); len(models) > 0 {
					info.Models, info.ModelsSource = models, "live"
				}
			}()
		}
		if lister := c.voices[info.ID]; lister != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				list := func(ctx context.Context, secret, _ string) ([]Voice, error) { return lister.ListVoices(ctx, secret) }
				if voices := live(c, ctx, p.UserID, k, "voices", list); len(voices) > 0 {
					info.Voices = voices
				}
			}()
		}
	}
	wg.Wait()
	return out, nil
}

// live asks the provider with the user's key k (none for the offline
// engine) for a list, reusing an answer for catalogueTTL. Failures give
// nil: the built-in list stands.
func live[T any](c *Catalogue, ctx context.Context, userID string, k APIKey, what string, fetch func(ctx context.Context, apiKey, baseURL string) ([]T, error)) []T {
	cacheKey := userID + "\x00" + k.ID + "\x00" + what
	now := c.clock.Now()
	c.mu.Lock()
	hit, ok := c.cache[cacheKey]
	c.mu.Unlock()
	if ok && now.Sub(hit.at) < catalogueTTL {
		return hit.list.([]T)
	}
	var secret string
	if k.ID != "" {
		var err error
		if secret, _, err = c.library.OpenAPIKey(ctx, userID, k.ID); err != nil {
			return nil
		}
	}
	base, _ := k.Metadata["base_url"].(string)
	lctx, cancel := context.WithTimeout(ctx, liveListTimeout)
	defer cancel()
	list, err := fetch(lctx, secret, base)
	if err != nil || len(list) == 0 {
		return nil
	}
	c.mu.Lock()
	if len(c.cache) > 10_000 { // keep memory bounded: drop what has expired
		for k, v := range c.cache {
			if now.Sub(v.at) >= catalogueTTL {
				delete(c.cache, k)
			}
		}
	}
	c.cache[cacheKey] = cachedList{list: list, at: now}
	c.mu.Unlock()
	return list
}

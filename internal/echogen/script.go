package echogen

import "context"

// The app's six script styles.
const (
	StylePlayful       = "playful"
	StyleSerious       = "serious"
	StyleInvestigative = "investigative"
	StyleCoffeeChat    = "coffee_chat"
	StyleTechTalk      = "tech_talk"
	StyleStorytelling  = "storytelling"
)

// Styles lists the script styles.
func Styles() []string {
	return []string{StylePlayful, StyleSerious, StyleInvestigative, StyleCoffeeChat, StyleTechTalk, StyleStorytelling}
}

// WordsPerMinute is the speaking pace scripts are sized with.
const WordsPerMinute = 150

// Speaker is one voice of a script.
type Speaker struct {
	Name    string `json:"name"`
	Persona string `json:"persona,omitempty"`
}

// ScriptSpec is what a script must be: its style, speakers, length and
// language.
type ScriptSpec struct {
	Style         string
	Speakers      []Speaker // 1 to 4
	TargetMinutes int       // 1 to 60
	Language      string    // BCP 47
	CustomPrompt  string
	Tone          bool // mark tone in Segment.Tone
}

// TargetWords is the spoken length the spec asks for.
func (s ScriptSpec) TargetWords() int { return s.TargetMinutes * WordsPerMinute }

// LLMMessage is one turn of a chat with a model.
type LLMMessage struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// LLMRequest asks a model for text. With Schema set the provider is asked
// for JSON that follows it (structured output), where it can.
type LLMRequest struct {
	Model       string
	Messages    []LLMMessage
	Schema      map[string]any
	SchemaName  string
	Temperature *float64
	MaxTokens   int
	// BaseURL is the server of a self-hosted provider (Ollama, any
	// OpenAI-compatible server); empty for hosted ones.
	BaseURL string
}

// LLMResponse is a model's answer and what it cost.
type LLMResponse struct {
	Text         string
	Model        string
	InputTokens  int
	OutputTokens int
	FinishReason string // "stop", "length", …
}

// LLM is one provider's chat API. Errors are *Error values: a refused key
// is KindUnauthenticated, a 429 KindRateLimited with RetryAfter, a 5xx or
// network failure KindUnavailable, other 4xx KindBadRequest, each with the
// provider's message.
type LLM interface {
	Complete(ctx context.Context, apiKey string, req LLMRequest) (*LLMResponse, error)
}

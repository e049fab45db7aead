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

// StyleInfo describes a style to a model: how the app names it and the
// tones that suit it (contract §4.5).
type StyleInfo struct {
	Name        string
	Description string
	Tones       []string
}

// DescribeStyle returns what the app says of a style; unknown styles get
// the default's description.
func DescribeStyle(style string) StyleInfo {
	switch style {
	case StyleSerious:
		return StyleInfo{"Serious & Professional", "in-depth, analytical discussion", []string{"authoritatively", "informatively", "thoughtfully", "measured"}}
	case StyleInvestigative:
		return StyleInfo{"Investigative Mystery", "deep-dive investigative style that builds suspense", []string{"mysteriously", "urgently", "skeptically", "intrigued"}}
	case StyleCoffeeChat:
		return StyleInfo{"Coffee Chat", "casual, intimate conversation between friends", []string{"warmly", "softly", "amused", "relaxed"}}
	case StyleTechTalk:
		return StyleInfo{"Tech Talk", "technology-focused discussion that explains how things work", []string{"enthusiastically", "clearly", "curious", "impressed"}}
	case StyleStorytelling:
		return StyleInfo{"Storytelling", "narrative-driven presentation", []string{"dramatically", "whispering", "wistfully", "suspenseful"}}
	}
	return StyleInfo{"Playful & Fun", "light-hearted, entertaining conversation", []string{"cheerfully", "excitedly", "laughing", "teasing"}}
}

// ScriptSource is what a script is written from: a title and Markdown
// text, or, with no text, a topic the model writes about from what it
// knows.
type ScriptSource struct {
	Title string
	Text  string
	Topic string
}

// ScriptDraft is a writer's finished script.
type ScriptDraft struct {
	Title    string
	Segments []Segment
	// Chapters start at turns of Segments, in order; nil for none.
	Chapters []ChapterMark
	// Notes records how it was written (chunks summarised, extend and trim
	// rounds, repairs), for the script's metadata.
	Notes map[string]any
}

// LLMCallFunc calls the job's model with the job's key; the handler behind
// it applies rate limits, retries and usage recording.
type LLMCallFunc func(ctx context.Context, req LLMRequest) (*LLMResponse, error)

// StepCache keeps a job's finished steps, so a retried job replays them
// instead of paying for them again. A miss, or a cache that fails, is
// never an error: the step is simply done again.
type StepCache interface {
	Load(ctx context.Context, step string, v any) bool
	Store(ctx context.Context, step string, v any)
}

// ScriptTask is one script to write.
type ScriptTask struct {
	Source   ScriptSource
	Spec     ScriptSpec
	Model    string
	Call     LLMCallFunc // nil for offline writers
	Cache    StepCache
	Progress func(ctx context.Context, stage string, percent float64, message string)
}

// ScriptWriter writes a script. Errors are *Error values; the draft's
// segments have passed CleanSegments.
type ScriptWriter interface {
	WriteScript(ctx context.Context, task ScriptTask) (*ScriptDraft, error)
}

package echogen

import (
	"context"
	"io"
)

// SampleRate is the rate every turn is decoded to before assembly: 24 kHz,
// mono, signed 16-bit little-endian PCM, the native output of OpenAI's and
// Gemini's speech APIs.
const SampleRate = 24000

// Audio encodings a speech provider may answer with.
const (
	AudioPCM = "pcm" // raw signed 16-bit little-endian; SpeechAudio says the rate and channels
	AudioWAV = "wav"
	AudioMP3 = "mp3"
)

// Episode formats audio_render can produce.
const (
	FormatMP3  = "mp3"
	FormatM4A  = "m4a"
	FormatOpus = "opus"
	FormatWAV  = "wav"
)

// SpeakerVoice pairs a script speaker with a provider voice.
type SpeakerVoice struct {
	Speaker string
	Voice   string
}

// SpeechRequest asks a speech provider to say Text.
type SpeechRequest struct {
	Model string
	Voice string
	Text  string
	// Tone is how the line is said ("warmly"): instructions for models that
	// take them (gpt-4o-mini-tts, Gemini); others ignore it.
	Tone     string
	Language string // BCP 47; "" lets the provider decide
	// Settings are the provider's own knobs: ElevenLabs stability,
	// similarity_boost, style and speed; OpenAI speed; espeak-ng speed
	// (words a minute) and pitch (0–99).
	Settings map[string]float64
	// BaseURL is the server of a self-hosted provider (OpenAI-compatible
	// TTS such as Kokoro, Speaches or LocalAI); empty for hosted ones.
	BaseURL string
	// Speakers, with exactly two entries, asks Gemini for one
	// multi-speaker clip of a "Name: line" conversation in Text; nil for
	// a single voice.
	Speakers []SpeakerVoice
}

// SpeechAudio is what a speech provider answered.
type SpeechAudio struct {
	Data       []byte
	Format     string // AudioPCM, AudioWAV or AudioMP3
	SampleRate int    // AudioPCM only (WAV and MP3 carry their own)
	Channels   int    // AudioPCM only
	Characters int    // characters billed
}

// TTS is one provider's speech API. Errors are *Error values as for LLM:
// a refused key is KindUnauthenticated, a 429 KindRateLimited with
// RetryAfter, a 5xx or network failure KindUnavailable, another 4xx
// KindBadRequest, each with the provider's message. Text longer than the
// provider takes in one request is split by the adapter, and the pieces'
// audio joined, so callers send whole turns.
type TTS interface {
	Synthesize(ctx context.Context, apiKey string, req SpeechRequest) (*SpeechAudio, error)
}

// ImageRequest asks for a cover image.
type ImageRequest struct {
	Model   string
	Prompt  string
	Title   string // the episode title, which the offline painter typesets
	Size    string // "1024x1024"
	Quality string // "auto", "low", "medium", "high"
	BaseURL string
}

// Image is a generated picture.
type Image struct {
	Data        []byte
	ContentType string // "image/png", "image/jpeg" or "image/webp"
}

// ImageGen is one provider's image API; errors as for TTS.
type ImageGen interface {
	Generate(ctx context.Context, apiKey string, req ImageRequest) (*Image, error)
}

// ChapterMark starts a chapter at a turn of the script.
type ChapterMark struct {
	Title     string
	FirstTurn int
}

// Chapter is a chapter of a finished episode, in seconds.
type Chapter struct {
	Title string  `json:"title"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// AudioTags are an episode's metadata, written as ID3 tags into MP3s.
type AudioTags struct {
	Title, Artist, Album, Comment string
	Cover                         []byte // PNG or JPEG; nil for none
	CoverType                     string // its content type
	Chapters                      []Chapter
}

// TurnSpan is where one turn lies in the episode, in samples at
// SampleRate.
type TurnSpan struct {
	Start, End int64
}

// AssembleRequest joins canonical turns into one episode.
type AssembleRequest struct {
	Turns int
	// OpenTurn opens turn i as a canonical WAV (SampleRate, mono, 16-bit),
	// as Canonical made it. It is called once per turn, in order.
	OpenTurn    func(ctx context.Context, i int) (io.ReadCloser, error)
	GapMs       int     // silence between turns
	Normalize   bool    // to TargetLUFS integrated with true peaks at most MaxTruePeak
	TargetLUFS  float64 // default -16
	MaxTruePeak float64 // dBTP, default -1
	Format      string  // FormatMP3, FormatM4A, FormatOpus or FormatWAV
	Bitrate     int     // kbps; 0 for the format's default
	Tags        AudioTags
	Chapters    []ChapterMark // turned into Tags.Chapters from the turns' real times
}

// AssembleResult says what was produced. Format may differ from the
// request's when no encoder for it is installed; Note then says why.
type AssembleResult struct {
	Format      string
	ContentType string
	Encoder     string // "ffmpeg", "lame" or "wav"
	Bitrate     int    // kbps; 0 for WAV
	Samples     int64  // at SampleRate
	Turns       []TurnSpan
	Chapters    []Chapter
	InputLUFS   float64 // integrated loudness before normalising
	OutputLUFS  float64 // after
	TruePeak    float64 // dBTP, after
	GainDB      float64
	Note        string
}

// Seconds is the episode's length.
func (r *AssembleResult) Seconds() float64 { return float64(r.Samples) / SampleRate }

// AudioEngine decodes, joins, normalises and encodes audio.
type AudioEngine interface {
	// Canonical decodes a provider's answer (PCM at any rate and channel
	// count, WAV, MP3) to a canonical WAV and returns it with its length
	// in samples.
	Canonical(ctx context.Context, a *SpeechAudio) (wav []byte, samples int64, err error)
	// Assemble streams the turns, with gaps, into w in the requested
	// format, normalised when asked, in bounded memory.
	Assemble(ctx context.Context, req AssembleRequest, w io.Writer) (*AssembleResult, error)
	// Retag copies an MP3 from r to w with its ID3 tag replaced by tags.
	Retag(ctx context.Context, r io.Reader, w io.Writer, tags AudioTags) error
}

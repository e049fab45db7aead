// Package espeak is the offline speech engine: it runs espeak-ng, which
// needs no key and no network. Client implements echogen.TTS.
//
// A voice is an espeak-ng voice name, optionally with a variant after a
// "+": "en-us", "fr", "en-gb+m3". Distinct speakers sound distinct with one
// language and different variants, for example "en-us", "en-us+m3",
// "en-us+f3" and "en-us+m5"; `espeak-ng --voices=variant` lists the
// variants.
package espeak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/speech"
)

// Error codes of the errors Client returns.
const (
	CodeUnavailable = "tts_unavailable"     // espeak-ng is not installed
	CodeInvalid     = "tts_invalid_request" // nothing to say, or a voice name we do not pass on
	CodeUnknown     = "tts_unknown_voice"   // espeak-ng has no such voice
	CodeFailed      = "tts_failed"          // espeak-ng failed
	CodeCanceled    = "tts_canceled"        // the caller's context ended
)

// Defaults of the settings.
const (
	DefaultVoice = "en-us"
	DefaultSpeed = 165 // words a minute; espeak-ng's own 175 is brisk for a podcast
	DefaultPitch = 50
)

const binary = "espeak-ng"

// Options configures a Client.
type Options struct {
	// Path is the espeak-ng program; "" looks it up on PATH at each call,
	// so installing it needs no restart.
	Path string
}

// Client runs espeak-ng. It is safe for concurrent use.
type Client struct {
	path string
}

var _ echogen.TTS = (*Client)(nil)

// New returns a Client.
func New(opts Options) *Client { return &Client{path: opts.Path} }

// Synthesize implements echogen.TTS; apiKey is ignored. It answers
// espeak-ng's WAV as it is: 22050 Hz mono 16-bit, whose sizes say
// "streaming" rather than its length.
//
// The voice is req.Voice, else the lower-cased language ("fr-fr", which
// espeak-ng maps to its closest voice), else DefaultVoice. Settings
// "speed" (words a minute, 80–450) and "pitch" (0–99) default to
// DefaultSpeed and DefaultPitch. The text goes to espeak-ng on its
// standard input, never as an argument, so no text is taken for a flag.
// Model and Tone are ignored.
//
// Errors: KindNotImplemented (CodeUnavailable) when espeak-ng is not
// installed; KindBadRequest for an empty text or a voice espeak-ng does
// not have; KindUnavailable when espeak-ng fails or the context ends.
func (c *Client) Synthesize(ctx context.Context, _ string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, echogen.Errorf(echogen.KindBadRequest, CodeInvalid, "no text to say")
	}
	voice := strings.TrimSpace(req.Voice)
	if voice == "" {
		voice = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(req.Language), "_", "-"))
	}
	if voice == "" {
		voice = DefaultVoice
	}
	if !validVoice(voice) {
		return nil, echogen.Errorf(echogen.KindBadRequest, CodeInvalid, "%q is not an espeak-ng voice name", providerhttp.Clean(voice))
	}
	speed := setting(req.Settings, "speed", DefaultSpeed, 80, 450)
	pitch := setting(req.Settings, "pitch", DefaultPitch, 0, 99)
	out, err := c.run(ctx, strings.NewReader(req.Text), "--stdout", "-v", voice, "-s", speed, "-p", pitch)
	if err != nil {
		if strings.Contains(err.Error(), "voice does not exist") {
			return nil, &echogen.Error{Kind: echogen.KindBadRequest, Code: CodeUnknown,
				Message: fmt.Sprintf("espeak-ng has no voice %q", voice), Err: err}
		}
		return nil, err
	}
	if _, err := speech.DecodeWAV(out); err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeFailed, Message: "espeak-ng wrote no WAV audio", Err: err}
	}
	return &echogen.SpeechAudio{Data: out, Format: echogen.AudioWAV, Characters: utf8.RuneCountInString(req.Text)}, nil
}

// ListVoices returns espeak-ng's voices (`espeak-ng --voices`): the
// language-named voice as ID, its name as Label. apiKey is ignored.
// Errors are those of Synthesize.
func (c *Client) ListVoices(ctx context.Context, _ string) ([]echogen.Voice, error) {
	out, err := c.run(ctx, nil, "--voices")
	if err != nil {
		return nil, err
	}
	return parseVoices(string(out)), nil
}

// parseVoices reads the table of `espeak-ng --voices`:
//
//	Pty Language       Age/Gender VoiceName          File                 Other Languages
//	 5  af              --/M      Afrikaans          gmw/af
//	 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
func parseVoices(table string) []echogen.Voice {
	var voices []echogen.Voice
	seen := map[string]bool{}
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 4 || seen[f[1]] || !validVoice(f[1]) {
			continue
		}
		seen[f[1]] = true
		voices = append(voices, echogen.Voice{ID: f[1], Label: strings.ReplaceAll(f[3], "_", " ")})
	}
	return voices
}

// run runs espeak-ng with args, and stdin as its input, and returns its
// standard output.
func (c *Client) run(ctx context.Context, stdin *strings.Reader, args ...string) ([]byte, error) {
	path := c.path
	if path == "" {
		var err error
		if path, err = exec.LookPath(binary); err != nil {
			return nil, notInstalled(err)
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	switch {
	case err == nil:
		return out, nil
	case ctx.Err() != nil:
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeCanceled, Message: "espeak-ng was stopped: " + ctx.Err().Error(), Err: context.Cause(ctx)}
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, exec.ErrNotFound):
		return nil, notInstalled(err)
	}
	said := providerhttp.Clean(stderr.String())
	if said == "" {
		said = err.Error()
	}
	return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: CodeFailed, Message: "espeak-ng failed: " + said, Err: err}
}

func notInstalled(err error) error {
	return &echogen.Error{Kind: echogen.KindNotImplemented, Code: CodeUnavailable,
		Message: "espeak-ng is not installed: apt-get install espeak-ng (or brew install espeak-ng), or choose a speech provider", Err: err}
}

// setting returns Settings[key] rounded and held to [lo, hi], def when
// absent, as an argument.
func setting(s map[string]float64, key string, def, lo, hi int) string {
	v, ok := s[key]
	if !ok {
		return strconv.Itoa(def)
	}
	return strconv.Itoa(min(max(int(v+0.5), lo), hi))
}

// validVoice accepts voice names as espeak-ng writes them ("en-us",
// "en-gb-x-rp", "en-us+f3"); it refuses anything that could be read as a
// flag or a file path.
func validVoice(v string) bool {
	if v == "" || len(v) > 64 || v[0] == '-' || v[0] == '+' {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '+') {
			return false
		}
	}
	return true
}

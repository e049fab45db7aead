package espeak_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/espeak"
	"github.com/echogen/server/internal/provider/speech"
	"github.com/echogen/server/internal/testenv"
)

const text = "Welcome back to the show. Today we talk about bridges."

// installed returns a Client of the installed espeak-ng, or skips the test.
func installed(t *testing.T) *espeak.Client {
	t.Helper()
	return espeak.New(espeak.Options{Path: testenv.RequireTool(t, "espeak-ng", "espeak-ng")})
}

// say synthesizes req and decodes the WAV.
func say(t *testing.T, c *espeak.Client, req echogen.SpeechRequest) ([]byte, *speech.WAV) {
	t.Helper()
	a, err := c.Synthesize(context.Background(), "ignored", req)
	if err != nil {
		t.Fatalf("Synthesize: %v", err)
	}
	if a.Format != echogen.AudioWAV || a.Characters != len([]rune(req.Text)) {
		t.Errorf("Format, Characters = %q, %d; want wav, %d", a.Format, a.Characters, len([]rune(req.Text)))
	}
	w, err := speech.DecodeWAV(a.Data)
	if err != nil {
		t.Fatalf("the answer is not a WAV: %v", err)
	}
	if w.SampleRate != 22050 || w.Channels != 1 {
		t.Errorf("WAV at %d Hz × %d, want 22050 × 1", w.SampleRate, w.Channels)
	}
	return a.Data, w
}

func seconds(w *speech.WAV) float64 { return float64(len(w.PCM)) / float64(2*w.SampleRate) }

func TestSynthesize(t *testing.T) {
	t.Parallel()
	c := installed(t)
	_, w := say(t, c, echogen.SpeechRequest{Text: text})
	if words := len(strings.Fields(text)); seconds(w) < 0.3*float64(words) {
		t.Errorf("%.2f s of speech for %d words", seconds(w), words)
	}
}

// TestLanguage: with no voice, the language picks espeak-ng's voice for
// it.
func TestLanguage(t *testing.T) {
	t.Parallel()
	c := installed(t)
	const bonjour = "Bonjour à tous, et bienvenue."
	byLanguage, _ := say(t, c, echogen.SpeechRequest{Text: bonjour, Language: "fr-FR"})
	byVoice, _ := say(t, c, echogen.SpeechRequest{Text: bonjour, Voice: "fr"})
	english, _ := say(t, c, echogen.SpeechRequest{Text: bonjour})
	if !bytes.Equal(byLanguage, byVoice) {
		t.Error(`Language "fr-FR" does not speak as voice "fr"`)
	}
	if bytes.Equal(byLanguage, english) {
		t.Error(`Language "fr-FR" speaks as the default voice`)
	}
	// A voice beats the language; a variant changes the voice.
	m3, _ := say(t, c, echogen.SpeechRequest{Text: bonjour, Voice: "en-us+m3", Language: "fr-FR"})
	if bytes.Equal(m3, byLanguage) || bytes.Equal(m3, english) {
		t.Error(`voice "en-us+m3" is not its own voice`)
	}
}

// TestDashText: a text that looks like a flag is spoken, not obeyed.
func TestDashText(t *testing.T) {
	t.Parallel()
	c := installed(t)
	for _, s := range []string{"-h", "--help me now", "--stdout -v fr"} {
		_, w := say(t, c, echogen.SpeechRequest{Text: s})
		if seconds(w) < 0.3 {
			t.Errorf("%q: %.2f s of speech", s, seconds(w))
		}
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	c := installed(t)
	_, slow := say(t, c, echogen.SpeechRequest{Text: text, Settings: map[string]float64{"speed": 100}})
	_, fast := say(t, c, echogen.SpeechRequest{Text: text, Settings: map[string]float64{"speed": 5000}}) // held to 450
	if seconds(fast)*2 > seconds(slow) {
		t.Errorf("450 wpm lasts %.2f s, 100 wpm %.2f s", seconds(fast), seconds(slow))
	}
	low, _ := say(t, c, echogen.SpeechRequest{Text: text, Settings: map[string]float64{"pitch": 10}})
	high, _ := say(t, c, echogen.SpeechRequest{Text: text, Settings: map[string]float64{"pitch": 90}})
	if bytes.Equal(low, high) {
		t.Error("pitch changes nothing")
	}
}

// fake stands a shell script in for espeak-ng, through the launcher (see
// TestMain).
func fake(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "espeak-ng")
	if err := os.WriteFile(path+".sh", []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(launcher, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandLine: the arguments espeak-ng gets, and the text on its
// standard input.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wav := speech.EncodeWAV(make([]byte, 100), 22050, 1)
	if err := os.WriteFile(filepath.Join(dir, "out.wav"), wav, 0o644); err != nil {
		t.Fatal(err)
	}
	c := espeak.New(espeak.Options{Path: fake(t, `printf '%s\n' "$@" > "`+dir+`/args"; cat > "`+dir+`/stdin"; cat "`+dir+`/out.wav"`)})
	tests := []struct {
		req  echogen.SpeechRequest
		args string
	}{
		{echogen.SpeechRequest{Text: "-v xx hello", Language: "pt_BR"}, "--stdout -v pt-br -s 165 -p 50"},
		{echogen.SpeechRequest{Text: "hi", Voice: "en-gb+f3", Settings: map[string]float64{"speed": 210.4, "pitch": -3}}, "--stdout -v en-gb+f3 -s 210 -p 0"},
		{echogen.SpeechRequest{Text: "hi", Settings: map[string]float64{"speed": 10, "pitch": 120}}, "--stdout -v en-us -s 80 -p 99"},
	}
	for _, tt := range tests {
		a, err := c.Synthesize(context.Background(), "", tt.req)
		if err != nil {
			t.Fatalf("Synthesize: %v", err)
		}
		if !bytes.Equal(a.Data, wav) {
			t.Error("the answer is not espeak-ng's WAV as it is")
		}
		args, _ := os.ReadFile(filepath.Join(dir, "args"))
		stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
		if got := strings.Join(strings.Fields(string(args)), " "); got != tt.args {
			t.Errorf("arguments %q, want %q", got, tt.args)
		}
		if string(stdin) != tt.req.Text {
			t.Errorf("standard input %q, want %q", stdin, tt.req.Text)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "espeak-ng")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		path     string // "" for the installed espeak-ng
		ctx      context.Context
		req      echogen.SpeechRequest
		kind     echogen.Kind
		code     string
		contains string
	}{
		{"not installed", missing, nil, echogen.SpeechRequest{Text: "hi"},
			echogen.KindNotImplemented, espeak.CodeUnavailable, "espeak-ng is not installed: apt-get install espeak-ng"},
		{"not a program", os.DevNull, nil, echogen.SpeechRequest{Text: "hi"},
			echogen.KindNotImplemented, espeak.CodeUnavailable, "not installed"},
		{"blank text", missing, nil, echogen.SpeechRequest{Text: " \n"},
			echogen.KindBadRequest, espeak.CodeInvalid, "no text"},
		{"voice like a flag", missing, nil, echogen.SpeechRequest{Text: "hi", Voice: "--stdin"},
			echogen.KindBadRequest, espeak.CodeInvalid, "not an espeak-ng voice name"},
		{"voice like a path", missing, nil, echogen.SpeechRequest{Text: "hi", Voice: "../../etc/passwd"},
			echogen.KindBadRequest, espeak.CodeInvalid, "not an espeak-ng voice name"},
		{"unknown voice", "", nil, echogen.SpeechRequest{Text: "hi", Voice: "xx-nowhere"},
			echogen.KindBadRequest, espeak.CodeUnknown, `espeak-ng has no voice "xx-nowhere"`},
		{"unknown language", "", nil, echogen.SpeechRequest{Text: "hi", Language: "tlh"},
			echogen.KindBadRequest, espeak.CodeUnknown, `espeak-ng has no voice "tlh"`},
		{"failure", fake(t, "echo 'out of memory' >&2; exit 3"), nil, echogen.SpeechRequest{Text: "hi"},
			echogen.KindUnavailable, espeak.CodeFailed, "espeak-ng failed: out of memory"},
		{"no WAV", fake(t, "echo hello"), nil, echogen.SpeechRequest{Text: "hi"},
			echogen.KindUnavailable, espeak.CodeFailed, "wrote no WAV"},
		{"canceled", "", canceled, echogen.SpeechRequest{Text: text},
			echogen.KindUnavailable, espeak.CodeCanceled, "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path
			if path == "" {
				path = testenv.RequireTool(t, "espeak-ng", "espeak-ng")
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			a, err := espeak.New(espeak.Options{Path: path}).Synthesize(ctx, "", tt.req)
			var e *echogen.Error
			if !errors.As(err, &e) {
				t.Fatalf("Synthesize = %v, %v; want an *echogen.Error", a, err)
			}
			if e.Kind != tt.kind || e.Code != tt.code || !strings.Contains(e.Message, tt.contains) {
				t.Errorf("error %v (kind %v), want kind %v, code %q, message with %q", err, e.Kind, tt.kind, tt.code, tt.contains)
			}
		})
	}
}

func TestListVoices(t *testing.T) {
	t.Parallel()
	got, err := installed(t).ListVoices(context.Background(), "")
	if err != nil {
		t.Fatalf("ListVoices: %v", err)
	}
	for _, want := range []echogen.Voice{{ID: "en-us", Label: "English (America)"}, {ID: "fr-fr", Label: "French (France)"}} {
		found := false
		for _, v := range got {
			found = found || v == want
		}
		if !found {
			t.Errorf("%+v is not among %d voices", want, len(got))
		}
	}

	table := `Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  yue             --/M      Chinese_(Cantonese) sit/yue              (zh-yue 5)(zh 8)
 5  yue             --/M      Chinese_(Cantonese,_latin_as_Jyutping) sit/yue-Latn-jyutping (zh-yue 5)(zh 8)
`
	c := espeak.New(espeak.Options{Path: fake(t, `[ "$1" = --voices ] && cat <<'EOF'
`+table+`EOF
`)})
	got, err = c.ListVoices(context.Background(), "")
	if err != nil {
		t.Fatalf("ListVoices: %v", err)
	}
	want := []echogen.Voice{{ID: "af", Label: "Afrikaans"}, {ID: "en-us", Label: "English (America)"}, {ID: "yue", Label: "Chinese (Cantonese)"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("voices (-want +got):\n%s", d)
	}

	_, err = espeak.New(espeak.Options{Path: filepath.Join(t.TempDir(), "none")}).ListVoices(context.Background(), "")
	if echogen.ErrorCode(err) != espeak.CodeUnavailable {
		t.Errorf("ListVoices without espeak-ng: %v", err)
	}
}

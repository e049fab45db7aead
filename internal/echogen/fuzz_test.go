package echogen_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
)

// stageDirection is a bracketed stage direction as CleanSegments removes
// it; none may be left in a clean turn.
var stageDirection = regexp.MustCompile(`\[[^\]\n]{0,60}\]`)

// FuzzCleanSegments feeds the script repairer arbitrary speakers, lines and
// tones. It must either refuse with a KindUnavailable invalid_script error
// or return turns that are all spoken by a declared speaker, carry spoken
// text without bracketed directions, and respect the tone switch.
func FuzzCleanSegments(f *testing.F) {
	// The cases of TestCleanSegments: speakers one per line, then two turns.
	for _, c := range [][8]string{
		{"Alex\nSam", "1", "Alex", "Hello there.", "warmly", "Sam", "Hi!", ""},
		{"Alex\nSam", "1", "alex", "Hi.", "", "Speaker 2", "Hi.", ""},
		{"Alex\nSam", "1", "Sam", "Sam: Right.", "", "Alex", "**Alex:** Yes.", ""},
		{"Alex\nSam", "1", "Alex", "(excitedly) Big news today!", "", "Sam", "That's wild [laughs] really.", ""},
		{"Alex\nSam", "1", "Sam", "*sighs* It is *really* late.", "", "Alex", "The map (drawn in 1820) survives.", ""},
		{"Alex\nSam", "1", "Alex", "Well (chuckles) maybe.", "", "Alex", "[laughs] Sure.", "[amused]"},
		{"Alex\nSam", "0", "Alex", "(warmly) Hi.", "soft", "Alex", "[music]", ""},
		{"Alex\nSam", "1", "Alex", "One.\n\nTwo.", "", "Narrator", "Once.", ""},
		{"Alex\nSam", "1", "Speaker 3", "Once.", "", "Alex", "[pause]", ""},
		{"Ada\nGrace\nLin\nMo", "1", "host #4", "- # > • Ready?", "", "grace ", "[[x]] and [a[b]c]", "(((()))"},
		// Removing one direction must not leave another behind.
		{"Ada", "1", "Ada", "Go [" + strings.Repeat("a", 58) + "[laughs]x] on.", "", "Ada", "Hi.", ""},
		{"Ada", "0", "Ada", "Go [" + strings.Repeat("b", 58) + "*x*] on.", "", "Ada", "So [la\nughs] on.", ""},
	} {
		f.Add(c[0], c[1] == "1", c[2], c[3], c[4], c[5], c[6], c[7])
	}
	f.Fuzz(func(t *testing.T, speakers string, tone bool, s1, c1, t1, s2, c2, t2 string) {
		var spec echogen.ScriptSpec
		spec.Tone = tone
		for i, name := range strings.Split(speakers, "\n") {
			if i == 4 {
				break
			}
			spec.Speakers = append(spec.Speakers, echogen.Speaker{Name: name})
		}
		in := []echogen.Segment{{Speaker: s1, Content: c1, Tone: t1}, {Speaker: s2, Content: c2, Tone: t2}}
		keep := append([]echogen.Segment(nil), in...)
		out, repairs, err := echogen.CleanSegments(spec, in)
		if !reflect.DeepEqual(in, keep) {
			t.Fatalf("CleanSegments modified its input: %+v", in)
		}
		if repairs < 0 {
			t.Fatalf("repairs = %d", repairs)
		}
		if err != nil {
			var e *echogen.Error
			if !errors.As(err, &e) || e.Kind != echogen.KindUnavailable || e.Code != echogen.CodeInvalidScript {
				t.Fatalf("CleanSegments error %v is not an invalid_script KindUnavailable *echogen.Error", err)
			}
			if out != nil {
				t.Fatalf("CleanSegments returned %+v with error %v", out, err)
			}
			return
		}
		if len(out) == 0 || len(out) > len(in) {
			t.Fatalf("%d turns out of %d, no error", len(out), len(in))
		}
		declared := map[string]bool{}
		for _, sp := range spec.Speakers {
			declared[sp.Name] = true
		}
		for i, seg := range out {
			if !declared[seg.Speaker] || strings.TrimSpace(seg.Speaker) == "" {
				t.Errorf("turn %d: speaker %q is not declared (%q)", i, seg.Speaker, speakers)
			}
			if strings.TrimSpace(seg.Content) == "" || seg.Content != strings.TrimSpace(seg.Content) {
				t.Errorf("turn %d: content %q is empty or untrimmed", i, seg.Content)
			}
			if m := stageDirection.FindString(seg.Content); m != "" {
				t.Errorf("turn %d: content %q still holds the stage direction %q", i, seg.Content, m)
			}
			if !tone && seg.Tone != "" {
				t.Errorf("turn %d: tone %q with tone off", i, seg.Tone)
			}
			if utf8.RuneCountInString(seg.Tone) > 40 {
				t.Errorf("turn %d: tone %q is longer than 40 characters", i, seg.Tone)
			}
		}
		if err := echogen.CheckSegments(out); err != nil {
			t.Errorf("clean turns fail CheckSegments: %v", err)
		}
	})
}

// FuzzMergePatch checks MergePatch against RFC 7396 on arbitrary JSON: the
// target is left alone, a null removes a member, members the patch does not
// name are kept, and applying the same patch twice changes nothing more.
func FuzzMergePatch(f *testing.F) {
	for _, c := range [][2]string{
		{`{"theme":"dark","onboarding":{"responses":[1],"completedAt":"x"}}`, `{"onboarding":{"responses":[2]}}`},
		{`{"a":"b","c":{"d":"e","f":"g"}}`, `{"a":"z","c":{"f":null}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`},
		{`["a","b"]`, `{"a":"c"}`},
		{`{"a":"foo"}`, `null`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`},
		{`{"e":null}`, `{"a":1}`},
	} {
		f.Add([]byte(c[0]), []byte(c[1]))
	}
	f.Fuzz(func(t *testing.T, targetJSON, patchJSON []byte) {
		var target, patch any
		if json.Unmarshal(targetJSON, &target) != nil || json.Unmarshal(patchJSON, &patch) != nil {
			return
		}
		before, _ := json.Marshal(target)
		got := echogen.MergePatch(target, patch)
		if after, _ := json.Marshal(target); string(after) != string(before) {
			t.Fatalf("MergePatch modified its target: %s, then %s", before, after)
		}
		if !reflect.DeepEqual(echogen.MergePatch(got, patch), got) {
			t.Fatalf("MergePatch is not idempotent for patch %s", patchJSON)
		}
		p, ok := patch.(map[string]any)
		if !ok {
			if !reflect.DeepEqual(got, patch) {
				t.Fatalf("a non-object patch %s must replace the target; got %v", patchJSON, got)
			}
			return
		}
		out, ok := got.(map[string]any)
		if !ok {
			t.Fatalf("an object patch gave %T", got)
		}
		tm, _ := target.(map[string]any)
		for k, v := range p {
			if v == nil {
				if _, there := out[k]; there {
					t.Errorf("member %q survived a null", k)
				}
			} else if _, there := out[k]; !there {
				t.Errorf("member %q of the patch is missing", k)
			}
		}
		for k, v := range tm {
			if _, named := p[k]; !named && !reflect.DeepEqual(out[k], v) {
				t.Errorf("member %q, not in the patch, changed", k)
			}
		}
		for k := range out {
			_, inT := tm[k]
			_, inP := p[k]
			if !inT && !inP {
				t.Errorf("member %q came from nowhere", k)
			}
		}
	})
}

// FuzzValidatePayload decodes arbitrary JSON as a job payload and hands it
// to each job handler's Validate, which parses it. Validate must never
// panic and may only fail with a coded *echogen.Error of KindInvalid
// (naming a field under body.payload), KindBadRequest or KindNotImplemented.
func FuzzValidatePayload(f *testing.F) {
	tts := map[echogen.Provider]echogen.TTS{echogen.ProviderLocal: nil}
	images := map[echogen.Provider]echogen.ImageGen{echogen.ProviderLocal: nil}
	llms := map[echogen.Provider]echogen.LLM{echogen.ProviderOpenAI: nil}
	ingester := echogen.NewIngestHandler(nil, nil, nil, 0)
	script := echogen.NewScriptHandler(nil, llms, nil, nil, nil, echogen.ScriptOptions{})
	audio := echogen.NewAudioHandler(nil, tts, nil, nil, echogen.AudioOptions{})
	cover := echogen.NewCoverHandler(nil, images, nil, nil, 0, "")
	handlers := []echogen.JobHandler{ingester, script, audio, cover, echogen.NewPodcastHandler(nil, ingester, script, audio, cover)}

	id := "6f1c1a52-4c3c-4d7e-9a43-1d2b3c4d5e6f"
	for _, p := range []map[string]any{
		{"text": sourceText},
		{"content_id": id, "provider": "openai", "model": "gpt-4o-mini", "style": "tech_talk",
			"speakers": []any{map[string]any{"name": "Ada", "persona": "an engineer"}, "Grace"}, "target_minutes": 30.0, "language": "pt-BR",
			"custom_prompt": "Keep it light.", "tone": false},
		{"text": "a", "topic": "b", "provider": "openai"},
		{"text": "a", "speakers": []any{"Ann", "ann"}},
		{"text": "a", "speakers": []any{map[string]any{"name": "A", "voice": "x"}}},
		{"text": "a", "target_minutes": 2.5},
		{"text": "a", "provider": "ollama"},
		{"text": "a", "provider": "gemini"},
		{"script_id": id, "gap_ms": 400.0},
		{"script_id": id, "format": "mp3"},
		{"script_id": id, "voices": map[string]any{"Sam": map[string]any{"provider": "local", "voice": "en-gb"}}},
		{"podcast_id": id},
		{"url": "https://example.com/a", "title": "A"},
		{"text": sourceText, "title": "Quillon", "target_minutes": 1.0},
	} {
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		for i := range handlers {
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`{"url": 5}`))
	f.Add(uint8(4), []byte(`{"voices": {"": null}, "speakers": [{}], "target_minutes": 1e300}`))

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		var payload map[string]any
		if json.Unmarshal(data, &payload) != nil {
			return
		}
		h := handlers[int(which)%len(handlers)]
		err := h.Validate(payload)
		if err == nil {
			return
		}
		var e *echogen.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s Validate(%s): %v is not an *echogen.Error", h.Type(), data, err)
		}
		switch e.Kind {
		case echogen.KindInvalid:
			if len(e.Fields) == 0 {
				t.Fatalf("%s Validate(%s): KindInvalid without a field: %v", h.Type(), data, err)
			}
			for _, fe := range e.Fields {
				if len(fe.Loc) < 2 || fe.Loc[0] != "body" || fe.Loc[1] != "payload" || fe.Msg == "" {
					t.Fatalf("%s Validate(%s): field %+v", h.Type(), data, fe)
				}
			}
		case echogen.KindBadRequest, echogen.KindNotImplemented:
		default:
			t.Fatalf("%s Validate(%s): kind %v: %v", h.Type(), data, e.Kind, err)
		}
	})
}

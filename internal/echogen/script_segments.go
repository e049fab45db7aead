package echogen

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// CodeInvalidScript marks a model answer that is not a usable script. The
// writer asks again; a job that still gets one is retried.
const CodeInvalidScript = "invalid_script"

var (
	bracketed  = regexp.MustCompile(`\[[^\]\n]{0,60}\]`)
	starred    = regexp.MustCompile(`\*{1,2}([^*\n]{1,60})\*{1,2}`)
	parenthesa = regexp.MustCompile(`\(([^()\n]{1,40})\)`)
	leadingTag = regexp.MustCompile(`^\s*[\[(]([^\])\n]{1,40})[\])]\s*`)
	spaces     = regexp.MustCompile(`\s+`)
	speakerNum = regexp.MustCompile(`(?i)^(?:speaker|host)\s*#?\s*(\d)$`)
)

// actionWords are the words of stage directions models write into spoken
// text ("(laughs)", "*sighs*"); an adverb ending in -ly counts too.
var actionWords = map[string]bool{
	"laughs": true, "laughing": true, "laugh": true, "chuckles": true, "chuckling": true, "giggles": true,
	"sighs": true, "sighing": true, "pauses": true, "pause": true, "beat": true, "clears": true, "coughs": true,
	"gasps": true, "whispers": true, "whispering": true, "excited": true, "music": true, "sfx": true,
	"applause": true, "smiles": true, "grins": true, "nods": true, "inhales": true, "exhales": true,
	"thoughtful": true, "laughter": true, "sound": true, "intro": true, "outro": true, "jingle": true,
}

// isDirection reports whether s (the inside of stars or parentheses) reads
// as a stage direction rather than speech; adverbs ("excitedly") count
// when asked, since "*really*" is emphasis but "(excitedly)" is not.
func isDirection(s string, adverbs bool) bool {
	words := strings.Fields(strings.ToLower(s))
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	first := strings.Trim(words[0], ".,!?;:")
	return actionWords[first] || (adverbs && len(words) <= 2 && strings.HasSuffix(first, "ly") && len(first) > 4)
}

// CleanSegments checks a model's turns against the spec and repairs what
// can be repaired without guessing: speaker names are matched to the
// declared ones ignoring case ("Speaker 2" is the second), a "Name:"
// prefix is dropped, stage directions ("[laughs]", "*sighs*",
// "(excitedly)") leave the spoken text and, with tone on, become the tone,
// and turns left empty are dropped. It returns the clean turns and how many
// repairs it made. A turn by an undeclared speaker, or no turn at all, is
// a KindUnavailable error with code CodeInvalidScript.
func CleanSegments(spec ScriptSpec, segs []Segment) ([]Segment, int, error) {
	byName := make(map[string]string, len(spec.Speakers))
	for _, sp := range spec.Speakers {
		byName[strings.ToLower(strings.TrimSpace(sp.Name))] = sp.Name
	}
	out := make([]Segment, 0, len(segs))
	repairs := 0
	for i, seg := range segs {
		name, ok := byName[strings.ToLower(strings.TrimSpace(seg.Speaker))]
		if !ok {
			if m := speakerNum.FindStringSubmatch(strings.TrimSpace(seg.Speaker)); m != nil {
				if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(spec.Speakers) {
					name, ok = spec.Speakers[n-1].Name, true
					repairs++
				}
			}
		}
		if !ok {
			return nil, repairs, Errorf(KindUnavailable, CodeInvalidScript, "turn %d is spoken by %q, who is not one of the declared speakers (%s)", i+1, seg.Speaker, speakerList(spec.Speakers))
		}
		text, tone, fixed := cleanLine(seg.Content, spec.Speakers)
		if fixed {
			repairs++
		}
		if t := strings.TrimSpace(seg.Tone); t != "" {
			tone = strings.Trim(t, "[]()* ")
		}
		if !spec.Tone {
			tone = ""
		}
		if r := []rune(tone); len(r) > 40 {
			tone = string(r[:40])
		}
		if text == "" {
			repairs++
			continue
		}
		out = append(out, Segment{Speaker: name, Content: text, Tone: tone})
	}
	if len(out) == 0 {
		return nil, repairs, Errorf(KindUnavailable, CodeInvalidScript, "the script has no spoken lines")
	}
	if err := CheckSegments(out); err != nil {
		return nil, repairs, Errorf(KindUnavailable, CodeInvalidScript, "the script is not valid: %s", ErrorMessage(err))
	}
	return out, repairs, nil
}

// cleanLine takes the stage directions and speaker prefix out of one line
// of speech; tone is the first direction found.
func cleanLine(s string, speakers []Speaker) (text, tone string, fixed bool) {
	orig := s
	s = strings.TrimSpace(s)
	for _, sp := range speakers {
		for _, prefix := range []string{sp.Name + ":", "**" + sp.Name + "**:", "**" + sp.Name + ":**"} {
			if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
				s = strings.TrimSpace(s[len(prefix):])
			}
		}
	}
	// A short tag before the line is the app's tone markup: "(warmly) Hi".
	if m := leadingTag.FindStringSubmatch(s); m != nil && len(strings.Fields(m[1])) <= 3 {
		tone = strings.TrimSpace(m[1])
		s = s[len(m[0]):]
	}
	dropBracketed := func(s string) string {
		return bracketed.ReplaceAllStringFunc(s, func(m string) string {
			if tone == "" {
				tone = strings.Trim(m, "[] ")
			}
			return " "
		})
	}
	s = dropBracketed(s)
	s = starred.ReplaceAllStringFunc(s, func(m string) string {
		inner := strings.Trim(m, "* ")
		if isDirection(inner, false) {
			if tone == "" {
				tone = inner
			}
			return " "
		}
		return inner // emphasis is not spoken markup
	})
	s = parenthesa.ReplaceAllStringFunc(s, func(m string) string {
		inner := strings.Trim(m, "() ")
		if isDirection(inner, true) {
			if tone == "" {
				tone = inner
			}
			return " "
		}
		return m
	})
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	// Taking one direction out, or markup, or a line break, can bring
	// brackets close enough to make another: "[… [laughs] …]".
	for bracketed.MatchString(s) {
		s = strings.TrimSpace(spaces.ReplaceAllString(dropBracketed(s), " "))
	}
	s = strings.TrimLeft(s, "-#>• ")
	return s, tone, s != strings.TrimSpace(spaces.ReplaceAllString(orig, " "))
}

func speakerList(speakers []Speaker) string {
	names := make([]string, len(speakers))
	for i, s := range speakers {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// ErrorMessage is the caller-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if len(e.Fields) > 0 {
			return fmt.Sprintf("%s (%s)", e.Message, strings.Join(e.Fields[0].Loc, "."))
		}
		return e.Message
	}
	return err.Error()
}

// SpokenWords counts the words of a script's spoken text.
func SpokenWords(segs []Segment) int {
	n := 0
	for _, s := range segs {
		n += wordCount(s.Content)
	}
	return n
}

package llmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Brain answers the script writer's requests (internal/pipeline) the way
// a well-behaved model would: notes, outlines and dialogue made of the
// source's own sentences, at the length each prompt asks for. Tests bend
// it with Scale (off-length drafts) and Fault (any other answer).
type Brain struct {
	// Scale multiplies the words the n-th call (from 0) writes; nil is 1.
	Scale func(r Request, n int) float64
	// Fault, when it returns a reply, answers the n-th call instead.
	Fault func(r Request, n int) *Reply

	mu    sync.Mutex
	calls int
}

var (
	wordsAsked    = regexp.MustCompile(`about (\d+) (?:spoken |more )?words`)
	sectionsAsked = regexp.MustCompile(`exactly (\d+) sections`)
	sourceBlock   = regexp.MustCompile(`(?s)<source>\n(.*)\n</source>`)
	topicLine     = regexp.MustCompile(`(?m)^Topic: (.*)$`)
	titleLine     = regexp.MustCompile(`(?m)^Source title: (.*)$`)
	sentenceEnd   = regexp.MustCompile(`[.!?]["”’)]?\s+`)
)

// Answer is the answer func for New.
func (b *Brain) Answer(r Request) Reply {
	b.mu.Lock()
	n := b.calls
	b.calls++
	b.mu.Unlock()
	if b.Fault != nil {
		if reply := b.Fault(r, n); reply != nil {
			return *reply
		}
	}
	scale := 1.0
	if b.Scale != nil {
		scale = b.Scale(r, n)
	}
	prompt := "" // the task; later user turns ask for repairs
	for _, m := range r.Messages {
		if m.Role == "user" {
			prompt = m.Content
			break
		}
	}
	sentences := Sentences(prompt)
	words := int(float64(intAfter(wordsAsked, prompt, 300)) * scale)
	var v any
	switch r.SchemaName {
	case "source_notes":
		v = map[string]any{"notes": take(sentences, words)}
	case "script_outline":
		n := intAfter(sectionsAsked, prompt, 1)
		title := "An episode"
		if m := titleLine.FindStringSubmatch(prompt); m != nil {
			title = "Inside " + m[1]
		} else if m := topicLine.FindStringSubmatch(prompt); m != nil {
			title = "All about " + m[1]
		}
		sections := make([]any, n)
		for i := range sections {
			sections[i] = map[string]any{"heading": fmt.Sprintf("Part %d", i+1), "points": take(sentences[min(i, len(sentences)-1):], 12)}
		}
		v = map[string]any{"title": title, "sections": sections}
	case "script_segments":
		v = map[string]any{"segments": dialogue(speakersOf(r.Schema), sentences, words, strings.Contains(r.System, "tone field, in one or two words"))}
	default:
		return Reply{Text: "I am a stand-in and was not asked for a known schema."}
	}
	out, _ := json.Marshal(v)
	return Reply{Text: string(out)}
}

// Calls is how many requests the brain has answered.
func (b *Brain) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

func intAfter(re *regexp.Regexp, s string, def int) int {
	if m := re.FindStringSubmatch(s); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return def
}

// Sentences are the sentences of a prompt's source block, or made from its
// topic when it has none.
func Sentences(prompt string) []string {
	text := ""
	if m := sourceBlock.FindStringSubmatch(prompt); m != nil {
		text = m[1]
	} else if m := topicLine.FindStringSubmatch(prompt); m != nil {
		text = fmt.Sprintf("People often ask about %[1]s. There is a lot to say about %[1]s. Experts disagree on parts of %[1]s. The history of %[1]s is long.", m[1])
	}
	if text == "" { // a section to condense: its lines, after "Name: "
		for _, l := range strings.Split(prompt, "\n") {
			if name, said, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") && len(strings.Fields(said)) >= 3 {
				text += said + " "
			}
		}
	}
	var out []string
	for _, s := range sentenceEnd.Split(strings.Join(strings.Fields(strings.NewReplacer("Part ", "\nPart ", "- ", "").Replace(text)), " "), -1) {
		if s = strings.TrimSpace(s); len(strings.Fields(s)) >= 3 {
			out = append(out, s+".")
		}
	}
	if len(out) == 0 {
		out = []string{"There is little to go on here, so this line repeats itself."}
	}
	return out
}

// take cycles through sentences until they hold about words words.
func take(sentences []string, words int) []string {
	var out []string
	for i, n := 0, 0; n < words; i++ {
		s := sentences[i%len(sentences)]
		out = append(out, s)
		n += len(strings.Fields(s))
	}
	return out
}

func speakersOf(schema map[string]any) []string {
	var names []string
	props, _ := schema["properties"].(map[string]any)
	segs, _ := props["segments"].(map[string]any)
	items, _ := segs["items"].(map[string]any)
	iprops, _ := items["properties"].(map[string]any)
	speaker, _ := iprops["speaker"].(map[string]any)
	enum, _ := speaker["enum"].([]any)
	for _, e := range enum {
		if s, ok := e.(string); ok {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		names = []string{"Alex", "Sam"}
	}
	return names
}

// dialogue deals two sentences a turn to the speakers in turn until the
// turns hold about words words.
func dialogue(speakers []string, sentences []string, words int, tone bool) []any {
	lines := take(sentences, max(words, 1))
	var out []any
	for i := 0; i < len(lines); i += 2 {
		text := strings.Join(lines[i:min(i+2, len(lines))], " ")
		t := ""
		if tone && len(out)%3 == 0 {
			t = "warmly"
		}
		out = append(out, map[string]any{"speaker": speakers[len(out)%len(speakers)], "text": text, "tone": t})
	}
	return out
}

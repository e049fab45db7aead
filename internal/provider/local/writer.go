// Package local is the offline script writer: an extractive summariser that
// turns an article into a podcast dialogue without a model or a network.
//
// It picks the article's most informative sentences, keeps them in document
// order and hands them out in turns across the speakers, joined by short
// connecting lines from a small per-style phrase bank ("Here's where it gets
// interesting:", "So what does that mean in practice?"). Every fact comes
// from a source sentence, quoted verbatim (after Markdown is stripped); the
// connecting lines carry none. Output is deterministic: the same input
// gives the same script.
//
// Length: the script's spoken words land within ±20% of
// ScriptSpec.TargetWords when the source has enough usable text. When it
// has not, every usable sentence is used and the script is simply shorter
// than asked (its length estimate, TargetWords-based elsewhere, is then an
// overestimate); nothing is padded.
//
// Language: the writer does not translate. ScriptSpec.Language is not
// changed; the connecting phrases are English, so for a language other than
// English ("en", "en-*", or empty) the script is source sentences in
// speaker turns with no connecting lines at all.
package local

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/echogen/server/internal/echogen"
)

// maxContent is the longest segment content CheckSegments accepts.
const maxContent = 10_000

// maxTurnWords and maxTurnSentences bound one speaker's turn.
const (
	maxTurnWords     = 80
	maxTurnSentences = 3
)

// Writer writes scripts from articles. The zero value is ready to use.
type Writer struct{}

// NewWriter returns a Writer.
func NewWriter() *Writer { return &Writer{} }

// turn is one line of the script before it becomes a Segment: an optional
// connecting phrase (lead) and the source sentences it carries.
type turn struct {
	speaker   string
	lead      string
	sentences []string
	tone      string
}

func (t turn) content() string {
	parts := make([]string, 0, len(t.sentences)+1)
	if t.lead != "" {
		parts = append(parts, t.lead)
	}
	parts = append(parts, t.sentences...)
	return strings.Join(parts, " ")
}

func (t turn) words() int { return wordCount(t.content()) }

// Write turns an article (title and Markdown) into a script following
// spec: its title and segments. A source without usable sentences is a
// KindInvalid error with code "no_text"; a bad spec is KindInvalid with code
// "invalid_spec".
func (w *Writer) Write(ctx context.Context, title, markdown string, spec echogen.ScriptSpec) (string, []echogen.Segment, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	scriptTitle, turns, err := build(title, markdown, spec)
	if err != nil {
		return "", nil, err
	}
	segs := make([]echogen.Segment, len(turns))
	for i, t := range turns {
		segs[i] = echogen.Segment{Speaker: t.speaker, Content: t.content(), Tone: t.tone}
	}
	if err := echogen.CheckSegments(segs); err != nil {
		return "", nil, err
	}
	return scriptTitle, segs, nil
}

func checkSpec(spec echogen.ScriptSpec) error {
	if n := len(spec.Speakers); n < 1 || n > 4 {
		return echogen.Errorf(echogen.KindInvalid, "invalid_spec", "a script has 1 to 4 speakers, not %d", n)
	}
	for _, s := range spec.Speakers {
		if strings.TrimSpace(s.Name) == "" {
			return echogen.Errorf(echogen.KindInvalid, "invalid_spec", "speaker names must not be empty")
		}
	}
	if spec.TargetMinutes < 1 || spec.TargetMinutes > 60 {
		return echogen.Errorf(echogen.KindInvalid, "invalid_spec", "target minutes must be 1 to 60, not %d", spec.TargetMinutes)
	}
	return nil
}

// usableSentences returns the document's speakable sentences, in order.
func usableSentences(doc document) []sentence {
	var out []sentence
	for _, b := range doc.blocks {
		for _, s := range splitSentences(b.text) {
			if !usable(s) {
				continue
			}
			for _, piece := range splitLong(s, maxContent) {
				out = append(out, sentence{text: piece, index: len(out), section: b.section, words: wordCount(piece)})
			}
		}
	}
	return out
}

// english reports whether the connecting phrases suit the language.
func english(lang string) bool {
	l := strings.ToLower(strings.TrimSpace(lang))
	return l == "" || l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_")
}

func build(title, markdown string, spec echogen.ScriptSpec) (string, []turn, error) {
	if err := checkSpec(spec); err != nil {
		return "", nil, err
	}
	doc := parseMarkdown(markdown)
	sents := usableSentences(doc)
	if len(sents) == 0 {
		return "", nil, echogen.Errorf(echogen.KindInvalid, "no_text", "the source has no usable sentences to build a script from")
	}
	scriptTitle := strings.TrimSpace(reSpaces.ReplaceAllString(title, " "))
	if scriptTitle == "" {
		for _, h := range doc.headings {
			if h != "" {
				scriptTitle = h
				break
			}
		}
	}
	if scriptTitle == "" {
		scriptTitle = sents[0].text
	}
	scriptTitle = shorten(scriptTitle, 80)
	rank(sents, scriptTitle, doc.headings)

	style := styleFor(spec.Style)
	en := english(spec.Language)
	target := spec.TargetWords()
	goal := target
	var turns []turn
	// The connecting lines add words the sentence choice cannot see until
	// the script is laid out, so lay it out, measure, and correct the goal.
	poolWords := 0
	for _, s := range sents {
		poolWords += s.words
	}
	for range 4 {
		chosen := sents
		if poolWords > goal {
			chosen = pick(sents, goal)
		}
		turns = arrange(chosen, spec.Speakers, style, en, scriptTitle)
		total := 0
		for _, t := range turns {
			total += t.words()
		}
		if len(chosen) == len(sents) && total <= target {
			break // the source is shorter than asked: all of it is used
		}
		if diff := total - target; diff*20 <= target && -diff*20 <= target {
			break // within ±5%
		}
		goal += target - total
		if goal < 1 {
			goal = 1
		}
	}
	if spec.Tone {
		markTones(turns, style)
	}
	return scriptTitle, turns, nil
}

// arrange lays the chosen sentences out in turns, rotating the speakers,
// with an opener, transitions, questions and a closing in English.
func arrange(chosen []sentence, speakers []echogen.Speaker, style phrases, en bool, title string) []turn {
	n := len(speakers)
	var turns []turn
	add := func(lead string, sents []string) {
		turns = append(turns, turn{speaker: speakers[len(turns)%n].Name, lead: lead, sentences: sents})
	}
	if en {
		t := strings.TrimRight(title, ".!?…:; ")
		add(fmt.Sprintf(style.openers[len(chosen)%len(style.openers)], t), nil)
	}
	for j, c := range chunk(chosen) {
		lead := ""
		if en && j > 0 {
			seed := c[0].index
			switch {
			case j%4 == 2 && n > 1:
				add(style.questions[seed%len(style.questions)], nil)
			case j%4 == 2:
				lead = style.questions[seed%len(style.questions)]
			case j%2 == 1:
				lead = style.transitions[seed%len(style.transitions)]
			}
		}
		texts := make([]string, len(c))
		for i, s := range c {
			texts[i] = s.text
		}
		add(lead, texts)
	}
	if en {
		add(style.closings[len(chosen)%len(style.closings)], nil)
	}
	return turns
}

// chunk groups consecutive chosen sentences into turns: at most
// maxTurnSentences sentences and about maxTurnWords words, never across a
// heading, never over the segment length cap.
func chunk(chosen []sentence) [][]sentence {
	var out [][]sentence
	var cur []sentence
	words, runes := 0, 0
	for _, s := range chosen {
		r := utf8.RuneCountInString(s.text) + 1
		if len(cur) > 0 && (len(cur) >= maxTurnSentences || words+s.words > maxTurnWords ||
			s.section != cur[len(cur)-1].section || runes+r > maxContent-200) {
			out = append(out, cur)
			cur, words, runes = nil, 0, 0
		}
		cur = append(cur, s)
		words += s.words
		runes += r
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// markTones sets a tone from the style's list on the style's share of
// lines, spread evenly from the first line on and cycling through the list.
func markTones(turns []turn, style phrases) {
	used := 0
	for i := range turns {
		if ((i+1)*style.tonePercent+99)/100 > (i*style.tonePercent+99)/100 {
			turns[i].tone = style.tones[used%len(style.tones)]
			used++
		}
	}
}

// WriteScript implements echogen.ScriptWriter for the offline provider
// "local": the task's source text is the article; a topic alone is refused,
// since an extractive writer has nothing to extract from.
func (w *Writer) WriteScript(ctx context.Context, task echogen.ScriptTask) (*echogen.ScriptDraft, error) {
	if strings.TrimSpace(task.Source.Text) == "" {
		return nil, echogen.Errorf(echogen.KindInvalid, "no_text", "the offline writer needs source text; write about a topic with a model provider")
	}
	if task.Progress != nil {
		task.Progress(ctx, "writing", 40, "picking the source's key sentences")
	}
	title, segs, err := w.Write(ctx, task.Source.Title, task.Source.Text, task.Spec)
	if err != nil {
		return nil, err
	}
	return &echogen.ScriptDraft{Title: title, Segments: segs, Notes: map[string]any{"writer": "extractive"}}, nil
}

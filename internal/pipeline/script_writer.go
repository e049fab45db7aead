// Package pipeline writes podcast scripts with a language model: long
// sources are summarised in chunks (map-reduce), the episode is planned as
// an outline, each section is written to a word budget, and the draft is
// extended or condensed until its length is within ±20 % of the target.
// Every answer is parsed and checked as structured segments; one that
// cannot be used is asked for again, never stored half-parsed.
package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/echogen/server/internal/echogen"
)

// Defaults of Options.
const (
	DefaultDirectChars  = 48_000 // source characters a prompt carries as is
	DefaultChunkChars   = 24_000 // characters per chunk of a longer source
	DefaultSectionWords = 600    // spoken words per section of the outline
	DefaultConcurrency  = 4      // chunks summarised at once
	maxSections         = 12
	maxReduceLevels     = 4
	extendRounds        = 2
	lengthTolerance     = 0.2
)

// Options tune a ScriptWriter; zero values take the defaults.
type Options struct {
	DirectChars  int
	ChunkChars   int
	SectionWords int
	Concurrency  int
}

// ScriptWriter writes scripts with a model. It implements
// echogen.ScriptWriter and is safe for concurrent use.
type ScriptWriter struct {
	opts Options
}

// NewScriptWriter returns a ScriptWriter.
func NewScriptWriter(opts Options) *ScriptWriter {
	opts.DirectChars = cmp.Or(opts.DirectChars, DefaultDirectChars)
	opts.ChunkChars = min(cmp.Or(opts.ChunkChars, DefaultChunkChars), opts.DirectChars)
	opts.SectionWords = cmp.Or(opts.SectionWords, DefaultSectionWords)
	opts.Concurrency = cmp.Or(opts.Concurrency, DefaultConcurrency)
	return &ScriptWriter{opts: opts}
}

// job is one script being written.
type job struct {
	task     echogen.ScriptTask
	system   string
	material string // the source, or notes on it, as the prompts carry it
	notes    map[string]any
	repairs  atomic.Int32
}

// WriteScript implements echogen.ScriptWriter.
func (w *ScriptWriter) WriteScript(ctx context.Context, task echogen.ScriptTask) (*echogen.ScriptDraft, error) {
	if task.Call == nil {
		return nil, echogen.Errorf(echogen.KindInternal, "no_model", "the script writer needs a model")
	}
	if task.Progress == nil {
		task.Progress = func(context.Context, string, float64, string) {}
	}
	j := &job{task: task, system: systemPrompt(task.Spec), notes: map[string]any{}}
	material, err := w.digest(ctx, j, task.Source.Text)
	if err != nil {
		return nil, err
	}
	j.material = material

	target := task.Spec.TargetWords()
	want := min(max(1, (target+w.opts.SectionWords/2)/w.opts.SectionWords), maxSections)
	task.Progress(ctx, "outlining", 38, "planning the episode")
	o, err := ask(ctx, j, "outline", schemaOutline, outlineSchema(), 0.4, 2048,
		outlinePrompt(task.Source, task.Spec, material, want), func(o *outline) error { return o.check(want) })
	if err != nil {
		return nil, err
	}
	sections := make([][]echogen.Segment, len(o.Sections))
	budget := target / len(o.Sections)
	for i := range o.Sections {
		task.Progress(ctx, "writing", 42+45*float64(i)/float64(len(o.Sections)), fmt.Sprintf("writing section %d of %d", i+1, len(o.Sections)))
		var previous []echogen.Segment
		if i > 0 {
			previous = tail(sections[i-1], 2)
		}
		segs, err := w.segments(ctx, j, fmt.Sprintf("section/%d", i), budget, sectionPrompt(task.Source, material, o, i, budget, previous))
		if err != nil {
			return nil, err
		}
		sections[i] = segs
	}
	task.Progress(ctx, "checking length", 88, "fitting the script to its length")
	if sections, err = w.fit(ctx, j, o, sections, target, budget); err != nil {
		return nil, err
	}
	j.notes["sections"] = len(o.Sections)
	j.notes["repairs"] = int(j.repairs.Load())
	return &echogen.ScriptDraft{Title: strings.TrimSpace(o.Title), Segments: slices.Concat(sections...), Chapters: chapters(o, sections), Notes: j.notes}, nil
}

// chapters start one per outlined section.
func chapters(o *outline, sections [][]echogen.Segment) []echogen.ChapterMark {
	var marks []echogen.ChapterMark
	turn := 0
	for i, s := range sections {
		if len(s) > 0 {
			marks = append(marks, echogen.ChapterMark{Title: strings.TrimSpace(o.Sections[i].Heading), FirstTurn: turn})
		}
		turn += len(s)
	}
	return marks
}

func (o *outline) check(want int) error {
	if strings.TrimSpace(o.Title) == "" {
		return fmt.Errorf("the title is empty")
	}
	if len(o.Sections) == 0 || len(o.Sections) > max(2*want, 3) {
		return fmt.Errorf("it has %d sections; %d were asked for", len(o.Sections), want)
	}
	for i, s := range o.Sections {
		if strings.TrimSpace(s.Heading) == "" {
			return fmt.Errorf("section %d has no heading", i+1)
		}
	}
	return nil
}

// fit brings the draft within ±20 % of the target: too short, it asks for
// more dialogue before the closing section; too long, it condenses the
// longest sections and, if the model will not, cuts turns from the
// middle of the longest section.
func (w *ScriptWriter) fit(ctx context.Context, j *job, o *outline, sections [][]echogen.Segment, target, budget int) ([][]echogen.Segment, error) {
	lo, hi := int(float64(target)*(1-lengthTolerance)), int(float64(target)*(1+lengthTolerance))
	total := func() int { return echogen.SpokenWords(slices.Concat(sections...)) }
	for round := 0; total() < lo && round < extendRounds; round++ {
		have := total()
		last := len(sections) - 1
		before := sections[max(last-1, 0)]
		if len(sections) == 1 {
			before = sections[0]
		}
		extra, err := w.segments(ctx, j, fmt.Sprintf("extend/%d", round), target-have,
			extendPrompt(j.task.Source, j.material, o, have, target, tail(before, 3)))
		if err != nil {
			return nil, err
		}
		j.notes["extend_rounds"] = round + 1
		if len(sections) == 1 { // a one-section episode ends with its goodbye
			sections[0] = slices.Concat(sections[0][:len(sections[0])-1], extra, sections[0][len(sections[0])-1:])
		} else { // the new lines join the section before the closing
			sections[last-1] = slices.Concat(sections[last-1], extra)
		}
	}
	if total() < lo {
		j.notes["length_short"] = true
	}
	condensed := map[int]bool{}
	for total() > hi {
		i := longest(sections, condensed)
		if i < 0 {
			break
		}
		condensed[i] = true
		words := max(budget-(total()-target)/max(1, len(sections)-len(condensed)+1), budget/2)
		step := fmt.Sprintf("condense/%d/%d", len(condensed), i)
		segs, err := w.segments(ctx, j, step, words, condensePrompt(o, i, words, sections[i]))
		if err != nil {
			return nil, err
		}
		if echogen.SpokenWords(segs) < echogen.SpokenWords(sections[i]) {
			sections[i] = segs
		}
		j.notes["condensed_sections"] = len(condensed)
	}
	if cut := cutTo(sections, hi); cut > 0 {
		j.notes["cut_turns"] = cut
	}
	return sections, nil
}

// longest returns the index of the longest section not yet condensed, or -1.
func longest(sections [][]echogen.Segment, done map[int]bool) int {
	best, words := -1, 0
	for i, s := range sections {
		if n := echogen.SpokenWords(s); !done[i] && n > words {
			best, words = i, n
		}
	}
	return best
}

// cutTo drops turns from the middle sections' ends, longest section first,
// until the script has at most limit words; the opening and the closing
// are kept whole. It returns how many turns it dropped.
func cutTo(sections [][]echogen.Segment, limit int) int {
	cut := 0
	for echogen.SpokenWords(slices.Concat(sections...)) > limit {
		i, words := -1, 0
		for k := 1; k < len(sections)-1; k++ {
			if n := echogen.SpokenWords(sections[k]); len(sections[k]) > 1 && n > words {
				i, words = k, n
			}
		}
		if i < 0 {
			return cut
		}
		sections[i] = sections[i][:len(sections[i])-1]
		cut++
	}
	return cut
}

func tail(s []echogen.Segment, n int) []echogen.Segment { return s[max(0, len(s)-n):] }

// modelSegment is one turn as the model writes it.
type modelSegment struct {
	Speaker string `json:"speaker"`
	Text    string `json:"text"`
	Content string `json:"content"` // some models answer in the stored shape
	Tone    string `json:"tone"`
}

type segmentsAnswer struct {
	Segments []modelSegment `json:"segments"`
}

// segments asks for turns of about words spoken words and returns them
// cleaned.
func (w *ScriptWriter) segments(ctx context.Context, j *job, step string, words int, prompt string) ([]echogen.Segment, error) {
	var clean []echogen.Segment
	maxTokens := min(max(1024, words*3+400), 16384)
	_, err := ask(ctx, j, step, schemaSegments, segmentsSchema(j.task.Spec.Speakers), 0.7, maxTokens, prompt, func(a *segmentsAnswer) error {
		segs := make([]echogen.Segment, len(a.Segments))
		for i, s := range a.Segments {
			segs[i] = echogen.Segment{Speaker: s.Speaker, Content: cmp.Or(s.Text, s.Content), Tone: s.Tone}
		}
		var repairs int
		var err error
		clean, repairs, err = echogen.CleanSegments(j.task.Spec, segs)
		j.repairs.Add(int32(repairs))
		return err
	})
	return clean, err
}

var (
	thinking = regexp.MustCompile(`(?is)<(think|thinking|reasoning)>.*?</(think|thinking|reasoning)>`)
	fence    = regexp.MustCompile("(?s)^```[a-zA-Z]*\\s*(.*?)\\s*```$")
)

// jsonText takes the JSON object out of a model's answer: thinking blocks
// and code fences go, and so does any chatter around the object.
func jsonText(s string) string {
	s = strings.TrimSpace(thinking.ReplaceAllString(s, ""))
	if m := fence.FindStringSubmatch(s); m != nil {
		s = m[1]
	}
	start, end := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if start < 0 || end < start {
		return s
	}
	return s[start : end+1]
}

// ask makes one step's model call and decodes its answer into a T that
// check accepts. A finished step is kept in the task's cache and replayed
// on a retry. An unusable answer is shown to the model with what is wrong
// and asked for once more; a second one fails with CodeInvalidScript.
func ask[T any](ctx context.Context, j *job, step, schemaName string, schema map[string]any, temperature float64, maxTokens int, prompt string, check func(*T) error) (*T, error) {
	var v T
	if j.task.Cache != nil && j.task.Cache.Load(ctx, step, &v) && check(&v) == nil {
		return &v, nil
	}
	msgs := []echogen.LLMMessage{{Role: "system", Content: j.system}, {Role: "user", Content: prompt}}
	var problem string
	for try := 0; try < 2; try++ {
		resp, err := j.task.Call(ctx, echogen.LLMRequest{Model: j.task.Model, Messages: msgs, Schema: schema, SchemaName: schemaName,
			Temperature: &temperature, MaxTokens: maxTokens})
		if err != nil {
			return nil, err
		}
		problem = ""
		v = *new(T)
		switch dec := json.NewDecoder(strings.NewReader(jsonText(resp.Text))); {
		case resp.FinishReason == "length":
			problem = "it was cut off at the length limit; write fewer, shorter lines"
		case dec.Decode(&v) != nil:
			problem = "it is not a JSON object that follows the schema"
		default:
			if err := check(&v); err != nil {
				problem = err.Error()
			}
		}
		if problem == "" {
			if j.task.Cache != nil {
				j.task.Cache.Store(ctx, step, &v)
			}
			return &v, nil
		}
		j.repairs.Add(1)
		msgs = append(msgs, echogen.LLMMessage{Role: "assistant", Content: clip(resp.Text, 4000)},
			echogen.LLMMessage{Role: "user", Content: "That answer cannot be used: " + problem + ". Answer again with only the JSON object, following the schema and the rules."})
	}
	return nil, echogen.Errorf(echogen.KindUnavailable, echogen.CodeInvalidScript, "the model's answer for the %s was not usable after a second try: %s", describe(schemaName), problem)
}

func describe(schema string) string {
	switch schema {
	case schemaNotes:
		return "source notes"
	case schemaOutline:
		return "outline"
	}
	return "script"
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func sortedKeys[M ~map[string]V, V any](m M) []string { return slices.Sorted(maps.Keys(m)) }

// digest returns the source as the prompts carry it: as is when it is
// short enough, else notes taken chunk by chunk, in parallel, and taken
// again on the notes until they fit.
func (w *ScriptWriter) digest(ctx context.Context, j *job, text string) (string, error) {
	text = strings.TrimSpace(text)
	for level := 1; len(text) > w.opts.DirectChars; level++ {
		if level > maxReduceLevels {
			return "", echogen.Errorf(echogen.KindUnavailable, "source_too_long", "the model's notes on the source do not get shorter; try a model with a larger output")
		}
		chunks := split(text, w.opts.ChunkChars)
		// Notes of all chunks together should fit one prompt: about six
		// characters a word.
		words := max(120, w.opts.DirectChars/6/len(chunks)*4/5)
		notes := make([]string, len(chunks))
		var done atomic.Int32
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(w.opts.Concurrency)
		for i, chunk := range chunks {
			g.Go(func() error {
				a, err := ask(gctx, j, fmt.Sprintf("notes/%d/%d", level, i), schemaNotes, notesSchema(), 0.2, min(words*3+400, 8192),
					notesPrompt(j.task.Source.Title, i+1, len(chunks), words, chunk), func(a *notesAnswer) error { return a.check() })
				if err != nil {
					return err
				}
				notes[i] = fmt.Sprintf("Part %d:\n- %s", i+1, strings.Join(a.Notes, "\n- "))
				n := done.Add(1)
				j.task.Progress(ctx, "summarising", 5+30*float64(n)/float64(len(chunks)), fmt.Sprintf("took notes on %d of %d parts of a long source", n, len(chunks)))
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
		j.notes["chunks"] = len(chunks)
		j.notes["reduce_levels"] = level
		text = strings.Join(notes, "\n\n")
	}
	return text, nil
}

type notesAnswer struct {
	Notes []string `json:"notes"`
}

func (a *notesAnswer) check() error {
	a.Notes = slices.DeleteFunc(a.Notes, func(s string) bool { return strings.TrimSpace(s) == "" })
	if len(a.Notes) == 0 {
		return fmt.Errorf("it has no notes")
	}
	return nil
}

// split cuts text into pieces of at most size bytes, at a paragraph break
// when there is one in the second half of the piece, else a line break,
// a sentence end or a space. The pieces share text's memory.
func split(text string, size int) []string {
	var out []string
	for len(text) > size {
		cut := -1
		for _, sep := range []string{"\n\n", "\n", ". ", " "} {
			if i := strings.LastIndex(text[size/2:size], sep); i >= 0 {
				cut = size/2 + i + len(sep)
				break
			}
		}
		if cut < 0 {
			cut = size
			for cut > 0 && !utf8Start(text[cut]) {
				cut--
			}
		}
		out = append(out, strings.TrimSpace(text[:cut]))
		text = text[cut:]
	}
	if t := strings.TrimSpace(text); t != "" {
		out = append(out, t)
	}
	return out
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/pipeline"
	"github.com/echogen/server/internal/provider/anthropic"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/llmtest"
	"github.com/echogen/server/internal/provider/openai"
)

const testKey = "sk-test-0123456789abcdef"

// standIn starts a stand-in model of the given wire answered by brain and
// returns a call function through the real adapter, as the script handler
// would make it.
func standIn(t *testing.T, wire llmtest.Wire, brain *llmtest.Brain) (echogen.LLMCallFunc, *llmtest.Server) {
	t.Helper()
	srv := llmtest.New(t, wire, brain.Answer)
	var llm echogen.LLM
	switch wire {
	case llmtest.OpenAI:
		llm = openai.New("OpenAI", srv.URL, openai.Options{})
	case llmtest.Gemini:
		llm = gemini.New(gemini.Options{BaseURL: srv.URL})
	case llmtest.Anthropic:
		llm = anthropic.New(anthropic.Options{BaseURL: srv.URL})
	}
	return func(ctx context.Context, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
		return llm.Complete(ctx, testKey, req)
	}, srv
}

func speakers(n int) []echogen.Speaker {
	names := []string{"Alex", "Sam", "Priya", "Jordan"}
	out := make([]echogen.Speaker, n)
	for i := range out {
		out[i] = echogen.Speaker{Name: names[i], Persona: "a curious host"}
	}
	return out
}

var tags = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]+>`)

// article is real text: the ingestion test documents, tags stripped.
func article(t *testing.T) string { return articleTB(t) }

func articleTB(t testing.TB) string {
	t.Helper()
	var parts []string
	for _, f := range []string{"news-article.html", "blog-post.html", "release-notes.md", "meeting-minutes.txt", "docs-page.html"} {
		b, err := os.ReadFile(filepath.Join("..", "ingest", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, strings.Join(strings.Fields(tags.ReplaceAllString(string(b), " ")), " "))
	}
	return strings.Join(parts, "\n\n")
}

func spec(minutes, nSpeakers int) echogen.ScriptSpec {
	return echogen.ScriptSpec{Style: echogen.StyleTechTalk, Speakers: speakers(nSpeakers), TargetMinutes: minutes, Language: "en", Tone: true}
}

func within(t *testing.T, segs []echogen.Segment, target int) {
	t.Helper()
	words := echogen.SpokenWords(segs)
	if lo, hi := target*8/10, target*12/10; words < lo || words > hi {
		t.Errorf("script has %d words; want %d..%d (target %d)", words, lo, hi, target)
	}
}

func TestLengthSpeakersAndWires(t *testing.T) {
	text := article(t)
	for _, tc := range []struct {
		wire              llmtest.Wire
		minutes, speakers int
	}{
		{llmtest.OpenAI, 3, 1}, {llmtest.OpenAI, 10, 2}, {llmtest.OpenAI, 30, 4},
		{llmtest.Gemini, 3, 2}, {llmtest.Gemini, 10, 4}, {llmtest.Gemini, 30, 1},
		{llmtest.Anthropic, 3, 4}, {llmtest.Anthropic, 10, 1}, {llmtest.Anthropic, 30, 2},
	} {
		t.Run(fmt.Sprintf("wire%d/%dmin/%dspeakers", tc.wire, tc.minutes, tc.speakers), func(t *testing.T) {
			brain := &llmtest.Brain{}
			call, srv := standIn(t, tc.wire, brain)
			sp := spec(tc.minutes, tc.speakers)
			draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
				echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Test documents", Text: text}, Spec: sp, Model: "test-model", Call: call})
			if err != nil {
				t.Fatal(err)
			}
			within(t, draft.Segments, sp.TargetWords())
			spoke := map[string]int{}
			for _, s := range draft.Segments {
				spoke[s.Speaker]++
				if strings.TrimSpace(s.Content) == "" {
					t.Errorf("empty turn by %s", s.Speaker)
				}
			}
			for _, s := range sp.Speakers {
				if spoke[s.Name] == 0 {
					t.Errorf("%s never speaks", s.Name)
				}
				delete(spoke, s.Name)
			}
			if len(spoke) > 0 {
				t.Errorf("undeclared speakers: %v", spoke)
			}
			if draft.Title == "" {
				t.Error("no title")
			}
			if len(draft.Chapters) != draft.Notes["sections"] || draft.Chapters[0].FirstTurn != 0 {
				t.Errorf("chapters %+v for %v sections", draft.Chapters, draft.Notes["sections"])
			}
			for i := 1; i < len(draft.Chapters); i++ {
				if c := draft.Chapters[i]; c.FirstTurn <= draft.Chapters[i-1].FirstTurn || c.FirstTurn >= len(draft.Segments) || c.Title == "" {
					t.Errorf("chapter %d: %+v", i, c)
				}
			}
			reqs := srv.Requests()
			if reqs[0].SchemaName != "script_outline" {
				t.Errorf("first call is %q, want the outline", reqs[0].SchemaName)
			}
			for _, r := range reqs {
				if r.Model != "test-model" || r.APIKey != testKey || r.Schema == nil || r.MaxTokens == 0 || r.Temperature == nil {
					t.Errorf("request %s: model %q, key %q, schema %v, max tokens %d, temperature %v", r.SchemaName, r.Model, r.APIKey, r.Schema != nil, r.MaxTokens, r.Temperature)
				}
				if !strings.Contains(r.System, "English (language tag en)") {
					t.Errorf("system prompt does not ask for English:\n%s", r.System)
				}
			}
		})
	}
}

func TestLanguageAndTopic(t *testing.T) {
	for _, tc := range []struct{ tag, want string }{{"fr", "French (language tag fr)"}, {"pt-BR", "Portuguese (language tag pt-BR)"}, {"tlh", "the language with tag tlh"}} {
		brain := &llmtest.Brain{}
		call, srv := standIn(t, llmtest.OpenAI, brain)
		sp := spec(3, 2)
		sp.Language = tc.tag
		_, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
			echogen.ScriptTask{Source: echogen.ScriptSource{Topic: "the history of tea"}, Spec: sp, Model: "m", Call: call})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range srv.Requests() {
			if !strings.Contains(r.System, "Write every spoken line in "+tc.want) {
				t.Errorf("%s: system prompt lacks the language:\n%s", tc.tag, r.System)
			}
			if !strings.Contains(r.Messages[0].Content, "Topic: the history of tea") {
				t.Errorf("%s: the prompt does not carry the topic", tc.tag)
			}
		}
	}
}

func TestOffLengthDrafts(t *testing.T) {
	text := article(t)
	is := func(schema string) func(r llmtest.Request) bool {
		return func(r llmtest.Request) bool { return r.SchemaName == schema }
	}
	for _, tc := range []struct {
		name     string
		scale    func(r llmtest.Request, n int) float64
		wantNote string
	}{
		{"short first drafts are extended", func(r llmtest.Request, n int) float64 {
			if is("script_segments")(r) && !strings.Contains(r.Messages[0].Content, "more words") {
				return 0.4
			}
			return 1
		}, "extend_rounds"},
		{"long drafts are condensed", func(r llmtest.Request, n int) float64 {
			if strings.Contains(r.Messages[0].Content, "condense it") {
				return 0.9
			}
			return 2
		}, "condensed_sections"},
		{"a model that will not condense is cut", func(r llmtest.Request, n int) float64 { return 2.5 }, "cut_turns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call, _ := standIn(t, llmtest.OpenAI, &llmtest.Brain{Scale: tc.scale})
			sp := spec(10, 2)
			draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
				echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Docs", Text: text}, Spec: sp, Model: "m", Call: call})
			if err != nil {
				t.Fatal(err)
			}
			within(t, draft.Segments, sp.TargetWords())
			if draft.Notes[tc.wantNote] == nil {
				t.Errorf("notes %v lack %s", draft.Notes, tc.wantNote)
			}
		})
	}
}

func TestInvalidAnswers(t *testing.T) {
	bad := map[string]llmtest.Reply{
		"malformed JSON":     {Text: `{"segments": [{"speaker": "Alex", "text": "Hi"`},
		"undeclared speaker": {Text: `{"segments": [{"speaker": "Narrator", "text": "Once upon a time.", "tone": ""}]}`},
		"no lines":           {Text: `{"segments": []}`},
		"only directions":    {Text: `{"segments": [{"speaker": "Alex", "text": "[laughs]", "tone": ""}]}`},
		"truncated":          {Text: `{"segments": [{"speaker": "Alex", "text": "Hello there, and welcome", "tone": ""}]}`, Truncated: true},
	}
	for name, reply := range bad {
		t.Run(name+" is asked again", func(t *testing.T) {
			brain := &llmtest.Brain{Fault: func(r llmtest.Request, n int) *llmtest.Reply {
				if n == 1 { // the first section
					return &reply
				}
				return nil
			}}
			call, srv := standIn(t, llmtest.OpenAI, brain)
			draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
				echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Docs", Text: article(t)}, Spec: spec(3, 2), Model: "m", Call: call})
			if err != nil {
				t.Fatal(err)
			}
			if draft.Notes["repairs"].(int) < 1 {
				t.Errorf("repairs = %v", draft.Notes["repairs"])
			}
			retry := srv.Requests()[2]
			if n := len(retry.Messages); n != 3 || retry.Messages[1].Role != "assistant" || retry.Messages[1].Content != reply.Text ||
				!strings.HasPrefix(retry.Messages[2].Content, "That answer cannot be used: ") {
				t.Errorf("the repair request does not show the model its answer and the problem: %+v", retry.Messages[1:])
			}
		})
		t.Run(name+" twice fails", func(t *testing.T) {
			brain := &llmtest.Brain{Fault: func(r llmtest.Request, n int) *llmtest.Reply {
				if r.SchemaName == "script_segments" {
					return &reply
				}
				return nil
			}}
			call, srv := standIn(t, llmtest.OpenAI, brain)
			draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
				echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Docs", Text: article(t)}, Spec: spec(3, 2), Model: "m", Call: call})
			var e *echogen.Error
			if draft != nil || !errors.As(err, &e) || e.Kind != echogen.KindUnavailable || e.Code != echogen.CodeInvalidScript {
				t.Fatalf("draft %v, err %v; want an invalid_script error", draft, err)
			}
			if n := len(srv.Requests()); n != 3 {
				t.Errorf("%d calls; want the outline and two tries of the section", n)
			}
		})
	}
}

func TestThinkingAndFencesStripped(t *testing.T) {
	brain := &llmtest.Brain{}
	inner := &llmtest.Brain{}
	brain.Fault = func(r llmtest.Request, n int) *llmtest.Reply {
		reply := inner.Answer(r)
		reply.Text = "<think>The user wants JSON. {not this}</think>\nHere you go:\n```json\n" + reply.Text + "\n```"
		return &reply
	}
	call, _ := standIn(t, llmtest.OpenAI, brain)
	draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(),
		echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Docs", Text: article(t)}, Spec: spec(3, 2), Model: "m", Call: call})
	if err != nil {
		t.Fatal(err)
	}
	if got := draft.Notes["repairs"].(int); got != 0 {
		t.Errorf("repairs = %d; stripping is not a repair", got)
	}
}

// memoryCache is a StepCache in memory.
type memoryCache struct {
	mu    sync.Mutex
	steps map[string][]byte
}

func (c *memoryCache) Load(_ context.Context, step string, v any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.steps[step]
	return ok && json.Unmarshal(b, v) == nil
}

func (c *memoryCache) Store(_ context.Context, step string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(v)
	c.steps[step] = b
}

func TestRetryReplaysFinishedSteps(t *testing.T) {
	cache := &memoryCache{steps: map[string][]byte{}}
	failAt := 2 // the outline and the first of three sections are done
	brain := &llmtest.Brain{Fault: func(r llmtest.Request, n int) *llmtest.Reply {
		if n == failAt {
			return &llmtest.Reply{Status: 500, Message: "overloaded"}
		}
		return nil
	}}
	call, srv := standIn(t, llmtest.OpenAI, brain)
	task := echogen.ScriptTask{Source: echogen.ScriptSource{Title: "Docs", Text: article(t)}, Spec: spec(10, 2), Model: "m", Call: call, Cache: cache}
	w := pipeline.NewScriptWriter(pipeline.Options{})
	if _, err := w.WriteScript(context.Background(), task); echogen.ErrorKind(err) != echogen.KindUnavailable {
		t.Fatalf("err = %v; want the provider's 500 as KindUnavailable", err)
	}
	first := len(srv.Requests())
	draft, err := w.WriteScript(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	// The retry pays only for the failed step and those after it.
	retried := srv.Requests()[first:]
	if retried[0].SchemaName != "script_segments" || len(retried) != 2 {
		t.Errorf("the retry made %d calls (%v); want the two steps not finished", len(retried), schemas(retried))
	}
	again, err := w.WriteScript(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(draft.Segments, again.Segments); diff != "" || len(srv.Requests()) != first+len(retried) {
		t.Errorf("a third run with every step cached called the model or differs: %s", diff)
	}
}

func schemas(rs []llmtest.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.SchemaName
	}
	return out
}

func TestLongSourceMapReduce(t *testing.T) {
	base := article(t)
	var b strings.Builder
	chapters := 0
	for b.Len() < 500_000 {
		chapters++
		fmt.Fprintf(&b, "Chapter %d opens here.\n\n%s\n\n", chapters, base)
	}
	text := b.String()
	call, srv := standIn(t, llmtest.OpenAI, &llmtest.Brain{})
	var mu sync.Mutex
	var stages []string
	task := echogen.ScriptTask{Source: echogen.ScriptSource{Title: "A long book", Text: text}, Spec: spec(10, 2), Model: "m", Call: call,
		Progress: func(_ context.Context, stage string, _ float64, _ string) {
			mu.Lock()
			defer mu.Unlock()
			stages = append(stages, stage)
		}}
	draft, err := pipeline.NewScriptWriter(pipeline.Options{}).WriteScript(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	within(t, draft.Segments, 1500)
	sent, parts := 0, 0
	last := fmt.Sprintf("Chapter %d opens here.", chapters)
	sawLast := false
	for _, r := range srv.Requests() {
		prompt := r.Messages[0].Content
		if len(prompt) > pipeline.DefaultDirectChars+4000 {
			t.Errorf("a %s prompt carries %d characters; prompts are bounded", r.SchemaName, len(prompt))
		}
		if r.SchemaName != "source_notes" {
			continue
		}
		parts++
		block := prompt[strings.Index(prompt, "<source>\n")+len("<source>\n") : strings.LastIndex(prompt, "\n</source>")]
		sent += len(block)
		sawLast = sawLast || strings.Contains(block, last)
	}
	if float64(sent) < 0.999*float64(len(strings.TrimSpace(text))) || !sawLast {
		t.Errorf("the chunks sent hold %d of %d characters (last chapter seen: %v); nothing may be truncated", sent, len(text), sawLast)
	}
	if draft.Notes["chunks"] != parts || parts < 500_000/pipeline.DefaultChunkChars || draft.Notes["reduce_levels"] != 1 {
		t.Errorf("notes say %v chunks; %d notes requests", draft.Notes["chunks"], parts)
	}
	if stages[0] != "summarising" {
		t.Errorf("first stage %q", stages[0])
	}
}

// BenchmarkLongSource writes a 10-minute script from a 500,000-character
// source with a model that answers at once in-process, so what is measured
// is the writer: chunking, notes, outline, sections and fitting. It
// reports the heap's peak above its level before the run.
func BenchmarkLongSource(b *testing.B) {
	var src strings.Builder
	for i := 1; src.Len() < 500_000; i++ {
		fmt.Fprintf(&src, "Chapter %d opens here.\n\n%s\n\n", i, articleTB(b))
	}
	text := src.String()
	brain := &llmtest.Brain{}
	call := func(_ context.Context, req echogen.LLMRequest) (*echogen.LLMResponse, error) {
		r := brain.Answer(llmtest.Request{Model: req.Model, System: req.Messages[0].Content, Messages: req.Messages[1:], SchemaName: req.SchemaName, Schema: req.Schema})
		return &echogen.LLMResponse{Text: r.Text, FinishReason: "stop"}, nil
	}
	w := pipeline.NewScriptWriter(pipeline.Options{})
	task := echogen.ScriptTask{Source: echogen.ScriptSource{Title: "A long book", Text: text}, Spec: spec(10, 2), Model: "m", Call: call}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := peakHeap(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.WriteScript(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(peak()-before.HeapAlloc)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(brain.Calls())/float64(b.N), "calls/op")
}

// peakHeap samples the live heap every millisecond until the returned
// function is called, which gives the highest value seen.
func peakHeap(b *testing.B) func() uint64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

package echogen

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ScriptGenerationType is the job type that writes a podcast script.
const ScriptGenerationType = "script_generation"

// Defaults of a script_generation job.
const (
	DefaultScriptTimeout  = 20 * time.Minute
	defaultTargetMinutes  = 10
	maxCustomPromptLength = 4000
	maxTopicLength        = 2000
	maxPersonaLength      = 500
)

// DefaultModels are the models used when a job names none.
var defaultModels = map[Provider]string{
	ProviderOpenAI:     "gpt-4.1-mini",
	ProviderGemini:     "gemini-2.5-flash",
	ProviderGroq:       "llama-3.3-70b-versatile",
	ProviderOpenRouter: "openai/gpt-4.1-mini",
	ProviderAnthropic:  "claude-sonnet-4-5",
	ProviderLocal:      "extractive",
}

// ScriptOptions tune the script_generation handler.
type ScriptOptions struct {
	// Timeout bounds one attempt; zero means DefaultScriptTimeout.
	Timeout time.Duration
}

// ScriptHandler runs script_generation jobs.
type ScriptHandler struct {
	library *LibraryService
	llms    map[Provider]LLM
	writer  ScriptWriter // with a model
	offline ScriptWriter // provider "local"
	calls   *ProviderCalls
	opts    ScriptOptions
}

// NewScriptHandler returns the script_generation handler. llms maps each
// model provider to its client; writer writes with a model, offline with
// none (provider "local"); calls bounds and retries the model calls.
func NewScriptHandler(library *LibraryService, llms map[Provider]LLM, writer, offline ScriptWriter, calls *ProviderCalls, opts ScriptOptions) *ScriptHandler {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultScriptTimeout
	}
	return &ScriptHandler{library: library, llms: llms, writer: writer, offline: offline, calls: calls, opts: opts}
}

// Type implements JobHandler.
func (h *ScriptHandler) Type() string { return ScriptGenerationType }

// Limits implements JobHandler.
func (h *ScriptHandler) Limits() JobLimits { return JobLimits{MaxAttempts: 4, Timeout: h.opts.Timeout} }

// scriptRequest is a script_generation payload.
type scriptRequest struct {
	ContentID, Text, Title, Topic string
	Provider                      Provider
	Model                         string
	Spec                          ScriptSpec
}

var languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

func parseScript(payload map[string]any) (*scriptRequest, error) {
	loc := func(k ...string) []string { return append([]string{"body", "payload"}, k...) }
	r := scriptRequest{Spec: ScriptSpec{Style: StylePlayful, TargetMinutes: defaultTargetMinutes, Language: "en", Tone: true}}
	var provider, style string
	for _, f := range []struct {
		key string
		dst *string
	}{{"content_id", &r.ContentID}, {"text", &r.Text}, {"title", &r.Title}, {"topic", &r.Topic}, {"provider", &provider},
		{"model", &r.Model}, {"style", &style}, {"language", &r.Spec.Language}, {"custom_prompt", &r.Spec.CustomPrompt}} {
		v, err := stringField(payload, f.key)
		if err != nil {
			return nil, err
		}
		if v = strings.TrimSpace(v); v != "" {
			*f.dst = v
		}
	}
	for k, v := range payload {
		switch k {
		case "content_id", "text", "title", "topic", "provider", "model", "style", "language", "custom_prompt":
		case "target_minutes":
			n, ok := v.(float64)
			if !ok || n != math.Trunc(n) || n < 1 || n > 60 {
				return nil, Invalid(loc(k), "int_range", "target_minutes must be a whole number from 1 to 60")
			}
			r.Spec.TargetMinutes = int(n)
		case "tone":
			b, ok := v.(bool)
			if !ok {
				return nil, Invalid(loc(k), "bool_type", "tone must be true or false")
			}
			r.Spec.Tone = b
		case "speakers":
			speakers, err := parseSpeakers(v)
			if err != nil {
				return nil, err
			}
			r.Spec.Speakers = speakers
		default:
			return nil, Invalid(loc(k), "extra_forbidden", "unknown field; script_generation takes content_id, text (and title) or topic, provider, model, style, speakers, target_minutes, language, custom_prompt and tone")
		}
	}
	sources := 0
	for _, s := range []string{r.ContentID, r.Text, r.Topic} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources != 1:
		return nil, Invalid(loc(), "value_error", "give exactly one of content_id, text or topic")
	case r.ContentID != "" && !IsID(r.ContentID):
		return nil, Invalid(loc("content_id"), "uuid_parsing", "content_id must be a UUID")
	case len(r.Text) > maxIngestText:
		return nil, Invalid(loc("text"), "string_too_long", "text is too long; ingest it as content first")
	case len([]rune(r.Topic)) > maxTopicLength:
		return nil, Invalid(loc("topic"), "string_too_long", fmt.Sprintf("topic must be at most %d characters", maxTopicLength))
	case len([]rune(r.Spec.CustomPrompt)) > maxCustomPromptLength:
		return nil, Invalid(loc("custom_prompt"), "string_too_long", fmt.Sprintf("custom_prompt must be at most %d characters", maxCustomPromptLength))
	case !languageTag.MatchString(r.Spec.Language):
		return nil, Invalid(loc("language"), "value_error", "language must be a BCP 47 tag such as en, fr or pt-BR")
	}
	if err := checkTitle(r.Title, loc("title")); err != nil {
		return nil, err
	}
	if style != "" {
		r.Spec.Style = style
	}
	if !slices.Contains(Styles(), r.Spec.Style) {
		return nil, Invalid(loc("style"), "enum", "style must be one of "+strings.Join(Styles(), ", "))
	}
	if r.Spec.Speakers == nil {
		r.Spec.Speakers = []Speaker{{Name: "Alex"}, {Name: "Sam"}}
	}
	r.Provider = ProviderLocal
	if provider != "" {
		r.Provider = Provider(provider)
	}
	switch r.Provider {
	case ProviderLocal:
		if r.Topic != "" {
			return nil, Invalid(loc("topic"), "value_error", "the offline local writer needs source text (content_id or text); a topic needs a model provider")
		}
	case ProviderOpenAI, ProviderGemini, ProviderGroq, ProviderOpenRouter, ProviderAnthropic, ProviderOllama, ProviderOpenAICompatible:
	default:
		return nil, Invalid(loc("provider"), "enum", "provider must be local, openai, gemini, groq, openrouter, anthropic, ollama or openai_compatible")
	}
	if r.Model == "" {
		r.Model = defaultModels[r.Provider]
	}
	if r.Model == "" {
		return nil, Invalid(loc("model"), "missing", string(r.Provider)+" needs a model: name one the server runs")
	}
	return &r, nil
}

func parseSpeakers(v any) ([]Speaker, error) {
	loc := []string{"body", "payload", "speakers"}
	list, ok := v.([]any)
	if !ok || len(list) < 1 || len(list) > 4 {
		return nil, Invalid(loc, "list_type", "speakers must be a list of 1 to 4 speakers")
	}
	seen := map[string]bool{}
	out := make([]Speaker, 0, len(list))
	for i, item := range list {
		at := append(append([]string{}, loc...), fmt.Sprint(i))
		var sp Speaker
		switch item := item.(type) {
		case string:
			sp.Name = item
		case map[string]any:
			for k, f := range item {
				s, ok := f.(string)
				switch {
				case k != "name" && k != "persona":
					return nil, Invalid(append(at, k), "extra_forbidden", "a speaker has a name and an optional persona")
				case !ok && f != nil:
					return nil, Invalid(append(at, k), "string_type", k+" must be a string")
				case k == "name":
					sp.Name = s
				default:
					sp.Persona = strings.TrimSpace(s)
				}
			}
		default:
			return nil, Invalid(at, "model_type", "a speaker is a name or {name, persona}")
		}
		sp.Name = strings.TrimSpace(sp.Name)
		switch {
		case sp.Name == "" || len([]rune(sp.Name)) > 40 || strings.ContainsAny(sp.Name, ":[]()*\n"):
			return nil, Invalid(append(at, "name"), "value_error", "a speaker's name is 1 to 40 characters without : [ ] ( ) *")
		case seen[strings.ToLower(sp.Name)]:
			return nil, Invalid(append(at, "name"), "value_error", "speaker names must differ")
		case len([]rune(sp.Persona)) > maxPersonaLength:
			return nil, Invalid(append(at, "persona"), "string_too_long", fmt.Sprintf("persona must be at most %d characters", maxPersonaLength))
		}
		seen[strings.ToLower(sp.Name)] = true
		out = append(out, sp)
	}
	return out, nil
}

// Validate implements JobHandler.
func (h *ScriptHandler) Validate(payload map[string]any) error {
	r, err := parseScript(payload)
	if err != nil {
		return err
	}
	if _, ok := h.llms[r.Provider]; !ok && r.Provider != ProviderLocal {
		return Errorf(KindNotImplemented, "provider_unavailable", "%s is not configured on this server", r.Provider)
	}
	return nil
}

// Run implements JobHandler: read the source, write the script with the
// chosen model (or offline), and save it under an id derived from the job,
// so a second run finds the first run's script instead of writing another.
func (h *ScriptHandler) Run(ctx context.Context, run JobRun) (map[string]any, error) {
	job := run.Job
	req, err := parseScript(job.Payload)
	if err != nil {
		return nil, err
	}
	scriptID := DerivedID(ScriptGenerationType, job.ID)
	lib := h.library
	if s, err := lib.store.Script(ctx, job.UserID, scriptID); err == nil {
		return map[string]any{"script_id": s.ID}, nil
	}
	progress := func(ctx context.Context, stage string, percent float64, message string) {
		run.Progress(ctx, Progress{Stage: stage, Percent: percent, Message: message})
	}
	progress(ctx, "reading", 2, "reading the source")
	src, err := h.source(ctx, job.UserID, req)
	if err != nil {
		return nil, err
	}
	cache := newBlobStepCache(lib.blobs, lib.buckets.Documents, job, lib.log)
	task := ScriptTask{Source: src, Spec: req.Spec, Model: req.Model, Cache: cache, Progress: progress}
	writer, meter := h.offline, &usageMeter{}
	if req.Provider != ProviderLocal {
		llm, ok := h.llms[req.Provider]
		if !ok {
			return nil, Errorf(KindNotImplemented, "provider_unavailable", "%s is not configured on this server", req.Provider)
		}
		cred, err := lib.ProviderCredential(ctx, job.UserID, req.Provider)
		if err != nil {
			return nil, err
		}
		if req.Provider.NeedsBaseURL() && cred.BaseURL == "" {
			return nil, Errorf(KindBadRequest, "missing_base_url", "the %s key has no metadata.base_url: update the key with the server's URL", req.Provider)
		}
		if err := lib.CheckBudget(ctx, job.UserID, scriptEstimate(req, len(src.Text)).CostUSD); err != nil {
			return nil, err
		}
		writer = h.writer
		task.Call = h.caller(job, req.Provider, llm, cred, meter)
	}
	draft, err := writer.WriteScript(ctx, task)
	if err != nil {
		return nil, err
	}
	segs, _, err := CleanSegments(req.Spec, draft.Segments)
	if err != nil {
		return nil, err
	}
	progress(ctx, "saving", 97, "saving the script")
	s := h.script(job, req, src, draft, segs, meter)
	if err := lib.store.CreateScript(ctx, s); err != nil {
		return nil, err
	}
	cache.clear(ctx)
	return map[string]any{"script_id": s.ID}, nil
}

// source reads what the script is written from.
func (h *ScriptHandler) source(ctx context.Context, userID string, req *scriptRequest) (ScriptSource, error) {
	switch {
	case req.ContentID != "":
		c, err := h.library.store.Content(ctx, userID, req.ContentID)
		if err != nil {
			return ScriptSource{}, err
		}
		if strings.TrimSpace(c.Markdown) == "" {
			return ScriptSource{}, Errorf(KindInvalid, "no_text", "the content has no text to write a script from")
		}
		return ScriptSource{Title: c.Title, Text: c.Markdown}, nil
	case req.Text != "":
		return ScriptSource{Title: req.Title, Text: req.Text}, nil
	}
	return ScriptSource{Title: req.Title, Topic: req.Topic}, nil
}

// script builds the podcast_scripts row.
func (h *ScriptHandler) script(job *Job, req *scriptRequest, src ScriptSource, draft *ScriptDraft, segs []Segment, meter *usageMeter) *Script {
	title := strings.TrimSpace(draft.Title)
	if title == "" {
		title = src.Title
	}
	if title == "" {
		title = "Untitled"
	}
	if r := []rune(title); len(r) > maxTitleLength {
		title = string(r[:maxTitleLength])
	}
	words := SpokenWords(segs)
	speakers := make([]any, len(req.Spec.Speakers))
	for i, sp := range req.Spec.Speakers {
		speakers[i] = map[string]any{"name": sp.Name, "persona": sp.Persona}
	}
	md := map[string]any{
		"job_id":            job.ID,
		"style":             req.Spec.Style,
		"speakers":          speakers,
		"language":          req.Spec.Language,
		"target_minutes":    req.Spec.TargetMinutes,
		"estimated_minutes": math.Round(float64(words)/WordsPerMinute*10) / 10,
		"word_count":        words,
		"provider":          string(req.Provider),
		"model":             req.Model,
		"tone":              req.Spec.Tone,
		"usage":             meter.summary(),
		"script":            PlainScript(title, segs),
	}
	if len(draft.Notes) > 0 {
		md["writer"] = draft.Notes
	}
	if len(draft.Chapters) > 0 {
		chapters := make([]any, len(draft.Chapters))
		for i, c := range draft.Chapters {
			chapters[i] = map[string]any{"title": c.Title, "segment": c.FirstTurn}
		}
		md["chapters"] = chapters
	}
	var sourceID *string
	var prompt string
	switch {
	case req.ContentID != "":
		sourceID = &req.ContentID
		md["source"] = "content"
	case req.Text != "":
		md["source"] = "text"
	default:
		md["source"] = "topic"
		prompt = req.Topic
	}
	if req.Spec.CustomPrompt != "" {
		prompt = strings.TrimSpace(prompt + "\n\n" + req.Spec.CustomPrompt)
	}
	now := h.library.clock.Now()
	return &Script{ID: DerivedID(ScriptGenerationType, job.ID), UserID: job.UserID, SourceContentID: sourceID, Title: title,
		Prompt: prompt, Model: req.Model, Language: req.Spec.Language, Segments: segs, Metadata: md, CreatedAt: now, UpdatedAt: now}
}

// PlainScript renders a script the way the app stores it in
// metadata.script: a "Title:" line, then "Name: (tone) line" per turn.
func PlainScript(title string, segs []Segment) string {
	var b strings.Builder
	b.WriteString("Title: " + title + "\n")
	for _, s := range segs {
		b.WriteString("\n" + s.Speaker + ": ")
		if s.Tone != "" {
			b.WriteString("(" + s.Tone + ") ")
		}
		b.WriteString(s.Content)
	}
	return b.String()
}

// usageMeter totals a job's model calls.
type usageMeter struct {
	mu                   sync.Mutex
	calls, input, output int
	cost                 float64
	unpriced             bool
}

func (m *usageMeter) add(in, out int, cost float64, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls, m.input, m.output, m.cost = m.calls+1, m.input+in, m.output+out, m.cost+cost
	m.unpriced = m.unpriced || !known
}

func (m *usageMeter) summary() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := map[string]any{"calls": m.calls, "input_tokens": m.input, "output_tokens": m.output,
		"cost_usd": math.Round(m.cost*1e6) / 1e6, "prices_as_of": PricesAsOf}
	if m.unpriced {
		s["cost_note"] = "some models are not in the price table; their cost is counted as zero"
	}
	return s
}

// caller returns the job's model call, made through the process's
// provider limits and retries, with a usage event for every answer.
func (h *ScriptHandler) caller(job *Job, provider Provider, llm LLM, cred ProviderCredential, meter *usageMeter) LLMCallFunc {
	return func(ctx context.Context, req LLMRequest) (*LLMResponse, error) {
		req.BaseURL = cred.BaseURL
		var resp *LLMResponse
		err := h.calls.Do(ctx, provider, func(ctx context.Context) (err error) {
			resp, err = llm.Complete(ctx, cred.Secret, req)
			return err
		})
		if err != nil {
			return nil, err
		}
		h.recordUsage(ctx, job, provider, req, resp, cred, meter)
		return resp, nil
	}
}

func (h *ScriptHandler) recordUsage(ctx context.Context, job *Job, provider Provider, req LLMRequest, resp *LLMResponse, cred ProviderCredential, meter *usageMeter) {
	model := resp.Model
	if model == "" {
		model = req.Model
	}
	cost, known := EstimateCost(provider, model, resp.InputTokens, resp.OutputTokens)
	meter.add(resp.InputTokens, resp.OutputTokens, cost, known)
	e := &UsageEvent{ID: NewID(), UserID: job.UserID, EventType: ScriptGenerationType, Provider: string(provider), Model: model,
		InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens, CostUSD: cost, JobID: job.ID,
		Metadata:  map[string]any{"step": req.SchemaName, "key_source": cred.Source, "price_known": known, "prices_as_of": PricesAsOf},
		CreatedAt: h.library.clock.Now()}
	if err := h.library.store.RecordUsage(context.WithoutCancel(ctx), e); err != nil {
		h.library.log.WarnContext(ctx, "could not record usage", "job_id", job.ID, "provider", provider, "error", err.Error())
	}
}

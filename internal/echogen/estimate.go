package echogen

import (
	"context"
	"math"
	"time"
)

// Assumptions of an estimate.
const (
	charsPerWord         = 6     // spoken text, spaces included
	charsPerToken        = 4     // English-like text
	assumedSourceChars   = 20000 // a URL or document not fetched yet
	outputTokensPerWord  = 2.0   // a script's words as JSON segments, with tone
	promptOverheadTokens = 1500  // instructions, outline and previous lines
)

// EstimateItem is the expected cost of one stage on one provider.
type EstimateItem struct {
	Stage        string  `json:"stage"` // "script", "audio" or "cover"
	Provider     string  `json:"provider"`
	Model        string  `json:"model"`
	InputTokens  int     `json:"input_tokens,omitempty"`
	OutputTokens int     `json:"output_tokens,omitempty"`
	Characters   int     `json:"characters,omitempty"`
	Seconds      float64 `json:"seconds,omitempty"`
	CostUSD      float64 `json:"cost_usd"`
	PriceKnown   bool    `json:"price_known"`
}

// Budget is a user's monthly spending limit and what this month's usage
// cost so far.
type Budget struct {
	MonthlyUSD   *float64 `json:"monthly_usd"` // nil: no limit
	SpentUSD     float64  `json:"spent_usd"`
	RemainingUSD *float64 `json:"remaining_usd"`
}

// Estimate is what a podcast_generation job is expected to make and cost.
type Estimate struct {
	Minutes         int            `json:"minutes"`
	Words           int            `json:"words"`
	Characters      int            `json:"characters"`
	SourceChars     int            `json:"source_characters"`
	SourceEstimated bool           `json:"source_estimated"` // the source is not fetched yet
	Items           []EstimateItem `json:"items"`
	TotalUSD        float64        `json:"total_cost_usd"`
	PricesAsOf      string         `json:"prices_as_of"`
	Budget          Budget         `json:"budget"`
	WithinBudget    bool           `json:"within_budget"`
}

// EstimatePodcast estimates a podcast_generation payload for the caller
// without running anything, with the caller's budget. Check the payload first (JobService.Validate),
// as enqueueing it would.
func (s *LibraryService) EstimatePodcast(ctx context.Context, p Principal, payload map[string]any) (*Estimate, error) {
	r, err := parsePodcast(payload)
	if err != nil {
		return nil, err
	}
	e, err := s.estimateRequest(ctx, p.UserID, r)
	if err != nil {
		return nil, err
	}
	b, err := s.Budget(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	e.Budget = *b
	e.WithinBudget = b.RemainingUSD == nil || e.TotalUSD <= *b.RemainingUSD
	return e, nil
}

func withPlaceholder(m map[string]any, key string, add bool) map[string]any {
	if !add {
		return m
	}
	out := map[string]any{key: placeholderID}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *LibraryService) estimateRequest(ctx context.Context, userID string, r *podcastRequest) (*Estimate, error) {
	sr, err := parseScript(withPlaceholder(r.Script, "content_id", r.Ingest != nil))
	if err != nil {
		return nil, err
	}
	e := &Estimate{Minutes: sr.Spec.TargetMinutes, Words: sr.Spec.TargetWords(), PricesAsOf: PricesAsOf}
	e.Characters = e.Words * charsPerWord
	switch {
	case r.Ingest != nil:
		if text, ok := r.Ingest["text"].(string); ok {
			e.SourceChars = len(text)
		} else {
			e.SourceChars, e.SourceEstimated = assumedSourceChars, true
		}
	case sr.ContentID != "":
		c, err := s.store.Content(ctx, userID, sr.ContentID)
		if err != nil {
			return nil, err
		}
		e.SourceChars = len(c.Markdown)
	}
	e.Items = append(e.Items, scriptEstimate(sr, e.SourceChars))
	e.Items = append(e.Items, speechEstimates(r.Audio["voices"], sr.Spec, e.Characters)...)
	if r.Cover != nil {
		provider, model := ProviderLocal, ""
		if v, ok := r.Cover["provider"].(string); ok && v != "" {
			provider = Provider(v)
		}
		if model, _ = r.Cover["model"].(string); model == "" {
			model = defaultImageModels[provider]
		}
		cost, known := EstimateImageCost(provider, model)
		e.Items = append(e.Items, EstimateItem{Stage: "cover", Provider: string(provider), Model: model, CostUSD: cost, PriceKnown: known})
	}
	for i := range e.Items {
		e.Items[i].CostUSD = math.Round(e.Items[i].CostUSD*1e6) / 1e6
		e.TotalUSD += e.Items[i].CostUSD
	}
	e.TotalUSD = math.Round(e.TotalUSD*1e6) / 1e6
	return e, nil
}

// scriptEstimate follows the script writer's plan: notes on every chunk
// of a long source, an outline, then a call per section.
func scriptEstimate(r *scriptRequest, sourceChars int) EstimateItem {
	item := EstimateItem{Stage: "script", Provider: string(r.Provider), Model: r.Model}
	if r.Provider == ProviderLocal {
		item.PriceKnown = true
		return item
	}
	const direct, chunk, sectionWords = 48_000, 24_000, 600
	material := sourceChars
	if sourceChars > direct {
		chunks := (sourceChars + chunk - 1) / chunk
		item.InputTokens += sourceChars/charsPerToken + chunks*promptOverheadTokens/3
		notesWords := max(120, direct/6/chunks*4/5)
		item.OutputTokens += int(float64(chunks*notesWords) * 1.4)
		material = min(sourceChars, chunks*notesWords*charsPerWord)
	}
	words := r.Spec.TargetWords()
	sections := min(max(1, (words+sectionWords/2)/sectionWords), 12)
	perCall := material/charsPerToken + promptOverheadTokens
	item.InputTokens += perCall * (sections + 1)
	item.OutputTokens += 400 + int(float64(words)*outputTokensPerWord)
	item.CostUSD, item.PriceKnown = EstimateCost(r.Provider, r.Model, item.InputTokens, item.OutputTokens)
	return item
}

// speechEstimates shares the episode's characters and seconds among the
// speakers, each priced with the voice asked for (the offline voice when
// none is).
func speechEstimates(voices any, spec ScriptSpec, chars int) []EstimateItem {
	asked, _ := voices.(map[string]any)
	seconds := float64(spec.TargetMinutes * 60)
	byVoice := map[[2]string]*EstimateItem{}
	var order [][2]string
	for _, sp := range spec.Speakers {
		provider, model := ProviderLocal, ""
		if v, ok := asked[sp.Name].(map[string]any); ok {
			if p, _ := v["provider"].(string); p != "" {
				provider = Provider(p)
			}
			model, _ = v["model"].(string)
		}
		if model == "" {
			model = defaultTTSModels[provider]
		}
		key := [2]string{string(provider), model}
		if byVoice[key] == nil {
			byVoice[key] = &EstimateItem{Stage: "audio", Provider: string(provider), Model: model}
			order = append(order, key)
		}
		it := byVoice[key]
		it.Characters += chars / len(spec.Speakers)
		it.Seconds += seconds / float64(len(spec.Speakers))
	}
	out := make([]EstimateItem, 0, len(order))
	for _, k := range order {
		it := byVoice[k]
		it.CostUSD, it.PriceKnown = EstimateSpeechCost(Provider(it.Provider), it.Model, it.Characters, it.Seconds)
		out = append(out, *it)
	}
	return out
}

// Budget returns the user's monthly limit (their preferences'
// monthly_budget_usd, else the server's default) and this calendar
// month's (UTC) spending.
func (s *LibraryService) Budget(ctx context.Context, userID string) (*Budget, error) {
	now := s.clock.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	totals, err := s.store.UsageTotals(ctx, userID, start, now.Add(time.Second), UsageByProvider)
	if err != nil {
		return nil, err
	}
	b := &Budget{}
	for _, t := range totals {
		b.SpentUSD += t.CostUSD
	}
	b.SpentUSD = math.Round(b.SpentUSD*1e6) / 1e6
	limit := s.monthlyBudget
	if prof, err := s.store.Profile(ctx, userID); err == nil {
		if v, ok := prof.Preferences["monthly_budget_usd"].(float64); ok && v >= 0 {
			limit = &v
		}
	}
	if limit != nil {
		b.MonthlyUSD = limit
		remaining := math.Max(0, *limit-b.SpentUSD)
		b.RemainingUSD = &remaining
	}
	return b, nil
}

// CheckBudget refuses work expected to cost more than the user has left
// this month.
func (s *LibraryService) CheckBudget(ctx context.Context, userID string, costUSD float64) error {
	if costUSD <= 0 {
		return nil
	}
	b, err := s.Budget(ctx, userID)
	if err != nil {
		return err
	}
	if b.RemainingUSD != nil && costUSD > *b.RemainingUSD {
		return Errorf(KindBadRequest, "budget_exceeded", "this job is expected to cost about $%.4f, but only $%.4f of your $%.2f monthly budget is left (spent $%.4f); raise preferences.monthly_budget_usd or use cheaper or offline providers",
			costUSD, *b.RemainingUSD, *b.MonthlyUSD, b.SpentUSD)
	}
	return nil
}

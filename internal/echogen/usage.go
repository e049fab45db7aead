package echogen

import (
	"context"
	"time"
)

// UsageEvent is one paid (or counted) provider call (table usage_events).
type UsageEvent struct {
	ID           string
	UserID       string
	EventType    string // "script_generation", "tts_render", …
	Provider     string
	Model        string
	InputTokens  int
	OutputTokens int
	Characters   int
	CostUSD      float64 // estimated from a dated price table
	JobID        string
	Metadata     map[string]any
	CreatedAt    time.Time
}

// Usage groupings.
const (
	UsageByProvider = "provider"
	UsageByDay      = "day"
)

// UsageTotal sums the events of one group: a provider, or a UTC day
// (YYYY-MM-DD).
type UsageTotal struct {
	Key          string
	Events       int
	InputTokens  int
	OutputTokens int
	Characters   int
	CostUSD      float64
}

// UsageStore keeps usage events.
type UsageStore interface {
	RecordUsage(ctx context.Context, e *UsageEvent) error
	// UsageTotals sums the user's events created in [from, to), grouped by
	// UsageByProvider or UsageByDay, ordered by key.
	UsageTotals(ctx context.Context, userID string, from, to time.Time, groupBy string) ([]UsageTotal, error)
}

// Usage returns the caller's usage between from and to (zero: the last 30
// days up to now), grouped by provider or day.
func (s *LibraryService) Usage(ctx context.Context, p Principal, from, to time.Time, groupBy string) ([]UsageTotal, error) {
	if groupBy == "" {
		groupBy = UsageByProvider
	}
	if groupBy != UsageByProvider && groupBy != UsageByDay {
		return nil, Invalid([]string{"query", "group_by"}, "enum", "group_by must be provider or day")
	}
	if to.IsZero() {
		to = s.clock.Now()
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	if !from.Before(to) {
		return nil, Invalid([]string{"query", "from"}, "value_error", "from must be before to")
	}
	return s.store.UsageTotals(ctx, p.UserID, from.UTC(), to.UTC(), groupBy)
}

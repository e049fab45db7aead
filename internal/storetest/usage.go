package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

func testUsage(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	user, other := echogen.NewID(), echogen.NewID()
	day1 := time.Date(2030, 1, 2, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second) // the next UTC day
	events := []echogen.UsageEvent{
		{UserID: user, EventType: "script_generation", Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1000, OutputTokens: 200, CostUSD: 0.25, JobID: "script_generation_a", CreatedAt: day1},
		{UserID: user, EventType: "script_generation", Provider: "gemini", Model: "gemini-2.5-flash", InputTokens: 500, OutputTokens: 100, CostUSD: 0.5, CreatedAt: day1},
		{UserID: user, EventType: "tts_render", Provider: "openai", Model: "tts-1", Characters: 3000, CostUSD: 0.045, CreatedAt: day2},
		{UserID: other, EventType: "script_generation", Provider: "openai", InputTokens: 99999, CostUSD: 9, CreatedAt: day1},
		{UserID: user, EventType: "script_generation", Provider: "openai", InputTokens: 7, CreatedAt: day2.Add(48 * time.Hour)}, // outside the range
	}
	for i := range events {
		if err := s.RecordUsage(ctx, &events[i]); err != nil {
			t.Fatal(err)
		}
		if !echogen.IsID(events[i].ID) {
			t.Fatalf("RecordUsage did not fill the id: %q", events[i].ID)
		}
	}
	from, to := day1.Add(-time.Hour), day2.Add(time.Hour)
	tests := []struct {
		groupBy string
		want    []echogen.UsageTotal
	}{
		{echogen.UsageByProvider, []echogen.UsageTotal{
			{Key: "gemini", Events: 1, InputTokens: 500, OutputTokens: 100, CostUSD: 0.5},
			{Key: "openai", Events: 2, InputTokens: 1000, OutputTokens: 200, Characters: 3000, CostUSD: 0.295},
		}},
		{echogen.UsageByDay, []echogen.UsageTotal{
			{Key: "2030-01-02", Events: 2, InputTokens: 1500, OutputTokens: 300, CostUSD: 0.75},
			{Key: "2030-01-03", Events: 1, Characters: 3000, CostUSD: 0.045},
		}},
	}
	for _, tt := range tests {
		got, err := s.UsageTotals(ctx, user, from, to, tt.groupBy)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
			t.Errorf("UsageTotals by %s (-want +got):\n%s", tt.groupBy, diff)
		}
	}
	if got, err := s.UsageTotals(ctx, "not-a-uuid", from, to, echogen.UsageByDay); err != nil || len(got) != 0 {
		t.Errorf("malformed user id: %v %v", got, err)
	}
}

package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// RecordUsage inserts a usage event.
func (s *Store) RecordUsage(ctx context.Context, e *echogen.UsageEvent) error {
	if e.ID == "" {
		e.ID = echogen.NewID()
	}
	md, err := objectArg(e.Metadata)
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	_, err = s.exec(ctx, s.write, `INSERT INTO usage_events (id, user_id, event_type, provider, model, input_tokens, output_tokens, characters, cost_usd, job_id, metadata, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.UserID, e.EventType, e.Provider, e.Model, e.InputTokens, e.OutputTokens, e.Characters, e.CostUSD, e.JobID, md, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// UsageTotals sums the user's usage in [from, to) by provider or UTC day.
func (s *Store) UsageTotals(ctx context.Context, userID string, from, to time.Time, groupBy string) ([]echogen.UsageTotal, error) {
	key := "coalesce(provider, '')"
	if groupBy == echogen.UsageByDay {
		key = s.d.utcDay("created_at")
	}
	rows, err := s.query(ctx, s.read, `SELECT `+key+` AS k, count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
			coalesce(sum(characters), 0), coalesce(sum(cost_usd), 0)
		FROM usage_events WHERE user_id = ? AND created_at >= ? AND created_at < ?
		GROUP BY k ORDER BY k`, userID, from, to)
	if isMalformedID(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("usage totals: %w", err)
	}
	defer rows.Close()
	var out []echogen.UsageTotal
	for rows.Next() {
		var t echogen.UsageTotal
		if err := rows.Scan(&t.Key, &t.Events, &t.InputTokens, &t.OutputTokens, &t.Characters, &t.CostUSD); err != nil {
			return nil, fmt.Errorf("usage totals: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

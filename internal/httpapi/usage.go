package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type usageTotal struct {
	Key          string  `json:"key" doc:"The provider, or the UTC day (YYYY-MM-DD)."`
	Events       int     `json:"events"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	Characters   int     `json:"characters"`
	CostUSD      float64 `json:"cost_usd" doc:"Estimated from a dated price table."`
}

type usageResponse struct {
	GroupBy string       `json:"group_by"`
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Totals  []usageTotal `json:"totals"`
}

func (s *Server) registerUsage(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get_usage", Method: http.MethodGet, Path: s.path("/usage"), Tags: []string{"usage"},
		Summary: "Provider usage and estimated cost", Security: bearerAuth,
		Description: "Sums the caller's provider calls in [from, to) (default: the last 30 days) by provider or by UTC day.",
	}, func(ctx context.Context, in *struct {
		From    time.Time `query:"from" doc:"RFC 3339; default 30 days before to."`
		To      time.Time `query:"to" doc:"RFC 3339; default now."`
		GroupBy string    `query:"group_by" enum:"provider,day" default:"provider"`
	}) (*struct{ Body usageResponse }, error) {
		to := in.To
		if to.IsZero() {
			to = s.clock.Now()
		}
		from := in.From
		if from.IsZero() {
			from = to.Add(-30 * 24 * time.Hour)
		}
		totals, err := s.library.Usage(ctx, principalFrom(ctx), from, to, in.GroupBy)
		if err != nil {
			return nil, err
		}
		out := usageResponse{GroupBy: in.GroupBy, From: ts(from), To: ts(to), Totals: make([]usageTotal, len(totals))}
		for i, t := range totals {
			out.Totals[i] = usageTotal(t)
		}
		return &struct{ Body usageResponse }{Body: out}, nil
	})
}

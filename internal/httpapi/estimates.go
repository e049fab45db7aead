package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

func (s *Server) registerEstimates(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "estimate_podcast", Method: http.MethodPost, Path: s.path("/estimates"), Tags: []string{"jobs", "usage"},
		Summary: "Estimate a podcast_generation job before paying for it", Security: bearerAuth,
		Description: "Takes the payload of a podcast_generation job and answers the expected minutes, words and characters, " +
			"the tokens, characters and cost of each stage on each provider (list prices as of `prices_as_of`), and your monthly " +
			"budget: `within_budget` false means the job would be refused when it starts. Nothing runs and nothing is charged.",
	}, func(ctx context.Context, in *struct{ Body map[string]any }) (*struct{ Body *echogen.Estimate }, error) {
		if err := s.jobs.Validate(echogen.PodcastGenerationType, in.Body); err != nil {
			return nil, err
		}
		e, err := s.library.EstimatePodcast(ctx, principalFrom(ctx), in.Body)
		if err != nil {
			return nil, err
		}
		return &struct{ Body *echogen.Estimate }{Body: e}, nil
	})
}

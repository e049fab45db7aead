package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

type providerResponse struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Kinds        []string        `json:"kinds" doc:"llm, tts, image, scrape"`
	HasKey       bool            `json:"has_key" doc:"You can use it now: with your own key, the server's, or (local) none."`
	KeySource    *string         `json:"key_source" doc:"user or server"`
	Models       []string        `json:"models"`
	ModelsSource *string         `json:"models_source" doc:"live (asked the provider with your key) or builtin"`
	TTSModels    []string        `json:"tts_models"`
	Voices       []echogen.Voice `json:"voices"`
	Languages    []string        `json:"languages"`
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) registerProviders(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "list_providers", Method: http.MethodGet, Path: s.path("/providers"), Tags: []string{"providers"},
		Summary: "AI and scraping providers, and what you can use", Security: bearerAuth,
		Description: "Model lists come live from each provider you have a key for (cached for 10 minutes), else from a built-in list.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []providerResponse }, error) {
		infos, err := s.catalogue.Providers(ctx, principalFrom(ctx))
		if err != nil {
			return nil, err
		}
		out := make([]providerResponse, len(infos))
		for i, p := range infos {
			out[i] = providerResponse{
				ID: string(p.ID), Name: p.Name, Kinds: p.Kinds, HasKey: p.HasKey, KeySource: optionalString(p.KeySource),
				Models: emptyIfNil(p.Models), ModelsSource: optionalString(p.ModelsSource), TTSModels: emptyIfNil(p.TTSModels),
				Voices: emptyIfNil(p.Voices), Languages: emptyIfNil(p.Languages),
			}
		}
		return &struct{ Body []providerResponse }{Body: out}, nil
	})
}

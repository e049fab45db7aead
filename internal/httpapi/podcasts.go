package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// podcastResponse is the client's Podcast. The URLs are signed and expire
// (SIGNED_URL_TTL); fetch the podcast again, or use /audio and /cover, for
// fresh ones.
type podcastResponse struct {
	ID                  string         `json:"id"`
	UserID              string         `json:"user_id"`
	ScriptID            string         `json:"script_id"`
	AudioURL            string         `json:"audio_url"`
	CoverArtURL         *string        `json:"cover_art_url"`
	DurationSeconds     *int           `json:"duration_seconds"`
	AudioStoragePath    string         `json:"audio_storage_path"`
	CoverArtStoragePath *string        `json:"cover_art_storage_path"`
	Metadata            map[string]any `json:"metadata"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

type podcastDetailResponse struct {
	podcastResponse
	Script scriptResponse `json:"script"`
}

func (s *Server) toPodcastResponse(ctx context.Context, v *echogen.PodcastView) podcastResponse {
	r := podcastResponse{
		ID: v.ID, UserID: v.UserID, ScriptID: v.ScriptID, AudioURL: s.absolute(ctx, v.AudioURL),
		DurationSeconds: v.DurationSeconds, AudioStoragePath: v.AudioPath, CoverArtStoragePath: v.CoverArtPath,
		Metadata: orEmptyMap(v.Metadata), CreatedAt: ts(v.CreatedAt), UpdatedAt: ts(v.UpdatedAt),
	}
	if v.CoverArtURL != nil {
		u := s.absolute(ctx, *v.CoverArtURL)
		r.CoverArtURL = &u
	}
	return r
}

// absolute turns a signed URL relative to this server into an absolute
// one: the client plays it as is.
func (s *Server) absolute(ctx context.Context, u string) string {
	if !strings.HasPrefix(u, "/") {
		return u
	}
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL + u
	}
	return requestInfoFrom(ctx).baseURL + u
}

type podcastCreateRequest struct {
	ScriptID            string         `json:"script_id" maxLength:"64"`
	AudioStoragePath    string         `json:"audio_storage_path" maxLength:"1024" doc:"A storage_path from POST /uploads (kind audio)."`
	CoverArtStoragePath *string        `json:"cover_art_storage_path,omitempty" nullable:"true" maxLength:"1024" doc:"A storage_path from POST /uploads (kind image)."`
	DurationSeconds     *int           `json:"duration_seconds,omitempty" nullable:"true" minimum:"0"`
	Metadata            map[string]any `json:"metadata,omitempty" nullable:"true"`
}

type podcastOutput struct {
	Body podcastResponse
}

type podcastIDInput struct {
	PodcastID string `path:"podcast_id"`
}

type redirectOutput struct {
	Status   int
	Location string `header:"Location"`
	Cache    string `header:"Cache-Control"`
}

func (s *Server) registerPodcasts(api huma.API) {
	tags := []string{"podcasts"}
	huma.Register(api, huma.Operation{
		OperationID: "create_podcast", Method: http.MethodPost, Path: s.path("/podcasts"), Tags: tags,
		Summary: "Record a podcast", Security: bearerAuth, DefaultStatus: http.StatusCreated,
		Description: "The script and both storage paths must be yours.",
	}, func(ctx context.Context, in *struct{ Body podcastCreateRequest }) (*podcastOutput, error) {
		v, err := s.library.CreatePodcast(ctx, principalFrom(ctx), echogen.PodcastInput{
			ScriptID: in.Body.ScriptID, AudioPath: in.Body.AudioStoragePath, CoverArtPath: in.Body.CoverArtStoragePath,
			DurationSeconds: in.Body.DurationSeconds, Metadata: in.Body.Metadata,
		})
		if err != nil {
			return nil, err
		}
		return &podcastOutput{Body: s.toPodcastResponse(ctx, v)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_podcasts", Method: http.MethodGet, Path: s.path("/podcasts"), Tags: tags,
		Summary: "List podcasts, newest first", Security: bearerAuth,
	}, func(ctx context.Context, in *pageInput) (*struct{ Body []podcastResponse }, error) {
		views, err := s.library.ListPodcasts(ctx, principalFrom(ctx), in.page())
		if err != nil {
			return nil, err
		}
		out := make([]podcastResponse, len(views))
		for i := range views {
			out[i] = s.toPodcastResponse(ctx, &views[i])
		}
		return &struct{ Body []podcastResponse }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_podcast", Method: http.MethodGet, Path: s.path("/podcasts/{podcast_id}"), Tags: tags,
		Summary: "One podcast", Security: bearerAuth,
	}, func(ctx context.Context, in *podcastIDInput) (*podcastOutput, error) {
		v, err := s.library.Podcast(ctx, principalFrom(ctx), in.PodcastID)
		if err != nil {
			return nil, err
		}
		return &podcastOutput{Body: s.toPodcastResponse(ctx, v)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_podcast_with_script", Method: http.MethodGet, Path: s.path("/podcasts/{podcast_id}/with-script"), Tags: tags,
		Summary: "A podcast and its script", Security: bearerAuth,
	}, func(ctx context.Context, in *podcastIDInput) (*struct{ Body podcastDetailResponse }, error) {
		v, sc, err := s.library.PodcastWithScript(ctx, principalFrom(ctx), in.PodcastID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body podcastDetailResponse }{Body: podcastDetailResponse{
			podcastResponse: s.toPodcastResponse(ctx, v), Script: toScriptResponse(sc),
		}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete_podcast", Method: http.MethodDelete, Path: s.path("/podcasts/{podcast_id}"), Tags: tags,
		Summary: "Delete a podcast and its media", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *podcastIDInput) (*struct{}, error) {
		return nil, s.library.DeletePodcast(ctx, principalFrom(ctx), in.PodcastID)
	})

	for _, media := range []struct {
		suffix, id, summary string
		cover               bool
	}{
		{"/audio", "get_podcast_audio", "Redirect to the podcast's audio", false},
		{"/cover", "get_podcast_cover", "Redirect to the podcast's cover art", true},
	} {
		huma.Register(api, huma.Operation{
			OperationID: media.id, Method: http.MethodGet, Path: s.path("/podcasts/{podcast_id}" + media.suffix), Tags: tags,
			Summary: media.summary, Security: bearerAuth, DefaultStatus: http.StatusFound,
			Description: "302 to a freshly signed URL that supports Range requests, so players can seek.",
		}, func(ctx context.Context, in *podcastIDInput) (*redirectOutput, error) {
			u, err := s.library.MediaURL(ctx, principalFrom(ctx), in.PodcastID, media.cover)
			if err != nil {
				return nil, err
			}
			return &redirectOutput{Status: http.StatusFound, Location: s.absolute(ctx, u), Cache: "no-store"}, nil
		})
	}

	huma.Register(api, huma.Operation{
		OperationID: "get_podcast_transcript", Method: http.MethodGet, Path: s.path("/podcasts/{podcast_id}/transcript"), Tags: tags,
		Summary: "Redirect to a generated podcast's transcript", Security: bearerAuth, DefaultStatus: http.StatusFound,
		Description: "302 to a freshly signed URL of the WebVTT (default), SRT or JSON transcript, or the chapters (Podcasting 2.0 JSON), of a podcast made by audio_render.",
	}, func(ctx context.Context, in *struct {
		PodcastID string `path:"podcast_id"`
		Format    string `query:"format" enum:"vtt,srt,json,chapters" default:"vtt"`
	}) (*redirectOutput, error) {
		u, err := s.library.TranscriptURL(ctx, principalFrom(ctx), in.PodcastID, in.Format)
		if err != nil {
			return nil, err
		}
		return &redirectOutput{Status: http.StatusFound, Location: s.absolute(ctx, u), Cache: "no-store"}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "rerender_podcast", Method: http.MethodPost, Path: s.path("/podcasts/{podcast_id}/rerender"), Tags: append(tags, "jobs"),
		Summary: "Render a podcast again with new voices or an edited script", Security: bearerAuth, DefaultStatus: http.StatusAccepted,
		Description: "Starts an audio_render job for the podcast. `segments` replaces the script's turns first; `voices` (speaker → " +
			"{provider, model, voice, settings}) is laid over the voices used last time. Only turns whose text, tone, voice or settings " +
			"changed are synthesised again; the rest come from the turn cache. The podcast keeps its id and gets the new audio when the job succeeds.",
	}, func(ctx context.Context, in *struct {
		PodcastID string `path:"podcast_id"`
		Body      rerenderRequest
	}) (*acceptedJobOutput, error) {
		p := principalFrom(ctx)
		rin := echogen.RerenderInput{Voices: in.Body.Voices, Format: in.Body.Format, GapMs: in.Body.GapMs, Normalize: in.Body.Normalize}
		if in.Body.Segments != nil {
			rin.Segments = toSegments(in.Body.Segments)
		}
		payload, err := s.library.PrepareRerender(ctx, p, in.PodcastID, rin, func(payload map[string]any) error {
			return s.jobs.Validate(echogen.AudioRenderType, payload)
		})
		if err != nil {
			return nil, err
		}
		j, err := s.jobs.Enqueue(ctx, p, echogen.AudioRenderType, payload)
		if err != nil {
			return nil, err
		}
		return s.accepted(j), nil
	})
}

type rerenderRequest struct {
	Voices    map[string]any `json:"voices,omitempty" doc:"speaker → {provider, model, voice, settings}"`
	Segments  []segment      `json:"segments,omitempty" maxItems:"2000" doc:"The edited script's turns; omit to keep them."`
	Format    *string        `json:"format,omitempty" enum:"mp3,m4a,opus,wav"`
	GapMs     *int           `json:"gap_ms,omitempty" minimum:"0" maximum:"5000"`
	Normalize *bool          `json:"normalize,omitempty"`
}

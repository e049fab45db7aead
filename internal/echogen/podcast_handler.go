package echogen

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// PodcastGenerationType is the job type that makes a whole episode from a
// source: ingest, script, audio and cover as stages of one job.
const PodcastGenerationType = "podcast_generation"

// podcastStage is one stage of a podcast_generation job and its share of
// the progress bar.
type podcastStage struct {
	name     string
	handler  JobHandler
	from, to float64
}

// PodcastHandler runs podcast_generation jobs by running the stage
// handlers under the job's own id: each stage names what it makes after
// that id, so a retried job finds the stages it finished and goes on from
// the first it did not.
type PodcastHandler struct {
	ingest *IngestHandler
	script *ScriptHandler
	audio  *AudioHandler
	cover  *CoverHandler
	budget *LibraryService
}

// NewPodcastHandler returns the podcast_generation handler.
func NewPodcastHandler(library *LibraryService, ingest *IngestHandler, script *ScriptHandler, audio *AudioHandler, cover *CoverHandler) *PodcastHandler {
	return &PodcastHandler{ingest: ingest, script: script, audio: audio, cover: cover, budget: library}
}

// Type implements JobHandler.
func (h *PodcastHandler) Type() string { return PodcastGenerationType }

// Limits implements JobHandler: time for every stage.
func (h *PodcastHandler) Limits() JobLimits {
	var total time.Duration
	for _, s := range []JobHandler{h.ingest, h.script, h.audio, h.cover} {
		total += s.Limits().Timeout
	}
	return JobLimits{MaxAttempts: 4, Timeout: total}
}

// podcastRequest is a podcast_generation payload split into its stages'
// payloads; Ingest is nil when the source needs no ingesting, Cover when
// no cover is wanted.
type podcastRequest struct {
	Ingest, Script, Audio, Cover map[string]any
	ContentID                    string
}

// Payload keys of each stage.
var (
	ingestKeys = map[string]string{"url": "url", "text": "text", "title": "title", "storage_path": "storage_path", "ingest_provider": "provider"}
	scriptKeys = []string{"provider", "model", "style", "speakers", "target_minutes", "language", "custom_prompt", "tone"}
	audioKeys  = []string{"voices", "format", "gap_ms", "normalize"}
)

// placeholderID stands in for ids a stage makes, so that later stages'
// payloads can be validated before the job runs.
const placeholderID = "00000000-0000-4000-8000-000000000000"

func parsePodcast(payload map[string]any) (*podcastRequest, error) {
	r := podcastRequest{Script: map[string]any{}, Audio: map[string]any{}, Cover: map[string]any{}}
	ingest := map[string]any{}
	for k, v := range payload {
		switch {
		case ingestKeys[k] != "":
			ingest[ingestKeys[k]] = v
		case slices.Contains(scriptKeys, k):
			r.Script[k] = v
		case slices.Contains(audioKeys, k):
			r.Audio[k] = v
		case k == "content_id" || k == "topic":
			s, ok := v.(string)
			if !ok {
				return nil, Invalid([]string{"body", "payload", k}, "string_type", k+" must be a string")
			}
			r.Script[k] = s
			r.ContentID, _ = r.Script["content_id"].(string)
		case k == "cover":
			switch c := v.(type) {
			case bool:
				if !c {
					r.Cover = nil
				}
			case map[string]any:
				for ck, cv := range c {
					if ck == "podcast_id" || ck == "script_id" {
						return nil, Invalid([]string{"body", "payload", "cover", ck}, "extra_forbidden", "the cover is made for this job's podcast")
					}
					r.Cover[ck] = cv
				}
			default:
				return nil, Invalid([]string{"body", "payload", "cover"}, "model_type", "cover is false or {provider, model, prompt, size, quality}")
			}
		default:
			return nil, Invalid([]string{"body", "payload", k}, "extra_forbidden",
				"unknown field; podcast_generation takes a source (url, text and title, storage_path, content_id or topic), ingest_provider, the script's options, the audio's options and cover")
		}
	}
	_, hasTopic := r.Script["topic"]
	switch {
	case len(ingest) > 0 && (r.ContentID != "" || hasTopic):
		return nil, Invalid([]string{"body", "payload"}, "value_error", "give one source: url, text, storage_path, content_id or topic")
	case len(ingest) > 0:
		r.Ingest = ingest
	case r.ContentID == "" && !hasTopic:
		return nil, Invalid([]string{"body", "payload"}, "value_error", "give a source: url, text, storage_path, content_id or topic")
	}
	return &r, nil
}

// stages returns the job's stages with their payloads, given what earlier
// stages made.
func (h *PodcastHandler) stages(r *podcastRequest) []podcastStage {
	var out []podcastStage
	if r.Ingest != nil {
		out = append(out, podcastStage{"ingest", h.ingest, 0, 15})
	}
	out = append(out, podcastStage{"script", h.script, 15, 45}, podcastStage{"audio", h.audio, 45, 92})
	if r.Cover != nil {
		out = append(out, podcastStage{"cover", h.cover, 92, 99})
	}
	return out
}

// payloadOf is a stage's payload, with the ids earlier stages made.
func (r *podcastRequest) payloadOf(stage string, made map[string]any) map[string]any {
	with := func(base map[string]any, extra map[string]any) map[string]any {
		out := make(map[string]any, len(base)+len(extra))
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	switch stage {
	case "ingest":
		return r.Ingest
	case "script":
		if r.Ingest != nil {
			return with(r.Script, map[string]any{"content_id": made["content_id"]})
		}
		return r.Script
	case "audio":
		return with(r.Audio, map[string]any{"script_id": made["script_id"]})
	}
	return with(r.Cover, map[string]any{"podcast_id": made["podcast_id"]})
}

// Validate implements JobHandler: every stage's payload is checked now,
// with placeholders for the ids the stages will make.
func (h *PodcastHandler) Validate(payload map[string]any) error {
	r, err := parsePodcast(payload)
	if err != nil {
		return err
	}
	made := map[string]any{"content_id": placeholderID, "script_id": placeholderID, "podcast_id": placeholderID}
	for _, s := range h.stages(r) {
		if err := s.handler.Validate(r.payloadOf(s.name, made)); err != nil {
			return err
		}
	}
	return nil
}

// Run implements JobHandler.
func (h *PodcastHandler) Run(ctx context.Context, run JobRun) (map[string]any, error) {
	r, err := parsePodcast(run.Job.Payload)
	if err != nil {
		return nil, err
	}
	if est, err := h.budget.estimateRequest(ctx, run.Job.UserID, r); err == nil {
		if err := h.budget.CheckBudget(ctx, run.Job.UserID, est.TotalUSD); err != nil {
			return nil, err
		}
	}
	made := map[string]any{}
	if r.ContentID != "" {
		made["content_id"] = r.ContentID
	}
	for _, s := range h.stages(r) {
		stage := *run.Job
		stage.Type, stage.Payload = s.handler.Type(), r.payloadOf(s.name, made)
		from, to := s.from, s.to
		sub := JobRun{Job: &stage, Progress: func(ctx context.Context, p Progress) {
			p.Percent = from + (to-from)*p.Percent/100
			p.Message = fmt.Sprintf("%s: %s", s.name, p.Message)
			run.Progress(ctx, p)
		}}
		result, err := s.handler.Run(ctx, sub)
		if err != nil {
			return nil, err
		}
		for k, v := range result {
			made[k] = v
		}
	}
	return made, nil
}

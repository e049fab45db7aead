package echogen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// CoverArtType is the job type that makes an episode's cover image.
const CoverArtType = "cover_art"

// DefaultCoverTimeout bounds one attempt of a cover_art job.
const DefaultCoverTimeout = 5 * time.Minute

// defaultImageModels are current as of the SDKs pinned in go.mod:
// gpt-image-1 and DALL·E are retired, and Imagen is no longer served by
// the Gemini API (only by Vertex AI).
var defaultImageModels = map[Provider]string{
	ProviderOpenAI: "gpt-image-2", ProviderGemini: "gemini-3.1-flash-image", ProviderImageRouter: "openai/gpt-image-2", ProviderLocal: "gradient",
}

// CoverHandler runs cover_art jobs.
type CoverHandler struct {
	library *LibraryService
	images  map[Provider]ImageGen // ProviderLocal is the offline painter
	engine  AudioEngine
	calls   *ProviderCalls
	timeout time.Duration
	tempDir string
}

// NewCoverHandler returns the cover_art handler; engine re-tags MP3s so
// the new cover is embedded.
func NewCoverHandler(library *LibraryService, images map[Provider]ImageGen, engine AudioEngine, calls *ProviderCalls, timeout time.Duration, tempDir string) *CoverHandler {
	if timeout <= 0 {
		timeout = DefaultCoverTimeout
	}
	return &CoverHandler{library: library, images: images, engine: engine, calls: calls, timeout: timeout, tempDir: tempDir}
}

// Type implements JobHandler.
func (h *CoverHandler) Type() string { return CoverArtType }

// Limits implements JobHandler.
func (h *CoverHandler) Limits() JobLimits { return JobLimits{MaxAttempts: 4, Timeout: h.timeout} }

// coverRequest is a cover_art payload.
type coverRequest struct {
	PodcastID, ScriptID, Title   string
	Provider                     Provider
	Model, Prompt, Size, Quality string
}

func parseCover(payload map[string]any, images map[Provider]ImageGen) (*coverRequest, error) {
	loc := func(k ...string) []string { return append([]string{"body", "payload"}, k...) }
	var r coverRequest
	var provider string
	fields := map[string]*string{"podcast_id": &r.PodcastID, "script_id": &r.ScriptID, "title": &r.Title, "provider": &provider,
		"model": &r.Model, "prompt": &r.Prompt, "size": &r.Size, "quality": &r.Quality}
	for k := range payload {
		if _, ok := fields[k]; !ok {
			return nil, Invalid(loc(k), "extra_forbidden", "unknown field; cover_art takes podcast_id, script_id or title, provider, model, prompt, size and quality")
		}
	}
	for k, dst := range fields {
		v, err := stringField(payload, k)
		if err != nil {
			return nil, err
		}
		*dst = strings.TrimSpace(v)
	}
	r.Provider = ProviderLocal
	if provider != "" {
		r.Provider = Provider(provider)
	}
	if _, ok := images[r.Provider]; !ok {
		return nil, Invalid(loc("provider"), "enum", "provider must be one of the image providers of this server: "+providerList(images))
	}
	if r.Model == "" {
		r.Model = defaultImageModels[r.Provider]
	}
	switch {
	case r.PodcastID == "" && r.ScriptID == "" && r.Title == "":
		return nil, Invalid(loc(), "value_error", "give podcast_id (to set its cover), script_id or title")
	case r.PodcastID != "" && !IsID(r.PodcastID):
		return nil, Invalid(loc("podcast_id"), "uuid_parsing", "podcast_id must be a UUID")
	case r.ScriptID != "" && !IsID(r.ScriptID):
		return nil, Invalid(loc("script_id"), "uuid_parsing", "script_id must be a UUID")
	case len([]rune(r.Prompt)) > maxCustomPromptLength:
		return nil, Invalid(loc("prompt"), "string_too_long", fmt.Sprintf("prompt must be at most %d characters", maxCustomPromptLength))
	case r.Model == "":
		return nil, Invalid(loc("model"), "missing", string(r.Provider)+" needs a model")
	}
	if r.Size == "" {
		r.Size = "1024x1024"
	}
	if r.Quality == "" {
		r.Quality = "auto"
	}
	return &r, checkTitle(r.Title, loc("title"))
}

func providerList[V any](m map[Provider]V) string {
	var names []string
	for _, p := range slices.Sorted(maps.Keys(m)) {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// Validate implements JobHandler.
func (h *CoverHandler) Validate(payload map[string]any) error {
	_, err := parseCover(payload, h.images)
	return err
}

// Run implements JobHandler.
func (h *CoverHandler) Run(ctx context.Context, run JobRun) (map[string]any, error) {
	req, err := parseCover(run.Job.Payload, h.images)
	if err != nil {
		return nil, err
	}
	return h.cover(ctx, run, req)
}

// CoverPrompt is the prompt the app used for cover art (contract §4.9).
func CoverPrompt(title, prompt string) string {
	if prompt == "" {
		prompt = fmt.Sprintf("Professional podcast cover art with modern design, vibrant colors, and clean typography. Theme related to %q. Minimalist style with good contrast", title)
	}
	return fmt.Sprintf("Create a professional podcast cover art for %q. %s.\nStyle: modern, clean, with space for typography.\nFormat: square aspect ratio, high contrast, readable at small sizes.\nQuality: high resolution, vibrant colours.", title, strings.TrimSuffix(prompt, "."))
}

func (h *CoverHandler) cover(ctx context.Context, run JobRun, req *coverRequest) (map[string]any, error) {
	job, lib := run.Job, h.library
	var pod *Podcast
	title := req.Title
	if req.PodcastID != "" {
		p, err := lib.store.Podcast(ctx, job.UserID, req.PodcastID)
		if err != nil {
			return nil, err
		}
		if p.Metadata["cover_job_id"] == job.ID && p.CoverArtPath != nil { // this job finished before
			return map[string]any{"podcast_id": p.ID, "cover_art_storage_path": *p.CoverArtPath}, nil
		}
		pod, req.ScriptID = p, p.ScriptID
	}
	if title == "" && req.ScriptID != "" {
		s, err := lib.store.Script(ctx, job.UserID, req.ScriptID)
		if err != nil {
			return nil, err
		}
		title = s.Title
	}
	run.Progress(ctx, Progress{Stage: "painting", Percent: 10, Message: "making the cover art"})
	var cred ProviderCredential
	if req.Provider != ProviderLocal {
		var err error
		if cred, err = lib.ProviderCredential(ctx, job.UserID, req.Provider); err != nil {
			return nil, err
		}
	}
	cost, known := EstimateImageCost(req.Provider, req.Model)
	if err := lib.CheckBudget(ctx, job.UserID, cost); err != nil {
		return nil, err
	}
	ireq := ImageRequest{Model: req.Model, Prompt: CoverPrompt(title, req.Prompt), Title: title, Size: req.Size, Quality: req.Quality, BaseURL: cred.BaseURL}
	var img *Image
	err := h.calls.Do(ctx, req.Provider, func(ctx context.Context) (err error) {
		img, err = h.images[req.Provider].Generate(ctx, cred.Secret, ireq)
		return err
	})
	if err != nil {
		return nil, err
	}
	ext := map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[img.ContentType]
	if ext == "" || len(img.Data) == 0 {
		return nil, Errorf(KindUnavailable, "bad_image", "%s returned no usable image (%q)", req.Provider, img.ContentType)
	}
	stem := DerivedID(CoverArtType, job.ID)[:8]
	coverPath := fmt.Sprintf("%s/covers/%s.%s", job.UserID, DerivedID(CoverArtType, job.ID), ext)
	if pod != nil {
		coverPath = fmt.Sprintf("%s/podcasts/%s/cover-%s.%s", job.UserID, pod.ID, stem, ext)
	}
	if _, err := lib.blobs.Put(ctx, lib.buckets.Art, coverPath, bytes.NewReader(img.Data), img.ContentType); err != nil {
		return nil, err
	}
	if req.Provider != ProviderLocal {
		e := &UsageEvent{ID: NewID(), UserID: job.UserID, EventType: "image_generation", Provider: string(req.Provider), Model: req.Model,
			CostUSD: cost, JobID: job.ID, CreatedAt: lib.clock.Now(),
			Metadata: map[string]any{"size": req.Size, "key_source": cred.Source, "price_known": known, "prices_as_of": PricesAsOf}}
		if err := lib.store.RecordUsage(context.WithoutCancel(ctx), e); err != nil {
			lib.log.WarnContext(ctx, "could not record usage", "job_id", job.ID, "error", err.Error())
		}
	}
	result := map[string]any{"cover_art_storage_path": coverPath}
	if pod == nil {
		return result, nil
	}
	result["podcast_id"] = pod.ID
	run.Progress(ctx, Progress{Stage: "embedding", Percent: 70, Message: "putting the cover on the episode"})
	audioPath, err := h.retag(ctx, pod, title, img, stem)
	if err != nil {
		return nil, err
	}
	_, err = lib.store.UpdatePodcast(ctx, job.UserID, pod.ID, lib.clock.Now(), func(p *Podcast) error {
		p.CoverArtPath, p.AudioPath = &coverPath, audioPath
		p.Metadata["cover_job_id"] = job.ID
		p.Metadata["cover"] = map[string]any{"provider": string(req.Provider), "model": req.Model, "cost_usd": math.Round(cost*1e6) / 1e6}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for bucket, old := range map[string]string{lib.buckets.Audio: pod.AudioPath, lib.buckets.Art: deref(pod.CoverArtPath)} {
		if old != "" && old != audioPath && old != coverPath {
			if err := lib.blobs.Delete(ctx, bucket, old); err != nil {
				lib.log.WarnContext(ctx, "could not delete a replaced object", "podcast_id", pod.ID, "error", err.Error())
			}
		}
	}
	return result, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// retag writes a copy of an MP3 episode with the cover embedded and
// returns its path; other formats keep their file (their containers are
// not tagged here) and path.
func (h *CoverHandler) retag(ctx context.Context, pod *Podcast, title string, img *Image, stem string) (string, error) {
	lib := h.library
	if pod.Metadata["format"] != FormatMP3 {
		return pod.AudioPath, nil
	}
	src, _, err := lib.blobs.Open(ctx, lib.buckets.Audio, pod.AudioPath)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(h.tempDir, "echogen-retag-*")
	if err != nil {
		return "", fmt.Errorf("retag: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	artist, _ := pod.Metadata["artist"].(string)
	tags := AudioTags{Title: title, Artist: artist, Album: "EchoGen", Comment: "Made with EchoGen",
		Cover: img.Data, CoverType: img.ContentType, Chapters: chaptersOf(pod.Metadata["chapters"])}
	if err := h.engine.Retag(ctx, src, tmp, tags); err != nil {
		return "", err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	newPath := path.Join(path.Dir(pod.AudioPath), stem+".mp3")
	if _, err := lib.blobs.Put(ctx, lib.buckets.Audio, newPath, tmp, "audio/mpeg"); err != nil {
		return "", err
	}
	return newPath, nil
}

// chaptersOf reads chapters back from a podcast's metadata.
func chaptersOf(v any) []Chapter {
	list, _ := v.([]any)
	var out []Chapter
	for _, item := range list {
		m, _ := item.(map[string]any)
		title, _ := m["title"].(string)
		start, _ := m["start"].(float64)
		end, _ := m["end"].(float64)
		out = append(out, Chapter{Title: title, Start: start, End: end})
	}
	return out
}

package echogen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// AudioRenderType is the job type that voices a script into an episode.
const AudioRenderType = "audio_render"

// Defaults of an audio_render job.
const (
	DefaultAudioTimeout = 30 * time.Minute
	defaultGapMs        = 300
	maxGapMs            = 5000
	renderWorkers       = 8 // turns in flight at once; each provider's own limit still holds
	maxCoverBytes       = 10 << 20
	charsPerSecond      = WordsPerMinute * charsPerWord / 60.0 // of speech
)

// Default speech models, and voices handed out to speakers in order.
var (
	defaultTTSModels = map[Provider]string{
		ProviderOpenAI: "gpt-4o-mini-tts", ProviderGemini: "gemini-2.5-flash-preview-tts",
		ProviderElevenLabs: "eleven_multilingual_v2", ProviderOpenAICompatible: "tts-1", ProviderLocal: "espeak-ng",
	}
	defaultVoices = map[Provider][]string{
		ProviderOpenAI:           {"alloy", "onyx", "nova", "echo"},
		ProviderOpenAICompatible: {"alloy", "onyx", "nova", "echo"},
		ProviderGemini:           {"Zephyr", "Puck", "Kore", "Charon"},
		// ElevenLabs' premade voices Rachel, Adam, Bella and Antoni.
		ProviderElevenLabs: {"21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB", "EXAVITQu4vr4xnSDxMaL", "ErXwobaYiN019PkySvjV"},
	}
)

// Voice is how one speaker is voiced.
type VoiceChoice struct {
	Provider Provider           `json:"provider"`
	Model    string             `json:"model"`
	Voice    string             `json:"voice"`
	Settings map[string]float64 `json:"settings,omitempty"`
}

// espeakVoice is the default offline voice of the n-th speaker: the
// language's voice with a different variant each.
func espeakVoice(language string, n int) string {
	base := strings.ToLower(language)
	if base == "" || base == "en" {
		base = "en-us"
	}
	return base + []string{"", "+m3", "+f3", "+m5"}[n%4]
}

// AudioOptions tune the audio_render handler.
type AudioOptions struct {
	// Timeout bounds one attempt; zero means DefaultAudioTimeout.
	Timeout time.Duration
	// TempDir holds an episode while it is encoded; "" is os.TempDir.
	TempDir string
}

// AudioHandler runs audio_render jobs.
type AudioHandler struct {
	library *LibraryService
	tts     map[Provider]TTS // ProviderLocal is espeak-ng
	engine  AudioEngine
	calls   *ProviderCalls
	opts    AudioOptions
}

// NewAudioHandler returns the audio_render handler.
func NewAudioHandler(library *LibraryService, tts map[Provider]TTS, engine AudioEngine, calls *ProviderCalls, opts AudioOptions) *AudioHandler {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultAudioTimeout
	}
	return &AudioHandler{library: library, tts: tts, engine: engine, calls: calls, opts: opts}
}

// Type implements JobHandler.
func (h *AudioHandler) Type() string { return AudioRenderType }

// Limits implements JobHandler.
func (h *AudioHandler) Limits() JobLimits { return JobLimits{MaxAttempts: 4, Timeout: h.opts.Timeout} }

// audioRequest is an audio_render payload.
type audioRequest struct {
	ScriptID  string
	PodcastID string // set: render this podcast again
	Voices    map[string]VoiceChoice
	Format    string
	GapMs     int
	Normalize bool
}

func parseAudio(payload map[string]any, tts map[Provider]TTS) (*audioRequest, error) {
	loc := func(k ...string) []string { return append([]string{"body", "payload"}, k...) }
	r := audioRequest{Format: FormatMP3, GapMs: defaultGapMs, Normalize: true}
	for k, v := range payload {
		switch k {
		case "script_id", "podcast_id", "format":
			s, ok := v.(string)
			if !ok {
				return nil, Invalid(loc(k), "string_type", k+" must be a string")
			}
			switch k {
			case "script_id":
				r.ScriptID = s
			case "podcast_id":
				r.PodcastID = s
			default:
				r.Format = s
			}
		case "gap_ms":
			n, ok := v.(float64)
			if !ok || n != math.Trunc(n) || n < 0 || n > maxGapMs {
				return nil, Invalid(loc(k), "int_range", fmt.Sprintf("gap_ms must be a whole number from 0 to %d", maxGapMs))
			}
			r.GapMs = int(n)
		case "normalize":
			b, ok := v.(bool)
			if !ok {
				return nil, Invalid(loc(k), "bool_type", "normalize must be true or false")
			}
			r.Normalize = b
		case "voices":
			voices, err := parseVoices(v, tts)
			if err != nil {
				return nil, err
			}
			r.Voices = voices
		default:
			return nil, Invalid(loc(k), "extra_forbidden", "unknown field; audio_render takes script_id, voices, format, gap_ms and normalize")
		}
	}
	switch {
	case !IsID(r.ScriptID):
		return nil, Invalid(loc("script_id"), "uuid_parsing", "script_id must be the UUID of one of your scripts")
	case r.PodcastID != "" && !IsID(r.PodcastID):
		return nil, Invalid(loc("podcast_id"), "uuid_parsing", "podcast_id must be a UUID")
	case !slices.Contains([]string{FormatMP3, FormatM4A, FormatOpus, FormatWAV}, r.Format):
		return nil, Invalid(loc("format"), "enum", "format must be mp3, m4a, opus or wav")
	}
	return &r, nil
}

func parseVoices(v any, tts map[Provider]TTS) (map[string]VoiceChoice, error) {
	loc := []string{"body", "payload", "voices"}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Invalid(loc, "dict_type", `voices maps each speaker to {"provider", "model", "voice", "settings"}`)
	}
	out := make(map[string]VoiceChoice, len(m))
	for speaker, raw := range m {
		at := append(append([]string{}, loc...), speaker)
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, Invalid(at, "model_type", "a voice is an object")
		}
		var c VoiceChoice
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, Invalid(at, "model_type", `a voice is {"provider", "model", "voice", "settings": {name: number}}: `+err.Error())
		}
		if c.Provider == "" {
			c.Provider = ProviderLocal
		}
		if _, ok := tts[c.Provider]; !ok {
			return nil, Invalid(append(at, "provider"), "enum", "the speech providers of this server are "+providerList(tts))
		}
		out[speaker] = c
	}
	return out, nil
}

// Validate implements JobHandler.
func (h *AudioHandler) Validate(payload map[string]any) error {
	_, err := parseAudio(payload, h.tts)
	return err
}

// Run implements JobHandler.
func (h *AudioHandler) Run(ctx context.Context, run JobRun) (map[string]any, error) {
	req, err := parseAudio(run.Job.Payload, h.tts)
	if err != nil {
		return nil, err
	}
	return h.render(ctx, run, req, nil)
}

// turnAudio is one turn's voice and where its canonical audio is cached.
type turnAudio struct {
	choice VoiceChoice
	key    string // object key in the audio bucket
}

// render voices the script, assembles the episode, stores it with its
// transcripts and writes the podcast row. cover, when set, is embedded.
func (h *AudioHandler) render(ctx context.Context, run JobRun, req *audioRequest, cover *Image) (map[string]any, error) {
	job, lib := run.Job, h.library
	podcastID := req.PodcastID
	if podcastID == "" {
		podcastID = DerivedID(AudioRenderType, job.ID)
	}
	var old *Podcast
	if p, err := lib.store.Podcast(ctx, job.UserID, podcastID); err == nil {
		if p.Metadata["render_job_id"] == job.ID { // this job finished before
			return audioResult(p), nil
		}
		old = p
	} else if req.PodcastID != "" || ErrorKind(err) != KindNotFound {
		return nil, err
	}
	script, err := lib.store.Script(ctx, job.UserID, req.ScriptID)
	if err != nil {
		return nil, err
	}
	if old != nil && old.ScriptID != script.ID {
		return nil, Invalid([]string{"body", "payload", "script_id"}, "value_error", "the podcast was made from another script")
	}
	if len(script.Segments) == 0 {
		return nil, Errorf(KindInvalid, "empty_script", "the script has no segments to voice")
	}
	voices, err := h.voices(req.Voices, script)
	if err != nil {
		return nil, err
	}
	turns := make([]turnAudio, len(script.Segments))
	for i, seg := range script.Segments {
		c := voices[seg.Speaker]
		turns[i] = turnAudio{choice: c, key: job.UserID + "/tts-cache/" + turnHash(c, seg, script.Language) + ".wav"}
	}
	run.Progress(ctx, Progress{Stage: "voicing", Percent: 5, Message: fmt.Sprintf("voicing %d turns", len(turns))})
	stats, err := h.synthesize(ctx, run, script, turns)
	if err != nil {
		return nil, err
	}

	run.Progress(ctx, Progress{Stage: "assembling", Percent: 80, Message: "joining, levelling and encoding the episode"})
	tags := AudioTags{Title: script.Title, Artist: speakerNames(script.Segments), Album: "EchoGen", Comment: "Made with EchoGen"}
	if cover == nil && old != nil && old.CoverArtPath != nil {
		cover = h.readCover(ctx, *old.CoverArtPath)
	}
	if cover != nil {
		tags.Cover, tags.CoverType = cover.Data, cover.ContentType
	}
	areq := AssembleRequest{Turns: len(turns), GapMs: req.GapMs, Normalize: req.Normalize, Format: req.Format, Tags: tags,
		Chapters: chapterMarks(script),
		OpenTurn: func(ctx context.Context, i int) (io.ReadCloser, error) {
			r, _, err := lib.blobs.Open(ctx, lib.buckets.Audio, turns[i].key)
			return r, err
		}}
	tmp, err := os.CreateTemp(h.opts.TempDir, "echogen-episode-*")
	if err != nil {
		return nil, fmt.Errorf("episode file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	res, err := h.engine.Assemble(ctx, areq, tmp)
	if err != nil {
		return nil, err
	}
	for i := range res.Chapters { // to the millisecond, as the turns' times
		c := &res.Chapters[i]
		c.Start, c.End = math.Round(c.Start*1000)/1000, math.Round(c.End*1000)/1000
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	audioPath := fmt.Sprintf("%s/podcasts/%s/%s.%s", job.UserID, podcastID, DerivedID(job.ID)[:8], res.Format)
	if _, err := lib.blobs.Put(ctx, lib.buckets.Audio, audioPath, tmp, res.ContentType); err != nil {
		return nil, err
	}

	run.Progress(ctx, Progress{Stage: "saving", Percent: 95, Message: "saving the transcript and the podcast"})
	segs := timedSegments(script.Segments, res.Turns)
	timingsWritten := h.writeTimings(ctx, job.UserID, script, segs)
	transcripts, err := h.storeTranscripts(ctx, job.UserID, podcastID, script.Title, segs, res.Chapters)
	if err != nil {
		return nil, err
	}
	seconds := int(math.Round(res.Seconds()))
	md := map[string]any{
		"render_job_id":          job.ID,
		"artist":                 tags.Artist,
		"format":                 res.Format,
		"format_requested":       req.Format,
		"content_type":           res.ContentType,
		"encoder":                res.Encoder,
		"bitrate_kbps":           res.Bitrate,
		"sample_rate":            SampleRate,
		"duration_exact_seconds": math.Round(res.Seconds()*1000) / 1000,
		"gap_ms":                 req.GapMs,
		"loudness": map[string]any{"normalized": req.Normalize, "target_lufs": -16.0, "input_lufs": round2(res.InputLUFS),
			"output_lufs": round2(res.OutputLUFS), "true_peak_dbtp": round2(res.TruePeak), "gain_db": round2(res.GainDB)},
		"voices":            voices,
		"providers":         stats.providers(),
		"cost_usd":          math.Round(stats.cost*1e6) / 1e6,
		"prices_as_of":      PricesAsOf,
		"turns":             len(turns),
		"turns_synthesized": stats.synthesized,
		"turns_cached":      len(turns) - stats.synthesized,
		"transcripts":       transcripts,
		"chapters":          res.Chapters,
		"timings_written":   timingsWritten,
	}
	if res.Note != "" {
		md["note"] = res.Note
	}
	now := lib.clock.Now()
	var pod *Podcast
	if old == nil {
		pod = &Podcast{ID: podcastID, UserID: job.UserID, ScriptID: script.ID, AudioPath: audioPath, DurationSeconds: &seconds, Metadata: md, CreatedAt: now, UpdatedAt: now}
		err = lib.store.CreatePodcast(ctx, pod)
	} else {
		pod, err = lib.store.UpdatePodcast(ctx, job.UserID, podcastID, now, func(p *Podcast) error {
			for k, v := range md {
				p.Metadata[k] = v
			}
			p.AudioPath, p.DurationSeconds = audioPath, &seconds
			return nil
		})
	}
	if err != nil {
		lib.blobs.Delete(context.WithoutCancel(ctx), lib.buckets.Audio, audioPath)
		return nil, err
	}
	if old != nil && old.AudioPath != audioPath {
		if err := lib.blobs.Delete(ctx, lib.buckets.Audio, old.AudioPath); err != nil {
			lib.log.WarnContext(ctx, "could not delete a replaced episode", "podcast_id", podcastID, "error", err.Error())
		}
	}
	return audioResult(pod), nil
}

func audioResult(p *Podcast) map[string]any {
	return map[string]any{"podcast_id": p.ID, "audio_storage_path": p.AudioPath, "format": p.Metadata["format"]}
}

func round2(f float64) float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return -70
	}
	return math.Round(f*100) / 100
}

// voices gives every speaker of the script a voice: the one asked for,
// with the provider's default model and voice filled in, else an offline
// espeak-ng voice.
func (h *AudioHandler) voices(asked map[string]VoiceChoice, script *Script) (map[string]VoiceChoice, error) {
	speakers := map[string]int{}
	for _, s := range script.Segments {
		if _, ok := speakers[s.Speaker]; !ok {
			speakers[s.Speaker] = len(speakers)
		}
	}
	for name := range asked {
		if _, ok := speakers[name]; !ok {
			return nil, Invalid([]string{"body", "payload", "voices", name}, "value_error",
				fmt.Sprintf("%q does not speak in the script; its speakers are %s", name, speakerNames(script.Segments)))
		}
	}
	out := make(map[string]VoiceChoice, len(speakers))
	for name, n := range speakers {
		c, ok := asked[name]
		if !ok {
			c = VoiceChoice{Provider: ProviderLocal}
		}
		if c.Model == "" {
			c.Model = defaultTTSModels[c.Provider]
		}
		if c.Voice == "" {
			if c.Provider == ProviderLocal {
				c.Voice = espeakVoice(script.Language, n)
			} else if list := defaultVoices[c.Provider]; len(list) > 0 {
				c.Voice = list[n%len(list)]
			}
		}
		if c.Model == "" || c.Voice == "" {
			return nil, Invalid([]string{"body", "payload", "voices", name}, "missing", string(c.Provider)+" needs a model and a voice")
		}
		out[name] = c
	}
	return out, nil
}

func speakerNames(segs []Segment) string {
	var names []string
	seen := map[string]bool{}
	for _, s := range segs {
		if !seen[s.Speaker] {
			seen[s.Speaker] = true
			names = append(names, s.Speaker)
		}
	}
	return strings.Join(names, ", ")
}

// turnHash names a turn's audio by everything that shapes it, so a turn is
// synthesised again only when its text, voice or settings change.
func turnHash(c VoiceChoice, seg Segment, language string) string {
	h := sha256.New()
	for _, part := range []string{string(c.Provider), c.Model, c.Voice, language, seg.Tone, seg.Content} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, k := range slices.Sorted(maps.Keys(c.Settings)) {
		fmt.Fprintf(h, "%s=%g\x00", k, c.Settings[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// renderStats counts what voicing cost.
type renderStats struct {
	mu          sync.Mutex
	synthesized int
	cost        float64
	byProvider  map[Provider]bool
}

func (s *renderStats) add(p Provider, cost float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synthesized++
	s.cost += cost
	s.byProvider[p] = true
}

func (s *renderStats) providers() []Provider { return slices.Sorted(maps.Keys(s.byProvider)) }

// synthesize voices every turn not already cached, several at once. At
// the first failure no new turn starts, but the turns already being
// voiced finish and are cached, since they are paid for; cancelling the
// job stops them all.
func (h *AudioHandler) synthesize(ctx context.Context, run JobRun, script *Script, turns []turnAudio) (*renderStats, error) {
	lib := h.library
	stats := &renderStats{byProvider: map[Provider]bool{}}
	var todo []int
	for i, t := range turns {
		stats.byProvider[t.choice.Provider] = true
		if _, err := lib.blobs.Stat(ctx, lib.buckets.Audio, t.key); err != nil {
			todo = append(todo, i)
		}
	}
	var expected float64
	for _, i := range todo {
		chars := len([]rune(script.Segments[i].Content))
		cost, _ := EstimateSpeechCost(turns[i].choice.Provider, turns[i].choice.Model, chars, float64(chars)/charsPerSecond)
		expected += cost
	}
	if err := lib.CheckBudget(ctx, run.Job.UserID, expected); err != nil {
		return nil, err
	}
	creds := map[Provider]ProviderCredential{}
	for _, i := range todo {
		p := turns[i].choice.Provider
		if _, ok := creds[p]; ok || p == ProviderLocal {
			continue
		}
		c, err := lib.ProviderCredential(ctx, run.Job.UserID, p)
		if err != nil {
			return nil, err
		}
		creds[p] = c
	}
	var (
		mu       sync.Mutex
		firstErr error
		finished = len(turns) - len(todo)
		wg       sync.WaitGroup
	)
	failed := make(chan struct{})
	work := make(chan int)
	for range min(renderWorkers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				err := h.synthesizeTurn(ctx, run.Job, script, turns[i], script.Segments[i], creds[turns[i].choice.Provider], stats)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					close(failed)
				}
				if err == nil {
					finished++
				}
				n := finished
				mu.Unlock()
				if err == nil {
					run.Progress(ctx, Progress{Stage: "voicing", Percent: 5 + 75*float64(n)/float64(len(turns)), Message: fmt.Sprintf("voiced %d of %d turns", n, len(turns))})
				}
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case work <- i:
		case <-failed:
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return stats, nil
}

func (h *AudioHandler) synthesizeTurn(ctx context.Context, job *Job, script *Script, t turnAudio, seg Segment, cred ProviderCredential, stats *renderStats) error {
	lib := h.library
	tts := h.tts[t.choice.Provider]
	req := SpeechRequest{Model: t.choice.Model, Voice: t.choice.Voice, Text: seg.Content, Tone: seg.Tone, Language: script.Language,
		Settings: t.choice.Settings, BaseURL: cred.BaseURL}
	var audio *SpeechAudio
	err := h.calls.Do(ctx, t.choice.Provider, func(ctx context.Context) (err error) {
		audio, err = tts.Synthesize(ctx, cred.Secret, req)
		return err
	})
	if err != nil {
		return err
	}
	wav, samples, err := h.engine.Canonical(ctx, audio)
	if err != nil {
		return err
	}
	if samples == 0 {
		return Errorf(KindUnavailable, "empty_audio", "%s returned no audio for a turn of %s", t.choice.Provider, seg.Speaker)
	}
	if _, err := lib.blobs.Put(ctx, lib.buckets.Audio, t.key, bytes.NewReader(wav), "audio/wav"); err != nil {
		return err
	}
	chars := audio.Characters
	if chars == 0 {
		chars = len([]rune(seg.Content))
	}
	seconds := float64(samples) / SampleRate
	cost, known := EstimateSpeechCost(t.choice.Provider, t.choice.Model, chars, seconds)
	stats.add(t.choice.Provider, cost)
	if t.choice.Provider == ProviderLocal {
		return nil // no provider call to account for
	}
	e := &UsageEvent{ID: NewID(), UserID: job.UserID, EventType: "tts_render", Provider: string(t.choice.Provider), Model: t.choice.Model,
		Characters: chars, CostUSD: cost, JobID: job.ID, CreatedAt: lib.clock.Now(),
		Metadata: map[string]any{"voice": t.choice.Voice, "seconds": math.Round(seconds*100) / 100, "key_source": cred.Source, "price_known": known, "prices_as_of": PricesAsOf}}
	if err := lib.store.RecordUsage(context.WithoutCancel(ctx), e); err != nil {
		lib.log.WarnContext(ctx, "could not record usage", "job_id", job.ID, "error", err.Error())
	}
	return nil
}

// chapterMarks are the script's chapters (metadata.chapters, written by
// the script writer as [{title, segment}]), else one chapter named after
// the script.
func chapterMarks(s *Script) []ChapterMark {
	var marks []ChapterMark
	if list, ok := s.Metadata["chapters"].([]any); ok {
		for _, item := range list {
			m, _ := item.(map[string]any)
			title, _ := m["title"].(string)
			seg, ok := m["segment"].(float64)
			if title == "" || !ok || int(seg) < 0 || int(seg) >= len(s.Segments) || (len(marks) > 0 && int(seg) <= marks[len(marks)-1].FirstTurn) {
				continue
			}
			marks = append(marks, ChapterMark{Title: title, FirstTurn: int(seg)})
		}
	}
	if len(marks) == 0 || marks[0].FirstTurn != 0 {
		marks = append([]ChapterMark{{Title: s.Title, FirstTurn: 0}}, marks...)
	}
	return marks
}

// timedSegments copies segs with the times the turns really have.
func timedSegments(segs []Segment, spans []TurnSpan) []Segment {
	out := make([]Segment, len(segs))
	for i, s := range segs {
		start := math.Round(float64(spans[i].Start)/SampleRate*1000) / 1000
		end := math.Round(float64(spans[i].End)/SampleRate*1000) / 1000
		s.StartTime, s.EndTime = &start, &end
		out[i] = s
	}
	return out
}

// writeTimings stores the turns' times on the script, unless it was
// edited while the episode was made (the times would not fit).
func (h *AudioHandler) writeTimings(ctx context.Context, userID string, script *Script, timed []Segment) bool {
	written := false
	_, err := h.library.store.UpdateScript(ctx, userID, script.ID, h.library.clock.Now(), func(s *Script) error {
		if len(s.Segments) != len(timed) {
			return nil
		}
		for i := range s.Segments {
			if s.Segments[i].Content != timed[i].Content || s.Segments[i].Speaker != timed[i].Speaker {
				return nil
			}
		}
		s.Segments, written = timed, true
		return nil
	})
	if err != nil {
		h.library.log.WarnContext(ctx, "could not write the turns' times to the script", "script_id", script.ID, "error", err.Error())
		return false
	}
	return written
}

// storeTranscripts writes WebVTT, SRT, JSON and chapters beside the audio.
func (h *AudioHandler) storeTranscripts(ctx context.Context, userID, podcastID, title string, segs []Segment, chapters []Chapter) (map[string]string, error) {
	lib := h.library
	js, err := TranscriptJSON(title, segs, chapters)
	if err != nil {
		return nil, err
	}
	if chapters == nil {
		chapters = []Chapter{}
	}
	chaptersJSON, err := json.MarshalIndent(map[string]any{"version": "1.2.0", "chapters": podcastChapters(chapters)}, "", "  ")
	if err != nil {
		return nil, err
	}
	prefix := userID + "/podcasts/" + podcastID + "/"
	files := []struct{ kind, name, contentType, body string }{
		{"vtt", "transcript.vtt", "text/vtt; charset=utf-8", WebVTT(segs)},
		{"srt", "transcript.srt", "application/x-subrip; charset=utf-8", SRT(segs)},
		{"json", "transcript.json", "application/json", string(js)},
		{"chapters", "chapters.json", "application/json+chapters", string(chaptersJSON)},
	}
	paths := map[string]string{}
	for _, f := range files {
		if _, err := lib.blobs.Put(ctx, lib.buckets.Transcripts, prefix+f.name, strings.NewReader(f.body), f.contentType); err != nil {
			return nil, err
		}
		paths[f.kind] = prefix + f.name
	}
	return paths, nil
}

// podcastChapters is the Podcasting 2.0 chapters format.
func podcastChapters(chapters []Chapter) []map[string]any {
	out := make([]map[string]any, len(chapters))
	for i, c := range chapters {
		out[i] = map[string]any{"startTime": c.Start, "endTime": c.End, "title": c.Title}
	}
	return out
}

// readCover reads a podcast's cover image to embed; a cover that cannot
// be read is left out rather than failing the episode.
func (h *AudioHandler) readCover(ctx context.Context, path string) *Image {
	lib := h.library
	r, info, err := lib.blobs.Open(ctx, lib.buckets.Art, path)
	if err != nil {
		return nil
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxCoverBytes+1))
	if err != nil || len(b) > maxCoverBytes {
		return nil
	}
	return &Image{Data: b, ContentType: info.ContentType}
}

// RerenderInput changes what a podcast is rendered with; what is left
// out stays as it was.
type RerenderInput struct {
	Voices    map[string]any // speaker → voice, over the podcast's voices
	Segments  []Segment      // an edited script; nil keeps it
	Format    *string
	GapMs     *int
	Normalize *bool
}

// PrepareRerender applies an edited script and returns the audio_render
// payload that renders the podcast again. Only turns whose text, tone,
// voice or settings changed are synthesised again: the rest come from the
// turn cache.
// validate checks the payload as the job queue will (JobService.Validate),
// before the script is changed.
func (s *LibraryService) PrepareRerender(ctx context.Context, p Principal, podcastID string, in RerenderInput, validate func(map[string]any) error) (map[string]any, error) {
	pod, err := s.store.Podcast(ctx, p.UserID, podcastID)
	if err != nil {
		return nil, err
	}
	md := pod.Metadata
	voices := map[string]any{}
	if old, ok := md["voices"].(map[string]any); ok {
		for k, v := range old {
			voices[k] = v
		}
	}
	for k, v := range in.Voices {
		voices[k] = v
	}
	payload := map[string]any{"script_id": pod.ScriptID, "podcast_id": pod.ID, "voices": voices}
	for key, v := range map[string]any{"format": md["format_requested"], "gap_ms": md["gap_ms"]} {
		if v != nil {
			payload[key] = v
		}
	}
	if l, ok := md["loudness"].(map[string]any); ok && l["normalized"] != nil {
		payload["normalize"] = l["normalized"]
	}
	if in.Format != nil {
		payload["format"] = *in.Format
	}
	if in.GapMs != nil {
		payload["gap_ms"] = float64(*in.GapMs)
	}
	if in.Normalize != nil {
		payload["normalize"] = *in.Normalize
	}
	if err := validate(payload); err != nil {
		return nil, err
	}
	if in.Segments != nil {
		if len(in.Segments) == 0 {
			return nil, Invalid([]string{"body", "segments"}, "too_short", "a script needs at least one segment")
		}
		if _, err := s.UpdateScript(ctx, p, pod.ScriptID, ScriptPatch{Segments: Patch[[]Segment]{Set: true, Value: in.Segments}}); err != nil {
			return nil, err
		}
	}
	return payload, nil
}

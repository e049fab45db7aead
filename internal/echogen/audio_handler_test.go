package echogen_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echogen/server/internal/audio"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/ingest"
	"github.com/echogen/server/internal/provider/elevenlabs"
	"github.com/echogen/server/internal/provider/espeak"
	"github.com/echogen/server/internal/provider/local"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/provider/ttstest"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/testenv"
)

// countingTTS wraps a speech engine to count calls and fail or hold them
// on demand.
type countingTTS struct {
	next echogen.TTS
	mu   sync.Mutex
	n    int
	ok   int // calls that returned audio
	// before, when set, runs before call n (from 1) and may fail it.
	before func(ctx context.Context, n int) error
}

func (c *countingTTS) Synthesize(ctx context.Context, key string, req echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	if c.before != nil {
		if err := c.before(ctx, n); err != nil {
			return nil, err
		}
	}
	a, err := c.next.Synthesize(ctx, key, req)
	if err == nil {
		c.mu.Lock()
		c.ok++
		c.mu.Unlock()
	}
	return a, err
}

func (c *countingTTS) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// renderEnv is the audio_render handler on a real store and storage, with
// espeak-ng and the real audio engine.
type renderEnv struct {
	*scriptEnv
	speech *countingTTS
	audio  *echogen.AudioHandler
	cover  *echogen.CoverHandler
	engine *audio.Engine
}

func newRenderEnv(t *testing.T, newStore func(*testing.T) echogen.Store, engineOpts audio.Options) *renderEnv {
	t.Helper()
	testenv.RequireTool(t, "espeak-ng", "apt-get install espeak-ng")
	e := &renderEnv{scriptEnv: newScriptEnv(t, newStore, nil), speech: &countingTTS{next: espeak.New(espeak.Options{})}}
	engineOpts.TempDir = t.TempDir()
	e.engine = audio.New(engineOpts)
	calls := echogen.NewProviderCalls(echogen.CallOptions{Wait: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	e.audio = echogen.NewAudioHandler(e.library, map[echogen.Provider]echogen.TTS{echogen.ProviderLocal: e.speech}, e.engine, calls, echogen.AudioOptions{TempDir: t.TempDir()})
	e.cover = echogen.NewCoverHandler(e.library, map[echogen.Provider]echogen.ImageGen{echogen.ProviderLocal: local.NewCoverPainter()}, e.engine, calls, 0, t.TempDir())
	return e
}

var lines = []echogen.Segment{
	{Speaker: "Alex", Content: "Welcome to the show. Today we talk about lighthouses."},
	{Speaker: "Sam", Content: "The lighthouse of Quillon was built in eighteen forty seven."},
	{Speaker: "Alex", Content: "Its lamp burned whale oil for more than fifty years.", Tone: "thoughtful"},
	{Speaker: "Sam", Content: "Now it is a museum, and that is all for today. Goodbye!"},
}

func (e *renderEnv) newScript(t *testing.T, segs []echogen.Segment) *echogen.Script {
	t.Helper()
	now := time.Now().UTC()
	s := &echogen.Script{ID: echogen.NewID(), UserID: e.user, Title: "Lights of Quillon", Language: "en", Segments: segs,
		Metadata:  map[string]any{"chapters": []any{map[string]any{"title": "Welcome", "segment": 0.0}, map[string]any{"title": "History", "segment": 1.0}}},
		CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateScript(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *renderEnv) render(ctx context.Context, jobID string, payload map[string]any) (map[string]any, error) {
	if err := e.audio.Validate(payload); err != nil {
		return nil, err
	}
	job := &echogen.Job{ID: jobID, UserID: e.user, Type: echogen.AudioRenderType, Payload: payload}
	return e.audio.Run(ctx, echogen.JobRun{Job: job, Progress: func(context.Context, echogen.Progress) {}})
}

// probe measures a file with ffmpeg itself, independently of our engine:
// its duration and integrated loudness (EBU R128).
func probe(t *testing.T, path string) (seconds, lufs float64) {
	t.Helper()
	testenv.RequireTool(t, "ffmpeg", "apt-get install ffmpeg")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?s)Summary:.*?I:\s+(-?[\d.]+) LUFS`).FindSubmatch(out)
	d := regexp.MustCompile(`time=(\d+):(\d+):([\d.]+)`).FindAllSubmatch(out, -1)
	if m == nil || d == nil {
		t.Fatalf("ffmpeg said:\n%s", out)
	}
	lufs, _ = strconv.ParseFloat(string(m[1]), 64)
	last := d[len(d)-1]
	h, _ := strconv.ParseFloat(string(last[1]), 64)
	mi, _ := strconv.ParseFloat(string(last[2]), 64)
	s, _ := strconv.ParseFloat(string(last[3]), 64)
	return h*3600 + mi*60 + s, lufs
}

// download copies an object out of storage to a file.
func (e *renderEnv) download(t *testing.T, bucket, key string) string {
	t.Helper()
	r, _, err := e.blobs.Open(t.Context(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := filepath.Join(t.TempDir(), filepath.Base(key))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAudioRenderOffline(t *testing.T) {
	for name, newStore := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newRenderEnv(t, newStore, audio.Options{})
			script := e.newScript(t, lines)
			res, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID, "gap_ms": 400.0})
			if err != nil {
				t.Fatal(err)
			}
			pod, err := e.store.Podcast(t.Context(), e.user, res["podcast_id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			md := pod.Metadata
			if md["format"] != "mp3" || md["encoder"] == "wav" || md["turns_synthesized"] != float64(4) {
				t.Errorf("metadata %v", md)
			}
			s, err := e.store.Script(t.Context(), e.user, script.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Times come from sample counts: each turn ends 400 ms before
			// the next starts, and the episode ends with the last turn.
			for i, seg := range s.Segments {
				if seg.StartTime == nil || seg.EndTime == nil || *seg.EndTime <= *seg.StartTime {
					t.Fatalf("segment %d times %v–%v", i, seg.StartTime, seg.EndTime)
				}
				if i > 0 {
					if gap := *seg.StartTime - *s.Segments[i-1].EndTime; gap < 0.399 || gap > 0.401 {
						t.Errorf("gap before segment %d is %.3f s", i, gap)
					}
				}
			}
			exact := md["duration_exact_seconds"].(float64)
			if end := *s.Segments[3].EndTime; end < exact-0.002 || end > exact+0.002 {
				t.Errorf("the last turn ends at %.3f s, the episode is %.3f s", end, exact)
			}
			path := e.download(t, buckets.Audio, pod.AudioPath)
			seconds, lufs := probe(t, path)
			if diff := seconds/exact - 1; diff < -0.01 || diff > 0.01 {
				t.Errorf("decoded %.3f s; the turns and gaps make %.3f s", seconds, exact)
			}
			if lufs < -17 || lufs > -15 {
				t.Errorf("integrated loudness %.1f LUFS; want -16 ± 1", lufs)
			}
			transcripts := md["transcripts"].(map[string]any)
			vtt := readObject(t, e, buckets.Transcripts, transcripts["vtt"].(string))
			srt := readObject(t, e, buckets.Transcripts, transcripts["srt"].(string))
			checkVTT(t, vtt, s.Segments)
			checkSRT(t, srt, s.Segments)
			chapters := md["chapters"].([]any)
			if len(chapters) != 2 || chapters[1].(map[string]any)["start"].(float64) != *s.Segments[1].StartTime {
				t.Errorf("chapters %v", chapters)
			}
		})
	}
}

func readObject(t *testing.T, e *renderEnv, bucket, key string) string {
	t.Helper()
	r, _, err := e.blobs.Open(t.Context(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var cueLine = regexp.MustCompile(`^(\d{2}):(\d{2}):(\d{2})[.,](\d{3}) --> (\d{2}):(\d{2}):(\d{2})[.,](\d{3})$`)

func cueSeconds(m []string, at int) float64 {
	h, _ := strconv.Atoi(m[at])
	mi, _ := strconv.Atoi(m[at+1])
	s, _ := strconv.Atoi(m[at+2])
	ms, _ := strconv.Atoi(m[at+3])
	return float64(h*3600+mi*60+s) + float64(ms)/1000
}

// checkCues checks that cues (blocks of "n", "time --> time", text) match
// the segments' times and text.
func checkCues(t *testing.T, kind string, blocks []string, segs []echogen.Segment, text func(echogen.Segment) string) {
	t.Helper()
	if len(blocks) != len(segs) {
		t.Fatalf("%s has %d cues for %d segments", kind, len(blocks), len(segs))
	}
	for i, b := range blocks {
		l := strings.Split(b, "\n")
		m := cueLine.FindStringSubmatch(l[1])
		if len(l) != 3 || l[0] != strconv.Itoa(i+1) || m == nil || l[2] != text(segs[i]) {
			t.Errorf("%s cue %d: %q", kind, i+1, b)
			continue
		}
		if start, end := cueSeconds(m, 1), cueSeconds(m, 5); start != *segs[i].StartTime || end != *segs[i].EndTime {
			t.Errorf("%s cue %d runs %.3f–%.3f; the segment %.3f–%.3f", kind, i+1, start, end, *segs[i].StartTime, *segs[i].EndTime)
		}
	}
}

func checkVTT(t *testing.T, vtt string, segs []echogen.Segment) {
	if !strings.HasPrefix(vtt, "WEBVTT\n\n") {
		t.Fatalf("not WebVTT: %q", vtt[:min(20, len(vtt))])
	}
	blocks := strings.Split(strings.TrimSpace(strings.TrimPrefix(vtt, "WEBVTT\n\n")), "\n\n")
	checkCues(t, "WebVTT", blocks, segs, func(s echogen.Segment) string { return "<v " + s.Speaker + ">" + s.Content })
}

func checkSRT(t *testing.T, srt string, segs []echogen.Segment) {
	checkCues(t, "SRT", strings.Split(strings.TrimSpace(srt), "\n\n"), segs, func(s echogen.Segment) string { return s.Speaker + ": " + s.Content })
}

func TestRerenderSynthesisesOnlyWhatChanged(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	script := e.newScript(t, lines)
	res, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID})
	if err != nil {
		t.Fatal(err)
	}
	podcastID := res["podcast_id"].(string)
	first, _ := e.store.Podcast(t.Context(), e.user, podcastID)
	before := e.speech.calls()
	edited := append([]echogen.Segment(nil), lines...)
	edited[2].Content = "Its lamp burned whale oil until nineteen oh two."
	payload, err := e.library.PrepareRerender(t.Context(), echogen.Principal{UserID: e.user}, podcastID, echogen.RerenderInput{Segments: edited}, e.audio.Validate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.render(t.Context(), echogen.NewID(), payload); err != nil {
		t.Fatal(err)
	}
	if n := e.speech.calls() - before; n != 1 {
		t.Errorf("re-rendering after editing one line made %d speech calls; want 1", n)
	}
	pod, _ := e.store.Podcast(t.Context(), e.user, podcastID)
	if pod.AudioPath == first.AudioPath || pod.Metadata["turns_cached"] != float64(3) {
		t.Errorf("podcast after rerender: %s (was %s), metadata %v", pod.AudioPath, first.AudioPath, pod.Metadata)
	}
	if _, err := e.blobs.Stat(t.Context(), buckets.Audio, first.AudioPath); echogen.ErrorKind(err) != echogen.KindNotFound {
		t.Errorf("the replaced episode is still stored: %v", err)
	}
	// A new voice for one speaker re-voices only that speaker's turns.
	before = e.speech.calls()
	payload, err = e.library.PrepareRerender(t.Context(), echogen.Principal{UserID: e.user}, podcastID,
		echogen.RerenderInput{Voices: map[string]any{"Sam": map[string]any{"provider": "local", "voice": "en-gb"}}}, e.audio.Validate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.render(t.Context(), echogen.NewID(), payload); err != nil {
		t.Fatal(err)
	}
	if n := e.speech.calls() - before; n != 2 {
		t.Errorf("a new voice for Sam made %d speech calls; Sam has 2 turns", n)
	}
}

func TestRenderResumesAfterAFailure(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	script := e.newScript(t, lines)
	e.speech.before = func(ctx context.Context, n int) error {
		if n == 3 {
			return echogen.Errorf(echogen.KindBadRequest, "refused", "the provider refused this line")
		}
		return nil
	}
	jobID := echogen.NewID()
	payload := map[string]any{"script_id": script.ID}
	if _, err := e.render(t.Context(), jobID, payload); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v; want the provider's refusal", err)
	}
	e.speech.mu.Lock()
	finished := e.speech.ok
	e.speech.mu.Unlock()
	if finished == 0 {
		t.Fatal("no turn was voiced before the failure; the test proves nothing")
	}
	e.speech.before = nil
	before := e.speech.calls()
	if _, err := e.render(t.Context(), jobID, payload); err != nil {
		t.Fatal(err)
	}
	if n := e.speech.calls() - before; n != len(lines)-finished {
		t.Errorf("the retry made %d speech calls; %d of %d turns were already voiced", n, finished, len(lines))
	}
}

func TestRenderCancelStopsSpeechCalls(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	segs := make([]echogen.Segment, 40)
	for i := range segs {
		segs[i] = echogen.Segment{Speaker: []string{"Alex", "Sam"}[i%2], Content: fmt.Sprintf("This is line number %d.", i+1)}
	}
	script := e.newScript(t, segs)
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{}, len(segs))
	e.speech.before = func(ctx context.Context, n int) error {
		started <- struct{}{}
		<-ctx.Done() // every call hangs until the job is cancelled
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.render(ctx, echogen.NewID(), map[string]any{"script_id": script.ID})
		done <- err
	}()
	<-started
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want the cancellation", err)
	}
	if n := e.speech.calls(); n >= len(segs) {
		t.Errorf("%d speech calls for %d turns; cancelling should stop the rest", n, len(segs))
	}
	if n := e.speech.calls(); n > 8 {
		t.Errorf("%d calls were started; at most 8 run at once", n)
	}
}

func TestRenderWAVFallback(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{DisableEncoders: true})
	script := e.newScript(t, lines[:2])
	res, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID, "format": "mp3"})
	if err != nil {
		t.Fatal(err)
	}
	pod, _ := e.store.Podcast(t.Context(), e.user, res["podcast_id"].(string))
	if pod.Metadata["format"] != "wav" || pod.Metadata["format_requested"] != "mp3" || !strings.HasSuffix(pod.AudioPath, ".wav") ||
		!strings.Contains(fmt.Sprint(pod.Metadata["note"]), "mp3") {
		t.Errorf("fallback podcast: %s %v", pod.AudioPath, pod.Metadata)
	}
}

func TestCoverArtEmbedsInTheEpisode(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	script := e.newScript(t, lines[:2])
	res, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID})
	if err != nil {
		t.Fatal(err)
	}
	podcastID := res["podcast_id"].(string)
	job := &echogen.Job{ID: echogen.NewID(), UserID: e.user, Type: echogen.CoverArtType, Payload: map[string]any{"podcast_id": podcastID}}
	if _, err := e.cover.Run(t.Context(), echogen.JobRun{Job: job, Progress: func(context.Context, echogen.Progress) {}}); err != nil {
		t.Fatal(err)
	}
	pod, _ := e.store.Podcast(t.Context(), e.user, podcastID)
	if pod.CoverArtPath == nil || !strings.HasSuffix(*pod.CoverArtPath, ".png") {
		t.Fatalf("cover %v", pod.CoverArtPath)
	}
	path := e.download(t, buckets.Audio, pod.AudioPath)
	testenv.RequireTool(t, "ffprobe", "apt-get install ffmpeg")
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_chapters", "-show_format", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	for _, want := range []string{`"codec_name": "png"`, `"title": "Lights of Quillon"`, `"codec_name": "mp3"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ffprobe does not show %s:\n%s", want, out)
		}
	}
}

// slowTTS answers every call after a fixed delay, as a distant provider
// would, with the same short utterance.
type slowTTS struct {
	delay time.Duration
	audio *echogen.SpeechAudio
}

func (s slowTTS) Synthesize(ctx context.Context, _ string, _ echogen.SpeechRequest) (*echogen.SpeechAudio, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.delay):
	}
	return s.audio, nil
}

// BenchmarkRenderConcurrency voices a 40-turn episode with a provider that
// takes 1 s a call, one call at a time and 8 at a time. Run it with
// -benchtime 1x: each iteration takes tens of seconds by design.
func BenchmarkRenderConcurrency(b *testing.B) {
	testenv.RequireTool(b, "espeak-ng", "apt-get install espeak-ng")
	sample, err := espeak.New(espeak.Options{}).Synthesize(context.Background(), "", echogen.SpeechRequest{Text: "A line of the episode.", Voice: "en-us"})
	if err != nil {
		b.Fatal(err)
	}
	segs := make([]echogen.Segment, 40)
	for i := range segs {
		segs[i] = echogen.Segment{Speaker: []string{"Alex", "Sam"}[i%2], Content: fmt.Sprintf("Line %d.", i)}
	}
	for _, tc := range []struct {
		name  string
		calls int
	}{{"one-at-a-time", 1}, {"8-at-once", 8}} {
		b.Run(tc.name, func(b *testing.B) {
			e := &renderEnv{scriptEnv: newScriptEnv(b, nil, nil)}
			e.engine = audio.New(audio.Options{TempDir: b.TempDir()})
			calls := echogen.NewProviderCalls(echogen.CallOptions{PerProvider: tc.calls})
			tts := map[echogen.Provider]echogen.TTS{echogen.ProviderLocal: slowTTS{delay: time.Second, audio: sample}}
			e.audio = echogen.NewAudioHandler(e.library, tts, e.engine, calls, echogen.AudioOptions{TempDir: b.TempDir()})
			for b.Loop() {
				now := time.Now().UTC()
				s := &echogen.Script{ID: echogen.NewID(), UserID: e.user, Title: "Bench", Language: "en", Segments: segs, CreatedAt: now, UpdatedAt: now}
				if err := e.store.CreateScript(context.Background(), s); err != nil {
					b.Fatal(err)
				}
				// A fresh cache each time: the benchmark is about synthesis.
				if _, err := e.blobs.DeletePrefix(context.Background(), buckets.Audio, e.user+"/tts-cache/"); err != nil {
					b.Fatal(err)
				}
				if _, err := e.render(context.Background(), echogen.NewID(), map[string]any{"script_id": s.ID}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRenderMixedProviders(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	oai := ttstest.New(t, ttstest.OpenAI, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{} })
	eleven := ttstest.New(t, ttstest.ElevenLabs, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{} })
	calls := echogen.NewProviderCalls(echogen.CallOptions{})
	e.audio = echogen.NewAudioHandler(e.library, map[echogen.Provider]echogen.TTS{
		echogen.ProviderLocal:      e.speech,
		echogen.ProviderOpenAI:     openai.New("OpenAI", oai.URL, openai.Options{}),
		echogen.ProviderElevenLabs: elevenlabs.New(elevenlabs.Options{BaseURL: eleven.URL}),
	}, e.engine, calls, echogen.AudioOptions{TempDir: t.TempDir()})
	e.addKey(t, echogen.ProviderOpenAI, userKey)
	e.addKey(t, echogen.ProviderElevenLabs, "xi-eleven-key-0123456789")
	script := e.newScript(t, lines)
	res, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID, "voices": map[string]any{
		"Alex": map[string]any{"provider": "openai", "voice": "coral"},
		"Sam":  map[string]any{"provider": "elevenlabs", "settings": map[string]any{"stability": 0.3, "speed": 1.1}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e.speech.calls() != 0 {
		t.Errorf("espeak-ng was called %d times; no speaker uses it", e.speech.calls())
	}
	oreqs, ereqs := oai.Requests(), eleven.Requests()
	if len(oreqs) != 2 || len(ereqs) != 2 {
		t.Fatalf("%d OpenAI and %d ElevenLabs calls; want 2 each", len(oreqs), len(ereqs))
	}
	for _, r := range oreqs {
		if r.Voice != "coral" || r.Model != "gpt-4o-mini-tts" || r.APIKey != userKey {
			t.Errorf("OpenAI request %+v", r)
		}
		if strings.Contains(r.Text, "whale oil") && !strings.Contains(r.Tone, "thoughtful") {
			t.Errorf("the tone did not reach gpt-4o-mini-tts: %q", r.Tone)
		}
	}
	for _, r := range ereqs {
		if r.Settings["stability"] != 0.3 || r.Settings["speed"] != 1.1 || r.Voice != "pNInz6obpgDQGcFmaJgB" { // the second default voice: Sam speaks second
			t.Errorf("ElevenLabs request %+v", r)
		}
	}
	pod, _ := e.store.Podcast(t.Context(), e.user, res["podcast_id"].(string))
	if fmt.Sprint(pod.Metadata["providers"]) != "[elevenlabs openai]" || pod.Metadata["cost_usd"].(float64) <= 0 {
		t.Errorf("metadata %v", pod.Metadata)
	}
	totals, err := e.store.UsageTotals(t.Context(), e.user, time.Time{}, time.Now().Add(time.Hour), echogen.UsageByProvider)
	if err != nil || len(totals) != 2 || totals[0].Events != 2 || totals[0].Characters == 0 || totals[1].Events != 2 {
		t.Errorf("usage %+v, %v", totals, err)
	}
}

func TestBudgetStopsPaidWork(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	oai := ttstest.New(t, ttstest.OpenAI, func(ttstest.Request) ttstest.Reply { return ttstest.Reply{} })
	e.audio = echogen.NewAudioHandler(e.library, map[echogen.Provider]echogen.TTS{
		echogen.ProviderOpenAI: openai.New("OpenAI", oai.URL, openai.Options{}), echogen.ProviderLocal: e.speech,
	}, e.engine, echogen.NewProviderCalls(echogen.CallOptions{}), echogen.AudioOptions{TempDir: t.TempDir()})
	e.addKey(t, echogen.ProviderOpenAI, userKey)
	now := time.Now().UTC()
	if err := e.store.CreateProfile(t.Context(), &echogen.Profile{UserID: e.user, Preferences: map[string]any{"monthly_budget_usd": 0.0001}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	script := e.newScript(t, lines)
	voices := map[string]any{"Alex": map[string]any{"provider": "openai", "model": "tts-1-hd"}}
	_, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID, "voices": voices})
	var ee *echogen.Error
	if !errors.As(err, &ee) || ee.Code != "budget_exceeded" || !echogen.Permanent(err) {
		t.Fatalf("err = %v; want budget_exceeded", err)
	}
	if oai.Calls() != 0 {
		t.Errorf("%d paid calls were made over budget", oai.Calls())
	}
	// Offline voices cost nothing and are never refused.
	if _, err := e.render(t.Context(), echogen.NewID(), map[string]any{"script_id": script.ID}); err != nil {
		t.Fatal(err)
	}
	est, err := e.library.EstimatePodcast(t.Context(), echogen.Principal{UserID: e.user},
		map[string]any{"text": sourceText, "provider": "openai", "model": "gpt-4o-mini", "target_minutes": 10.0, "voices": voices, "cover": map[string]any{"provider": "openai"}})
	if err != nil {
		t.Fatal(err)
	}
	if est.WithinBudget || est.TotalUSD <= 0 || len(est.Items) != 4 || est.Words != 1500 || *est.Budget.MonthlyUSD != 0.0001 {
		t.Errorf("estimate %+v", est)
	}
}

// failingImages fails its first calls, then paints.
type failingImages struct {
	mu    sync.Mutex
	fails int
	next  echogen.ImageGen
}

func (f *failingImages) Generate(ctx context.Context, key string, req echogen.ImageRequest) (*echogen.Image, error) {
	f.mu.Lock()
	f.fails--
	fail := f.fails >= 0
	f.mu.Unlock()
	if fail {
		return nil, echogen.Errorf(echogen.KindUnavailable, "llm_unavailable", "the image service is overloaded")
	}
	return f.next.Generate(ctx, key, req)
}

func TestPodcastGenerationResumesFromTheLastStage(t *testing.T) {
	e := newRenderEnv(t, storetest.NewSQLite, audio.Options{})
	// Three failures in a row: the call's retries inside the attempt are
	// used up, so the attempt fails in the cover stage.
	images := &failingImages{fails: 3, next: local.NewCoverPainter()}
	calls := echogen.NewProviderCalls(echogen.CallOptions{Wait: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	cover := echogen.NewCoverHandler(e.library, map[echogen.Provider]echogen.ImageGen{echogen.ProviderLocal: images}, e.engine, calls, 0, t.TempDir())
	ingester := echogen.NewIngestHandler(e.library, ingest.New(ingest.Options{}), nil, 0)
	h := echogen.NewPodcastHandler(e.library, ingester, e.handler, e.audio, cover)
	payload := map[string]any{"text": sourceText, "title": "Quillon", "target_minutes": 1.0}
	if err := h.Validate(payload); err != nil {
		t.Fatal(err)
	}
	job := &echogen.Job{ID: echogen.NewID(), UserID: e.user, Type: echogen.PodcastGenerationType, Payload: payload}
	var mu sync.Mutex
	var stages []string
	run := echogen.JobRun{Job: job, Progress: func(_ context.Context, p echogen.Progress) {
		mu.Lock()
		defer mu.Unlock()
		stages = append(stages, fmt.Sprintf("%.0f %s", p.Percent, p.Stage))
	}}
	if _, err := h.Run(t.Context(), run); echogen.ErrorKind(err) != echogen.KindUnavailable {
		t.Fatalf("first attempt: %v; want the image service's failure", err)
	}
	voiced := e.speech.calls()
	if voiced == 0 {
		t.Fatal("the first attempt voiced nothing")
	}
	result, err := h.Run(t.Context(), run)
	if err != nil {
		t.Fatal(err)
	}
	if e.speech.calls() != voiced {
		t.Errorf("the retry voiced %d turns again; only the cover was left", e.speech.calls()-voiced)
	}
	for _, k := range []string{"content_id", "script_id", "podcast_id", "cover_art_storage_path"} {
		if s, _ := result[k].(string); s == "" {
			t.Errorf("result lacks %s: %v", k, result)
		}
	}
	pod, err := e.store.Podcast(t.Context(), e.user, result["podcast_id"].(string))
	if err != nil || pod.CoverArtPath == nil {
		t.Fatalf("podcast %+v, %v", pod, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(stages, ","); !strings.Contains(got, "voicing") || !strings.Contains(got, "painting") || !strings.Contains(got, "97 embedding") {
		t.Errorf("progress %s", got)
	}
}

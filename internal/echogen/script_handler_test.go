package echogen_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/blob"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/echogen/server/internal/pipeline"
	"github.com/echogen/server/internal/provider/llmtest"
	"github.com/echogen/server/internal/provider/local"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/vault"
)

var buckets = echogen.Buckets{Audio: "podcast-audio", Art: "cover-art", Transcripts: "transcripts", Documents: "documents"}

const (
	userKey   = "sk-user-key-0123456789"
	serverKey = "sk-server-key-9876543210"
	// sourceText is distinctive, so a test can tell whether it reached a log.
	sourceText = "The zebra-striped lighthouse of Quillon was built in 1847 by a cooperative of fishermen. " +
		"Its lamp burned whale oil until 1902, when an electric arc replaced it. " +
		"Storms in 1953 cracked the tower, and the village raised the money to repair it within a year. " +
		"Today the lighthouse is a museum, and its keeper's logbooks are read aloud every summer. " +
		"Visitors climb 212 steps to reach the gallery, where the view stretches to three islands."
)

// scriptEnv is a script_generation handler on a real store, real local
// storage and a stand-in OpenAI server answered by a Brain.
type scriptEnv struct {
	store   echogen.Store
	blobs   *blob.Local
	library *echogen.LibraryService
	handler *echogen.ScriptHandler
	brain   *llmtest.Brain
	srv     *llmtest.Server
	user    string
	logs    *bytes.Buffer
	waits   []time.Duration
	mu      sync.Mutex
}

func newScriptEnv(t testing.TB, newStore func(*testing.T) echogen.Store, serverKeys map[echogen.Provider]string) *scriptEnv {
	t.Helper()
	var store echogen.Store
	if tt, ok := t.(*testing.T); ok {
		store = newStore(tt)
	} else {
		store = benchStore(t)
	}
	clock := echogentest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	e := &scriptEnv{store: store, brain: &llmtest.Brain{}, logs: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	signer, err := blob.NewSigner("m1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", clock)
	if err != nil {
		t.Fatal(err)
	}
	media, err := blob.NewLocal(t.TempDir(), signer, buckets.All()...)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := vault.FormatKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	e.blobs = media
	e.library = echogen.NewLibraryService(e.store, media, keys, nil, clock, log, echogen.LibraryOptions{Buckets: buckets, ServerKeys: serverKeys})
	e.srv = llmtest.New(t, llmtest.OpenAI, e.brain.Answer)
	llms := map[echogen.Provider]echogen.LLM{echogen.ProviderOpenAI: openai.New("OpenAI", e.srv.URL, openai.Options{})}
	e.handler = echogen.NewScriptHandler(e.library, llms, pipeline.NewScriptWriter(pipeline.Options{}), local.NewWriter(), echogen.NewProviderCalls(echogen.CallOptions{
		Wait: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.waits = append(e.waits, d)
			return ctx.Err()
		}}), echogen.ScriptOptions{})
	e.user = echogen.NewID()
	now := clock.Now()
	if err := e.store.CreateUser(t.Context(), &echogen.User{ID: e.user, Email: "u@example.com", PasswordHash: "x", Role: "authenticated", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *scriptEnv) addKey(t testing.TB, provider echogen.Provider, secret string) {
	t.Helper()
	if _, err := e.library.CreateAPIKey(context.Background(), echogen.Principal{UserID: e.user}, echogen.APIKeyInput{Provider: string(provider), Secret: secret}); err != nil {
		t.Fatal(err)
	}
}

// run runs a script_generation job with payload as its worker would.
func (e *scriptEnv) run(t testing.TB, jobID string, payload map[string]any) (map[string]any, error) {
	t.Helper()
	if err := e.handler.Validate(payload); err != nil {
		return nil, err
	}
	job := &echogen.Job{ID: jobID, UserID: e.user, Type: echogen.ScriptGenerationType, Payload: payload}
	return e.handler.Run(t.Context(), echogen.JobRun{Job: job, Progress: func(context.Context, echogen.Progress) {}})
}

func (e *scriptEnv) script(t *testing.T, result map[string]any) *echogen.Script {
	t.Helper()
	id, _ := result["script_id"].(string)
	s, err := e.store.Script(t.Context(), e.user, id)
	if err != nil {
		t.Fatalf("script %q: %v", id, err)
	}
	return s
}

func TestScriptPayloads(t *testing.T) {
	e := newScriptEnv(t, storetest.NewSQLite, nil)
	tests := []struct {
		name    string
		payload map[string]any
		wantLoc string // "" when valid
		kind    echogen.Kind
	}{
		{"text with defaults", map[string]any{"text": sourceText}, "", 0},
		{"every field", map[string]any{"content_id": echogen.NewID(), "provider": "openai", "model": "gpt-4o-mini", "style": "tech_talk",
			"speakers": []any{map[string]any{"name": "Ada", "persona": "an engineer"}, "Grace"}, "target_minutes": 30.0, "language": "pt-BR",
			"custom_prompt": "Keep it light.", "tone": false}, "", 0},
		{"no source", map[string]any{"provider": "local"}, "body.payload", echogen.KindInvalid},
		{"two sources", map[string]any{"text": "a", "topic": "b", "provider": "openai"}, "body.payload", echogen.KindInvalid},
		{"a topic offline", map[string]any{"topic": "tea"}, "body.payload.topic", echogen.KindInvalid},
		{"bad content id", map[string]any{"content_id": "nope"}, "body.payload.content_id", echogen.KindInvalid},
		{"unknown style", map[string]any{"text": "a", "style": "shouty"}, "body.payload.style", echogen.KindInvalid},
		{"five speakers", map[string]any{"text": "a", "speakers": []any{"A", "B", "C", "D", "E"}}, "body.payload.speakers", echogen.KindInvalid},
		{"no speakers", map[string]any{"text": "a", "speakers": []any{}}, "body.payload.speakers", echogen.KindInvalid},
		{"same speaker twice", map[string]any{"text": "a", "speakers": []any{"Ann", "ann"}}, "body.payload.speakers.1.name", echogen.KindInvalid},
		{"a colon in a name", map[string]any{"text": "a", "speakers": []any{"A: B"}}, "body.payload.speakers.0.name", echogen.KindInvalid},
		{"a speaker with extra keys", map[string]any{"text": "a", "speakers": []any{map[string]any{"name": "A", "voice": "x"}}}, "body.payload.speakers.0.voice", echogen.KindInvalid},
		{"zero minutes", map[string]any{"text": "a", "target_minutes": 0.0}, "body.payload.target_minutes", echogen.KindInvalid},
		{"61 minutes", map[string]any{"text": "a", "target_minutes": 61.0}, "body.payload.target_minutes", echogen.KindInvalid},
		{"fractional minutes", map[string]any{"text": "a", "target_minutes": 2.5}, "body.payload.target_minutes", echogen.KindInvalid},
		{"minutes as a string", map[string]any{"text": "a", "target_minutes": "10"}, "body.payload.target_minutes", echogen.KindInvalid},
		{"a bad language", map[string]any{"text": "a", "language": "English please"}, "body.payload.language", echogen.KindInvalid},
		{"tone as a string", map[string]any{"text": "a", "tone": "yes"}, "body.payload.tone", echogen.KindInvalid},
		{"an unknown field", map[string]any{"text": "a", "length": 3.0}, "body.payload.length", echogen.KindInvalid},
		{"an unknown provider", map[string]any{"text": "a", "provider": "skynet"}, "body.payload.provider", echogen.KindInvalid},
		{"a self-hosted provider needs a model", map[string]any{"text": "a", "provider": "ollama"}, "body.payload.model", echogen.KindInvalid},
		{"a provider this server lacks", map[string]any{"text": "a", "provider": "gemini"}, "", echogen.KindNotImplemented},
		{"a long custom prompt", map[string]any{"text": "a", "custom_prompt": strings.Repeat("x", 4001)}, "body.payload.custom_prompt", echogen.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.handler.Validate(tc.payload)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ee *echogen.Error
			if !errors.As(err, &ee) || ee.Kind != tc.kind {
				t.Fatalf("Validate = %v; want kind %v", err, tc.kind)
			}
			if tc.wantLoc != "" && (len(ee.Fields) == 0 || strings.Join(ee.Fields[0].Loc, ".") != tc.wantLoc) {
				t.Errorf("fields %+v; want loc %s", ee.Fields, tc.wantLoc)
			}
		})
	}
}

func TestScriptJobOffline(t *testing.T) {
	for name, newStore := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newScriptEnv(t, newStore, nil)
			c, err := e.library.CreateContent(t.Context(), echogen.Principal{UserID: e.user}, echogen.ContentInput{Title: "The Quillon lighthouse", Markdown: sourceText})
			if err != nil {
				t.Fatal(err)
			}
			jobID := echogen.NewID()
			payload := map[string]any{"content_id": c.ID, "target_minutes": 1.0, "speakers": []any{"Ada", "Grace", "Linus"}}
			result, err := e.run(t, jobID, payload)
			if err != nil {
				t.Fatal(err)
			}
			s := e.script(t, result)
			if s.SourceContentID == nil || *s.SourceContentID != c.ID || s.Model != "extractive" || s.Language != "en" {
				t.Errorf("script source %v, model %q, language %q", s.SourceContentID, s.Model, s.Language)
			}
			for _, seg := range s.Segments {
				if seg.Speaker != "Ada" && seg.Speaker != "Grace" && seg.Speaker != "Linus" {
					t.Errorf("undeclared speaker %q", seg.Speaker)
				}
			}
			md := s.Metadata
			if md["provider"] != "local" || md["style"] != "playful" || md["source"] != "content" || md["target_minutes"] != float64(1) ||
				!strings.HasPrefix(md["script"].(string), "Title: "+s.Title+"\n\n") || md["word_count"].(float64) < 50 {
				t.Errorf("metadata %v", md)
			}
			if e.brain.Calls() != 0 {
				t.Error("the offline writer called a model")
			}
			// The same job again finds its script instead of writing another.
			again, err := e.run(t, jobID, payload)
			if err != nil || again["script_id"] != result["script_id"] {
				t.Errorf("second run: %v, %v; want %v", again, err, result)
			}
			list, err := e.store.ListScripts(t.Context(), e.user, echogen.Page{Limit: 10})
			if err != nil || len(list) != 1 {
				t.Errorf("%d scripts, %v; want one", len(list), err)
			}
		})
	}
}

func TestScriptJobWithModel(t *testing.T) {
	for name, newStore := range storetest.Stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newScriptEnv(t, newStore, nil)
			e.addKey(t, echogen.ProviderOpenAI, userKey)
			jobID := echogen.NewID()
			result, err := e.run(t, jobID, map[string]any{"text": sourceText, "title": "Quillon", "provider": "openai", "model": "gpt-4o-mini",
				"target_minutes": 3.0, "language": "de", "style": "storytelling"})
			if err != nil {
				t.Fatal(err)
			}
			s := e.script(t, result)
			if words := echogen.SpokenWords(s.Segments); words < 360 || words > 540 {
				t.Errorf("%d words; want 450 ± 20%%", words)
			}
			reqs := e.srv.Requests()
			for _, r := range reqs {
				if r.APIKey != userKey || !strings.Contains(r.System, "German") || !strings.Contains(r.System, "Storytelling") {
					t.Errorf("request key %q, system %q", r.APIKey, r.System)
				}
			}
			// One usage event per call, tied to the job, priced.
			totals, err := e.store.UsageTotals(t.Context(), e.user, time.Time{}, time.Now().Add(24*time.Hour*365), echogen.UsageByProvider)
			if err != nil {
				t.Fatal(err)
			}
			if len(totals) != 1 || totals[0].Key != "openai" || totals[0].Events != len(reqs) || totals[0].CostUSD <= 0 || totals[0].InputTokens == 0 {
				t.Errorf("usage totals %+v after %d calls", totals, len(reqs))
			}
			usage := s.Metadata["usage"].(map[string]any)
			if usage["calls"] != float64(len(reqs)) || usage["prices_as_of"] != echogen.PricesAsOf {
				t.Errorf("metadata usage %v", usage)
			}
			if logs := e.logs.String(); strings.Contains(logs, userKey) || strings.Contains(logs, "zebra-striped") {
				t.Errorf("a key or the source text reached the logs:\n%s", logs)
			}
		})
	}
}

func TestScriptKeyResolution(t *testing.T) {
	payload := map[string]any{"text": sourceText, "provider": "openai", "target_minutes": 1.0}
	tests := []struct {
		name       string
		userKeys   []string
		serverKeys map[echogen.Provider]string
		wantKey    string
	}{
		{"the user's key first", []string{userKey}, map[echogen.Provider]string{echogen.ProviderOpenAI: serverKey}, userKey},
		{"the server's key when allowed", nil, map[echogen.Provider]string{echogen.ProviderOpenAI: serverKey}, serverKey},
		{"no key at all", nil, nil, ""},
		{"another provider's key does not count", nil, map[echogen.Provider]string{echogen.ProviderGemini: serverKey}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newScriptEnv(t, storetest.NewSQLite, tc.serverKeys)
			for _, k := range tc.userKeys {
				e.addKey(t, echogen.ProviderOpenAI, k)
			}
			_, err := e.run(t, echogen.NewID(), payload)
			if tc.wantKey == "" {
				var ee *echogen.Error
				if !errors.As(err, &ee) || ee.Code != "missing_api_key" || !echogen.Permanent(err) || !strings.Contains(ee.Message, "openai") {
					t.Fatalf("err = %v; want a permanent missing_api_key error naming openai", err)
				}
				if e.brain.Calls() != 0 {
					t.Error("a model was called without a key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range e.srv.Requests() {
				if r.APIKey != tc.wantKey {
					t.Fatalf("called with %q; want %q", r.APIKey, tc.wantKey)
				}
			}
		})
	}
}

func TestScriptProviderFailures(t *testing.T) {
	payload := map[string]any{"text": sourceText, "provider": "openai", "target_minutes": 1.0}
	t.Run("a short Retry-After is waited out in the job", func(t *testing.T) {
		e := newScriptEnv(t, storetest.NewSQLite, nil)
		e.addKey(t, echogen.ProviderOpenAI, userKey)
		e.brain.Fault = func(r llmtest.Request, n int) *llmtest.Reply {
			if n == 1 {
				return &llmtest.Reply{Status: 429, Message: "Rate limit reached", RetryAfter: "7"}
			}
			return nil
		}
		if _, err := e.run(t, echogen.NewID(), payload); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{7 * time.Second}, e.waits); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("a long Retry-After goes back to the queue, and the retry pays only for what is left", func(t *testing.T) {
		e := newScriptEnv(t, storetest.NewSQLite, nil)
		e.addKey(t, echogen.ProviderOpenAI, userKey)
		e.brain.Fault = func(r llmtest.Request, n int) *llmtest.Reply {
			if n == 1 {
				return &llmtest.Reply{Status: 429, Message: "Rate limit reached for requests", RetryAfter: "120"}
			}
			return nil
		}
		jobID := echogen.NewID()
		_, err := e.run(t, jobID, payload)
		var ee *echogen.Error
		if !errors.As(err, &ee) || ee.Kind != echogen.KindRateLimited || ee.RetryAfter != 120*time.Second || !strings.Contains(ee.Message, "Rate limit reached") {
			t.Fatalf("err = %v; want the provider's 429 with its Retry-After", err)
		}
		if len(e.waits) != 0 {
			t.Errorf("waited %v in the job", e.waits)
		}
		before := len(e.srv.Requests())
		if _, err := e.run(t, jobID, payload); err != nil {
			t.Fatal(err)
		}
		if redo := e.srv.Requests()[before:]; redo[0].SchemaName != "script_segments" {
			t.Errorf("the retry started with %s; the outline was already paid for", redo[0].SchemaName)
		}
	})
	t.Run("a refused key fails at once with the provider's message", func(t *testing.T) {
		e := newScriptEnv(t, storetest.NewSQLite, nil)
		e.addKey(t, echogen.ProviderOpenAI, userKey)
		e.brain.Fault = func(llmtest.Request, int) *llmtest.Reply {
			return &llmtest.Reply{Status: 401, Message: "Incorrect API key provided"}
		}
		_, err := e.run(t, echogen.NewID(), payload)
		if !echogen.Permanent(err) || !strings.Contains(err.Error(), "Incorrect API key provided") || strings.Contains(err.Error(), userKey) {
			t.Fatalf("err = %v; want a permanent error with the provider's words and no key", err)
		}
		if e.brain.Calls() != 1 {
			t.Errorf("%d calls; a refused key is not retried", e.brain.Calls())
		}
	})
	t.Run("server errors are retried with a growing pause", func(t *testing.T) {
		e := newScriptEnv(t, storetest.NewSQLite, nil)
		e.addKey(t, echogen.ProviderOpenAI, userKey)
		e.brain.Fault = func(r llmtest.Request, n int) *llmtest.Reply {
			if n < 2 {
				return &llmtest.Reply{Status: 500, Message: "The server had an error"}
			}
			return nil
		}
		if _, err := e.run(t, echogen.NewID(), payload); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{2 * time.Second, 4 * time.Second}, e.waits); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("output that stays invalid is never stored", func(t *testing.T) {
		e := newScriptEnv(t, storetest.NewSQLite, nil)
		e.addKey(t, echogen.ProviderOpenAI, userKey)
		e.brain.Fault = func(r llmtest.Request, n int) *llmtest.Reply {
			if r.SchemaName == "script_segments" {
				return &llmtest.Reply{Text: `{"segments": [{"speaker": "Narrator", "text": "Meanwhile…", "tone": ""}]}`}
			}
			return nil
		}
		jobID := echogen.NewID()
		_, err := e.run(t, jobID, payload)
		var ee *echogen.Error
		if !errors.As(err, &ee) || ee.Code != echogen.CodeInvalidScript || echogen.Permanent(err) {
			t.Fatalf("err = %v; want a retryable invalid_script error", err)
		}
		if _, err := e.store.Script(t.Context(), e.user, echogen.DerivedID(echogen.ScriptGenerationType, jobID)); echogen.ErrorKind(err) != echogen.KindNotFound {
			t.Errorf("a script was stored: %v", err)
		}
	})
}

// benchStore is a migrated SQLite store for benchmarks, which storetest's
// *testing.T constructors cannot serve.
func benchStore(tb testing.TB) echogen.Store {
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "echogen.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db.Store()
}

// BenchmarkScriptJob is a script_generation job's own cost: with the
// offline writer, and with a stand-in OpenAI server on loopback that
// answers at once, so what is measured is everything but the model.
func BenchmarkScriptJob(b *testing.B) {
	for _, provider := range []string{"local", "openai"} {
		b.Run(provider, func(b *testing.B) {
			e := newScriptEnv(b, nil, nil)
			e.addKey(b, echogen.ProviderOpenAI, userKey)
			c, err := e.library.CreateContent(context.Background(), echogen.Principal{UserID: e.user}, echogen.ContentInput{Title: "Quillon", Markdown: strings.Repeat(sourceText+"\n\n", 20)})
			if err != nil {
				b.Fatal(err)
			}
			payload := map[string]any{"content_id": c.ID, "provider": provider, "model": "gpt-4o-mini", "target_minutes": 3.0}
			if provider == "local" {
				delete(payload, "model")
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.run(b, echogen.NewID(), payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(e.brain.Calls())/float64(b.N), "calls/op")
		})
	}
}

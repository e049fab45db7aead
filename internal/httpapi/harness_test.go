package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echogen/server/internal/audio"
	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/auth/gotruetest"
	"github.com/echogen/server/internal/blob"
	"github.com/echogen/server/internal/blob/supabasetest"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/echogen/echogentest"
	"github.com/echogen/server/internal/httpapi"
	"github.com/echogen/server/internal/ingest"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/metrics"
	"github.com/echogen/server/internal/pipeline"
	"github.com/echogen/server/internal/provider/espeak"
	"github.com/echogen/server/internal/provider/keycheck"
	"github.com/echogen/server/internal/provider/llmtest"
	"github.com/echogen/server/internal/provider/local"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/vault"
)

const testJWTSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// testEnv is the whole API on a real store and a real HTTP server on
// loopback, with a clock the test moves.
type testEnv struct {
	t         *testing.T
	srv       *httptest.Server
	api       *httpapi.Server
	clock     *echogentest.Clock
	store     echogen.Store
	accounts  *echogen.AccountService
	library   *echogen.LibraryService
	blobs     echogen.BlobStore
	mediaRoot string
	buckets   echogen.Buckets
	provider  *fakeProvider
	model     *llmtest.Server // a stand-in OpenAI chat API that writes scripts
	mail      *echogentest.Mailbox
	gotrue    *gotruetest.Server   // Supabase mode only
	storage   *supabasetest.Server // Supabase mode only
	logs      *lockedWriter
	queue     *jobs.Queue // nil for stores the test wrapped
	// secrets must never appear in a response or a log line.
	secrets []string
}

type envOptions struct {
	opts                      httpapi.Options
	emailConfirmationRequired bool
	// supabase runs accounts on Supabase Auth (a GoTrue stand-in) instead
	// of the built-in auth; tokenAlg is the stand-in's signing algorithm.
	supabase bool
	tokenAlg string
	// wrapObjects, when set, wraps the account purge's object deleter.
	wrapObjects func(echogen.UserObjects) echogen.UserObjects
	uploads     echogen.UploadLimits
	vault       *vault.Keyring
	// adminEmails, when not nil, serves the job dashboard to them.
	adminEmails []string
}

var testBuckets = echogen.Buckets{Audio: "podcast-audio", Art: "cover-art", Transcripts: "transcripts", Documents: "documents"}

// forEachStore runs fn as a subtest on SQLite and, when TEST_DATABASE_URL is
// set, PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, newStore func(*testing.T) echogen.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.NewSQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.NewPostgres) })
}

func newTestEnv(t *testing.T, newStore func(*testing.T) echogen.Store, configure ...func(*envOptions)) *testEnv {
	t.Helper()
	o := envOptions{opts: httpapi.Options{
		ProjectName:                   "EchoGen.ai API",
		Environment:                   "test",
		APIPrefix:                     "/api/v1",
		CORSOrigins:                   []string{"*"},
		APIRateLimitPerMinute:         10_000,
		AuthRateLimitPerMinute:        10_000,
		AuthAccountRateLimitPerMinute: 10_000,
	}}
	for _, c := range configure {
		c(&o)
	}
	clock := echogentest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC))
	store := newStore(t)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mail := &echogentest.Mailbox{}
	var authn echogen.Authenticator
	var gotrue *gotruetest.Server
	var err error
	if !o.supabase {
		authn = newBuiltinAuth(t, o, store, mail, clock, log)
	} else {
		gotrue = gotruetest.New(t, gotruetest.Options{Algorithm: o.tokenAlg, JWTSecret: supabaseJWTSecret(o.tokenAlg), ConfirmEmail: o.emailConfirmationRequired, Now: clock.Now})
		authn, err = auth.NewSupabase(auth.SupabaseConfig{URL: gotrue.URL, AnonKey: gotruetest.DefaultAnonKey, ServiceRoleKey: gotruetest.DefaultServiceRoleKey,
			JWTSecret: supabaseJWTSecret(o.tokenAlg), Logger: log}, clock)
		if err != nil {
			t.Fatal(err)
		}
	}
	var media echogen.BlobStore
	var mediaHandler http.Handler
	var storage *supabasetest.Server
	mediaRoot := t.TempDir()
	if o.supabase { // Supabase Storage too, through its REST API
		storage = supabasetest.New(t, supabasetest.Options{Clock: clock})
		media, err = blob.NewSupabase(t.Context(), blob.SupabaseOptions{URL: storage.URL, ServiceRoleKey: storage.Key}, testBuckets.All()...)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		mediaSigner, err := blob.NewSigner(testMediaKeys, clock)
		if err != nil {
			t.Fatal(err)
		}
		local, err := blob.NewLocal(mediaRoot, mediaSigner, testBuckets.All()...)
		if err != nil {
			t.Fatal(err)
		}
		media, mediaHandler = local, local.Handler()
	}
	var objects echogen.UserObjects = echogen.BucketObjects{Blobs: media, Buckets: testBuckets}
	if o.wrapObjects != nil {
		objects = o.wrapObjects(objects)
	}
	if o.vault == nil {
		o.vault = newKeyring(t)
	}
	provider := newFakeProvider(t)
	verifier := keycheck.New(provider.srv.Client(), keycheck.Options{BaseURLs: map[echogen.Provider]string{echogen.ProviderOpenAI: provider.srv.URL + "/v1"}})
	library := echogen.NewLibraryService(store, media, o.vault, verifier, clock, log, echogen.LibraryOptions{Buckets: testBuckets, Uploads: o.uploads})
	accounts := echogen.NewAccountService(authn, store, objects, clock, 0, log)
	model := llmtest.New(t, llmtest.OpenAI, (&llmtest.Brain{}).Answer)
	llms := map[echogen.Provider]echogen.LLM{echogen.ProviderOpenAI: openai.New("OpenAI", model.URL, openai.Options{})}
	observer := metrics.New()
	jobService, queue := startJobs(t, store, library, llms, o.vault, clock, log, observer)
	var dashboard http.Handler
	if o.adminEmails != nil {
		if dashboard, err = queue.AdminHandler(httpapi.AdminJobsPath); err != nil {
			t.Fatal(err)
		}
	}
	api := httpapi.NewServer(httpapi.Deps{
		Accounts: accounts, Library: library, Jobs: jobService, Media: mediaHandler, Observer: observer, Metrics: observer.Handler(),
		Catalogue: echogen.NewCatalogue(library, map[echogen.Provider]echogen.ModelLister{
			echogen.ProviderOpenAI: openaiLister(provider.srv.URL + "/v1"),
		}, map[echogen.Provider]echogen.VoiceLister{echogen.ProviderLocal: espeak.New(espeak.Options{})}, clock),
		Ready: []httpapi.ReadinessCheck{{Name: "database", Check: store.Ping}}, Clock: clock, Log: log,
		Admin: dashboard, AdminEmails: o.adminEmails,
	}, o.opts)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, api: api, clock: clock, store: store, accounts: accounts, library: library, blobs: media, mediaRoot: mediaRoot, buckets: testBuckets,
		provider: provider, model: model, mail: mail, gotrue: gotrue, storage: storage, logs: logs, queue: queue, secrets: []string{testJWTSecret}}
}

// newBuiltinAuth is the built-in account backend with test-sized argon2.
func newBuiltinAuth(t *testing.T, o envOptions, store echogen.Store, mail echogen.MailQueue, clock echogen.Clock, log *slog.Logger) echogen.Authenticator {
	t.Helper()
	hasher, err := auth.NewPasswordHasher(auth.Params{Memory: 8192, Time: 1, Threads: 1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Algorithm: "HS256", Secret: []byte(testJWTSecret), TTL: 15 * time.Minute}, clock)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewService(auth.Config{
		SessionTTL:                30 * 24 * time.Hour,
		RefreshReuseGrace:         10 * time.Second,
		EmailConfirmationRequired: o.emailConfirmationRequired,
		AppName:                   "EchoGen",
		Logger:                    log,
	}, store, store, store, mail, hasher, signer, clock)
	if err != nil {
		t.Fatal(err)
	}
	return authn
}

// supabaseJWTSecret is the project's legacy JWT secret when its tokens
// are HS256, else none: they verify with its published keys.
func supabaseJWTSecret(alg string) string {
	if alg == "HS256" {
		return testJWTSecret
	}
	return ""
}

// forEachAuth runs fn as a subtest with the built-in accounts and with
// Supabase Auth, whose tokens are ES256 (published keys) or HS256 (the
// legacy secret).
func forEachAuth(t *testing.T, fn func(t *testing.T, configure func(*envOptions))) {
	t.Run("builtin", func(t *testing.T) { fn(t, func(*envOptions) {}) })
	for _, alg := range []string{"ES256", "HS256"} {
		t.Run("supabase-"+alg, func(t *testing.T) {
			fn(t, func(o *envOptions) { o.supabase, o.tokenAlg = true, alg })
		})
	}
}

// forEachStoreAndAuth runs fn on every store with every account backend;
// newEnv makes the test's environment.
func forEachStoreAndAuth(t *testing.T, fn func(t *testing.T, newEnv func(configure ...func(*envOptions)) *testEnv)) {
	forEachStore(t, func(t *testing.T, newStore func(*testing.T) echogen.Store) {
		forEachAuth(t, func(t *testing.T, mode func(*envOptions)) {
			fn(t, func(configure ...func(*envOptions)) *testEnv {
				return newTestEnv(t, newStore, append(configure, mode)...)
			})
		})
	})
}

// startJobs runs a real job queue on the store's database, with the
// content_ingest handler allowed to reach this test's loopback servers and
// the script_generation handler calling llms. Stores the test wrapped (no
// handles) get no queue.
func startJobs(t *testing.T, store echogen.Store, library *echogen.LibraryService, llms map[echogen.Provider]echogen.LLM, keys *vault.Keyring, clock echogen.Clock, log *slog.Logger, observer *metrics.Metrics) (*echogen.JobService, *jobs.Queue) {
	t.Helper()
	lite, pg := storetest.Handles(store)
	if lite == nil && pg == nil {
		return nil, nil
	}
	noMail := mailFunc(func(context.Context, echogen.Mail) error { return nil })
	opts := jobs.Options{PollInterval: 100 * time.Millisecond, RetryDelay: func(int) time.Duration { return 50 * time.Millisecond }}
	var q *jobs.Queue
	var err error
	if lite != nil {
		q, err = jobs.NewSQLite(lite.Write, lite.Store(), noMail, keys, log, opts)
	} else {
		q, err = jobs.NewPostgres(pg.Pool, pg.SQL, pg.Store(), noMail, keys, log, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	svc := echogen.NewJobService(store, q, q.Events(), clock, log, 2, observer)
	calls := echogen.NewProviderCalls(echogen.CallOptions{Observer: observer})
	engine := audio.New(audio.Options{TempDir: t.TempDir()})
	ingester := echogen.NewIngestHandler(library, ingest.New(ingest.Options{AllowPrivate: true}), nil, 0)
	scripts := echogen.NewScriptHandler(library, llms, pipeline.NewScriptWriter(pipeline.Options{}), local.NewWriter(), calls, echogen.ScriptOptions{})
	voices := echogen.NewAudioHandler(library, map[echogen.Provider]echogen.TTS{echogen.ProviderLocal: espeak.New(espeak.Options{})}, engine, calls, echogen.AudioOptions{TempDir: t.TempDir()})
	covers := echogen.NewCoverHandler(library, map[echogen.Provider]echogen.ImageGen{echogen.ProviderLocal: local.NewCoverPainter()}, engine, calls, 0, t.TempDir())
	for _, h := range []echogen.JobHandler{ingester, scripts, voices, covers, echogen.NewPodcastHandler(library, ingester, scripts, voices, covers)} {
		svc.Register(h)
	}
	q.RegisterJobs(svc)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return svc, q
}

type mailFunc func(context.Context, echogen.Mail) error

func (f mailFunc) Send(ctx context.Context, m echogen.Mail) error { return f(ctx, m) }

// openaiLister lists models with the real OpenAI adapter against the
// stand-in provider at base.
func openaiLister(base string) echogen.ModelLister {
	client := openai.NewOpenAI(openai.Options{})
	return echogen.ModelListerFunc(func(ctx context.Context, key, _ string) ([]string, error) {
		return client.ListModels(ctx, key, base)
	})
}

const testMediaKeys = "m1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func newKeyring(t *testing.T) *vault.Keyring {
	_, k := vaultSpec(t)
	return k
}

// fakeProvider stands in for OpenAI's model list, the endpoint key
// verification calls: it knows one good key.
type fakeProvider struct {
	srv     *httptest.Server
	mu      sync.Mutex
	goodKey string
	seen    []string // the keys it was asked about
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{goodKey: "sk-good-0123456789abcdefghij"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		f.seen = append(f.seen, key)
		good := key == f.goodKey
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/models" || !good {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}`))
			return
		}
		w.Write([]byte(`{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1,"owned_by":"openai"}]}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// response is one answer of the API.
type response struct {
	status int
	header http.Header
	raw    []byte
}

// json decodes the body keeping numbers as json.Number, so a test can tell
// 900 from 900.0.
func (r response) json(t *testing.T) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.raw)
	}
	return v
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("response is not a JSON object: %s", r.raw)
	}
	return m
}

// do sends a request the way the mobile client does: JSON content type and
// accept headers on every method, a bearer token when given.
func (e *testEnv) do(method, path, token, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Dart/3.5 (dart:io)")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	e.checkNoSecrets(string(raw))
	return r
}

func (e *testEnv) checkNoSecrets(s string) {
	e.t.Helper()
	for _, secret := range e.secrets {
		if secret != "" && strings.Contains(s, secret) {
			e.t.Errorf("a secret leaked: %q found in %s", secret, s)
		}
	}
	if strings.Contains(s, "$argon2id$") {
		e.t.Errorf("a password hash leaked in %s", s)
	}
}

// session is a signed-in test user.
type session struct {
	userID, email, password string
	access, refresh         string
}

// signUp creates a user through the API and returns its session.
func (e *testEnv) signUp(email string) session {
	e.t.Helper()
	password := "pw-" + echogen.NewID()[:12]
	e.secrets = append(e.secrets, password)
	r := e.do("POST", "/api/v1/auth/signup", "", `{"method":"email","email":"`+email+`","password":"`+password+`","fullName":"Test User"}`)
	if r.status != http.StatusCreated {
		e.t.Fatalf("sign-up: %d %s", r.status, r.raw)
	}
	return e.sessionFrom(r, email, password)
}

// confirmEmail marks the user's email address confirmed, as the link in
// the confirmation mail would. Supabase's stand-in confirms at sign-up.
func (e *testEnv) confirmEmail(s session) {
	e.t.Helper()
	if e.gotrue != nil {
		if u, ok := e.gotrue.User(s.userID); !ok || u.EmailConfirmedAt == nil {
			e.t.Fatalf("the GoTrue stand-in did not confirm %s at sign-up", s.email)
		}
		return
	}
	if err := e.store.ConfirmEmail(context.Background(), s.userID, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) signIn(email, password string) session {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/signin", "", `{"method":"email","email":"`+email+`","password":"`+password+`"}`)
	if r.status != http.StatusOK {
		e.t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	return e.sessionFrom(r, email, password)
}

func (e *testEnv) sessionFrom(r response, email, password string) session {
	e.t.Helper()
	var body struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Session struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		} `json:"session"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		e.t.Fatal(err)
	}
	return session{userID: body.User.ID, email: email, password: password, access: body.Session.AccessToken, refresh: body.Session.RefreshToken}
}

// identityExists reports whether the auth backend still has the user.
func (e *testEnv) identityExists(userID string) bool {
	e.t.Helper()
	if e.gotrue != nil {
		_, ok := e.gotrue.User(userID)
		return ok
	}
	_, err := e.store.UserByID(context.Background(), userID)
	if err != nil && echogen.ErrorKind(err) != echogen.KindNotFound {
		e.t.Fatal(err)
	}
	return err == nil
}

// signedURLPrefix starts every signed media URL: our /media/ route, or
// Supabase Storage's sign endpoint.
func (e *testEnv) signedURLPrefix() string {
	if e.storage != nil {
		return e.storage.URL + "/storage/v1/object/sign/"
	}
	return e.srv.URL + "/media/"
}

// tokenTTL is how long access tokens live: ours 15 minutes, Supabase's
// an hour.
func (e *testEnv) tokenTTL() time.Duration {
	if e.gotrue != nil {
		return time.Hour
	}
	return 15 * time.Minute
}

// linkTTL is how long a reset link works: ours 30 minutes, Supabase's a
// day (the stand-in's default).
func (e *testEnv) linkTTL() time.Duration {
	if e.gotrue != nil {
		return 24 * time.Hour
	}
	return 30 * time.Minute
}

// lastToken returns the token of the newest mail of kind ("recovery" or
// "signup") to the address: from our mail queue, or Supabase's mailer.
func (e *testEnv) lastToken(kind, to string) string {
	e.t.Helper()
	if e.gotrue != nil {
		m, ok := e.gotrue.LastMail(kind, to)
		if !ok {
			e.t.Fatalf("no %s mail to %s", kind, to)
		}
		return m.TokenHash
	}
	return mailToken.FindString(e.lastMail(to).Text)
}

// checkLogs fails the test if a secret reached the log.
func (e *testEnv) checkLogs() {
	e.t.Helper()
	e.checkNoSecrets(e.logs.String())
}

// lastMail returns the newest mail queued for the address.
func (e *testEnv) lastMail(to string) echogen.Mail {
	e.t.Helper()
	m, ok := e.mail.Last(to)
	if !ok {
		e.t.Fatalf("no mail to %s", to)
	}
	return m
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}

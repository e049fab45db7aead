// Package app wires the server together from its configuration: database,
// job queue, auth, object storage and the HTTP API. cmd/echogen runs it;
// the benchmark tool builds the same thing in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/echogen/server/internal/audio"
	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/blob"
	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/httpapi"
	"github.com/echogen/server/internal/ingest"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/mail"
	"github.com/echogen/server/internal/metrics"
	"github.com/echogen/server/internal/pipeline"
	"github.com/echogen/server/internal/postgres"
	"github.com/echogen/server/internal/provider/anthropic"
	"github.com/echogen/server/internal/provider/elevenlabs"
	"github.com/echogen/server/internal/provider/espeak"
	"github.com/echogen/server/internal/provider/firecrawl"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/hyperbrowser"
	"github.com/echogen/server/internal/provider/imagerouter"
	"github.com/echogen/server/internal/provider/keycheck"
	"github.com/echogen/server/internal/provider/local"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/tracing"
	"github.com/echogen/server/internal/vault"
)

// App is a configured server, ready to serve.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	db       *database
	queue    *jobs.Queue
	handler  http.Handler
	api      *httpapi.Server
	accounts *echogen.AccountService
	library  *echogen.LibraryService
	jobs     *echogen.JobService
	blobs    echogen.BlobStore
	tracing  *tracing.Tracing
}

// database is the opened store with what the rest of the program needs of
// its dialect.
type database struct {
	name     string
	store    echogen.Store
	migrate  func(context.Context) error
	close    func() error
	newQueue func(echogen.Mailer, jobs.Sealer, *slog.Logger, jobs.Options) (*jobs.Queue, error)
}

func openDatabase(ctx context.Context, cfg *config.Config) (*database, error) {
	if cfg.DatabaseURL != "" {
		pg, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL (DATABASE_URL): %w", err)
		}
		return &database{
			name: "postgres", store: pg.Store(), migrate: pg.Migrate, close: pg.Close,
			newQueue: func(m echogen.Mailer, s jobs.Sealer, l *slog.Logger, o jobs.Options) (*jobs.Queue, error) {
				o.PollOnly = pg.SimpleProtocol
				return jobs.NewPostgres(pg.Pool, pg.SQL, pg.Store(), m, s, l, o)
			},
		}, nil
	}
	lite, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", cfg.SQLitePath(), err)
	}
	return &database{
		name: "sqlite", store: lite.Store(), migrate: lite.Migrate, close: lite.Close,
		newQueue: func(m echogen.Mailer, s jobs.Sealer, l *slog.Logger, o jobs.Options) (*jobs.Queue, error) {
			return jobs.NewSQLite(lite.Write, lite.Store(), m, s, l, o)
		},
	}, nil
}

// Migrate brings the database schema up to date.
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.close()
	if err := db.migrate(ctx); err != nil {
		return err
	}
	log.Info("database is up to date", "database", db.name)
	return nil
}

// New opens the database, migrates it and builds the server. Close it when
// done.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	generated, err := config.EnsureSecrets(cfg)
	if err != nil {
		return nil, err
	}
	if len(generated) > 0 {
		log.Warn("generated secrets for this installation; set them explicitly in production",
			"generated", strings.Join(generated, ","), "file", filepath.Join(cfg.DataDir, config.SecretsFile))
	}
	keyring, err := vault.ParseKeyring(cfg.VaultKeys)
	if err != nil {
		return nil, fmt.Errorf("VAULT_KEYS: %w", err)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.close()
		}
	}()
	if err := db.migrate(ctx); err != nil {
		return nil, err
	}
	clock := echogen.SystemClock{}
	var observer echogen.Observer = echogen.NopObserver{}
	var metricsHandler http.Handler
	var prom *metrics.Metrics
	if cfg.MetricsEnabled {
		prom = metrics.New()
		observer, metricsHandler = prom, prom.Handler()
	}
	if err := os.MkdirAll(cfg.TempDir(), 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}

	var mailer echogen.Mailer = &mail.Log{Logger: log, ShowBody: !cfg.Production()}
	if cfg.SMTPHost != "" {
		mailer = &mail.SMTP{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom, Clock: clock}
	} else if cfg.Production() {
		log.Warn("SMTP_HOST is not set: password-reset and confirmation mail cannot be delivered")
	}
	tr, err := tracing.Setup(ctx, tracing.Options{
		Endpoint: cfg.OTelTracesEndpoint, BaseEndpoint: cfg.OTelEndpoint,
		ServiceName: "echogen", ServiceVersion: httpapi.Version, Role: cfg.Role,
		Untraced: []string{"/health", "/ready", "/metrics"},
	})
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry (OTEL_EXPORTER_OTLP_*): %w", err)
	}
	defer func() {
		if err != nil {
			_ = tr.Shutdown(context.Background())
		}
	}()
	queue, err := db.newQueue(mailer, keyring, log, jobs.Options{Workers: cfg.JobWorkers, RescueAfter: rescueAfter(cfg, log), Middleware: tr.RiverMiddleware()})
	if err != nil {
		return nil, err
	}

	media, mediaHandler, err := openBlobs(ctx, cfg, clock)
	if err != nil {
		return nil, err
	}
	buckets := bucketsOf(cfg)
	authn, err := newAuthenticator(cfg, db.store, queue, queue.Revocations(), clock, log)
	if err != nil {
		return nil, err
	}
	accounts := echogen.NewAccountService(authn, db.store, echogen.BucketObjects{Blobs: media, Buckets: buckets}, clock, cfg.AccountDeletionWindow, log)
	queue.SchedulePurge(accounts, cfg.AccountPurgeInterval)
	if prom != nil {
		prom.WatchQueue(queue.Depth)
	}
	library := echogen.NewLibraryService(db.store, media, keyring, keycheck.New(&http.Client{}, keycheck.Options{}), clock, log, echogen.LibraryOptions{
		Buckets:          buckets,
		URLTTL:           cfg.SignedURLTTL,
		Uploads:          echogen.UploadLimits{Audio: int64(cfg.UploadMaxAudioMB) << 20, Image: int64(cfg.UploadMaxImageMB) << 20, Document: int64(cfg.UploadMaxDocMB) << 20},
		ServerKeys:       serverKeys(cfg),
		MonthlyBudgetUSD: cfg.MonthlyBudgetUSD,
	})
	if cfg.IngestAllowPrivate {
		log.Warn("INGEST_ALLOW_PRIVATE_ADDRESSES is on: users can make this server fetch private and loopback addresses; use it only in tests")
	}
	jobService := echogen.NewJobService(db.store, queue, queue.Events(), clock, log, cfg.MaxRunningJobsPerUser, observer)
	httpClient := &http.Client{}
	models := newLanguageModels()
	calls := echogen.NewProviderCalls(echogen.CallOptions{PerProvider: cfg.ProviderCalls, Observer: observer})
	engine := audio.New(audio.Options{TempDir: cfg.TempDir()})
	ingestHandler := echogen.NewIngestHandler(library,
		ingest.New(ingest.Options{MaxBytes: int64(cfg.IngestMaxMB) << 20, Timeout: cfg.IngestTimeout, AllowPrivate: cfg.IngestAllowPrivate}),
		map[string]echogen.Scraper{
			echogen.IngestFirecrawl: firecrawl.New(httpClient, firecrawl.Options{}),
			// Under the job's own time limit, so Hyperbrowser's message wins.
			echogen.IngestHyperbrowser: hyperbrowser.New(httpClient, hyperbrowser.Options{Timeout: cfg.IngestJobTimeout * 5 / 6}),
		}, cfg.IngestJobTimeout)
	scriptHandler := echogen.NewScriptHandler(library, models.llms(), pipeline.NewScriptWriter(pipeline.Options{}), local.NewWriter(),
		calls, echogen.ScriptOptions{Timeout: cfg.ScriptJobTimeout})
	audioHandler := echogen.NewAudioHandler(library, models.speech(), engine, calls, echogen.AudioOptions{Timeout: cfg.AudioJobTimeout, TempDir: cfg.TempDir()})
	coverHandler := echogen.NewCoverHandler(library, models.images(), engine, calls, 0, cfg.TempDir())
	for _, h := range []echogen.JobHandler{ingestHandler, scriptHandler, audioHandler, coverHandler,
		echogen.NewPodcastHandler(library, ingestHandler, scriptHandler, audioHandler, coverHandler)} {
		jobService.Register(h)
	}
	queue.RegisterJobs(jobService)

	catalogue := echogen.NewCatalogue(library, models.listers(), map[echogen.Provider]echogen.VoiceLister{
		echogen.ProviderElevenLabs: models.elevenlabs, echogen.ProviderLocal: models.espeak,
	}, clock)

	var dashboard http.Handler
	if len(cfg.AdminEmails) > 0 {
		if dashboard, err = queue.AdminHandler(httpapi.AdminJobsPath); err != nil {
			return nil, fmt.Errorf("job dashboard: %w", err)
		}
	}
	api := httpapi.NewServer(httpapi.Deps{
		Admin:       dashboard,
		AdminEmails: cfg.AdminEmails,
		Accounts:    accounts,
		Library:     library,
		Jobs:        jobService,
		Catalogue:   catalogue,
		Media:       mediaHandler,
		Observer:    observer,
		Metrics:     metricsHandler,
		Ready: []httpapi.ReadinessCheck{
			{Name: "database", Check: db.store.Ping},
			{Name: "storage", Check: media.Ping},
		},
		Clock: clock,
		Log:   log,
	}, httpapi.Options{
		ProjectName:                   cfg.ProjectName,
		Environment:                   cfg.Environment,
		APIPrefix:                     cfg.APIPrefix,
		CORSOrigins:                   cfg.CORSOrigins,
		TrustProxyHeaders:             cfg.TrustProxyHeaders,
		APIRateLimitPerMinute:         cfg.APIRateLimitPerMinute,
		AuthRateLimitPerMinute:        cfg.AuthRateLimitPerMinute,
		AuthAccountRateLimitPerMinute: cfg.AuthAccountRateLimitPerMinute,
		PublicURL:                     cfg.PublicURL,
	})
	return &App{cfg: cfg, log: log, db: db, queue: queue, handler: tr.Middleware(api), api: api, accounts: accounts, library: library,
		jobs: jobService, blobs: media, tracing: tr}, nil
}

// Handler is the HTTP API.
func (a *App) Handler() http.Handler { return a.handler }

// Close sends the last traces and closes the database.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(a.tracing.Shutdown(ctx), a.db.close())
}

// Serve runs this process's role until ctx ends: the job workers (roles
// all and worker) and HTTP on ln — the API (roles all and api), or only
// /health, /ready and /metrics (role worker). Then it shuts down
// gracefully: stop accepting, finish requests and running jobs within
// SHUTDOWN_TIMEOUT, cancel what is left so it is retried later.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	handler := a.handler
	if a.cfg.Role == config.RoleWorker {
		handler = probesOnly(a.handler)
	}
	working := a.cfg.Role != config.RoleAPI
	if working {
		if err := a.queue.Start(ctx); err != nil {
			return err
		}
	}
	stopQueue := func(ctx context.Context) error {
		if !working {
			return nil
		}
		return a.queue.Stop(ctx)
	}
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		a.queue.Listen(listenCtx)
	}()
	defer func() {
		stopListening()
		<-listening
	}()

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads are large
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.api.Drain) // event streams last as long as their jobs
	attrs := []any{"addr", ln.Addr().String(), "role", a.cfg.Role, "database", a.db.name, "environment", a.cfg.Environment}
	if working {
		attrs = append(attrs, "worker_id", a.queue.WorkerID())
	}
	if a.cfg.Role != config.RoleWorker {
		attrs = append(attrs, "docs", "http://"+ln.Addr().String()+"/docs")
	}
	a.log.Info("listening", attrs...)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		_ = stopQueue(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// Requests and running jobs finish side by side, on one deadline.
	var httpErr error
	var stopping sync.WaitGroup
	stopping.Go(func() { httpErr = srv.Shutdown(shutdownCtx) })
	queueErr := stopQueue(shutdownCtx)
	stopping.Wait()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		httpErr = errors.Join(httpErr, err)
	}
	a.log.Info("stopped")
	return errors.Join(httpErr, queueErr)
}

// probesOnly is a worker's HTTP server: health, readiness and metrics.
func probesOnly(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		mux.Handle("GET "+path, api)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"this is a worker process (--role=worker): it serves /health, /ready and /metrics only","code":"not_found"}` + "\n"))
	})
	return mux
}

func bucketsOf(cfg *config.Config) echogen.Buckets {
	return echogen.Buckets{
		Audio:       cfg.Supabase.BucketAudio,
		Art:         cfg.Supabase.BucketArt,
		Transcripts: cfg.Supabase.BucketTranscripts,
		Documents:   cfg.BucketDocuments,
	}
}

// openBlobs opens the configured object store. The local one also serves
// its signed URLs, so it comes with a handler for /media/.
func openBlobs(ctx context.Context, cfg *config.Config, clock echogen.Clock) (echogen.BlobStore, http.Handler, error) {
	buckets := bucketsOf(cfg)
	if cfg.StorageBackend == "supabase" {
		store, err := blob.NewSupabase(ctx, blob.SupabaseOptions{URL: cfg.Supabase.URL, ServiceRoleKey: cfg.Supabase.ServiceRoleKey}, buckets.All()...)
		if err != nil {
			return nil, nil, fmt.Errorf("Supabase storage: %w", err)
		}
		return store, nil, nil
	}
	if cfg.StorageBackend == "s3" {
		s3, err := blob.NewS3(blob.S3Config{
			Endpoint:  cfg.S3Endpoint,
			Region:    cfg.S3Region,
			AccessKey: cfg.S3AccessKeyID,
			SecretKey: cfg.S3SecretAccessKey,
			PathStyle: cfg.S3ForcePathStyle,
			Buckets:   map[string]string{buckets.Audio: buckets.Audio, buckets.Art: buckets.Art, buckets.Transcripts: buckets.Transcripts, buckets.Documents: buckets.Documents},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("S3 storage: %w", err)
		}
		if err := s3.EnsureBuckets(ctx); err != nil {
			return nil, nil, fmt.Errorf("S3 storage: %w", err)
		}
		return s3, nil, nil
	}
	signer, err := blob.NewSigner(cfg.MediaSigningKeys, clock)
	if err != nil {
		return nil, nil, fmt.Errorf("MEDIA_SIGNING_KEYS: %w", err)
	}
	local, err := blob.NewLocal(cfg.MediaDir(), signer, buckets.All()...)
	if err != nil {
		return nil, nil, err
	}
	return local, local.Handler(), nil
}

// RotateVault re-seals every stored provider key under the first key of
// VAULT_KEYS (or of the generated DATA_DIR/secrets.env). It is safe to stop
// and run again.
func RotateVault(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if _, err := config.EnsureSecrets(cfg); err != nil { // VAULT_KEYS may live in DATA_DIR/secrets.env
		return err
	}
	keyring, err := vault.ParseKeyring(cfg.VaultKeys)
	if err != nil {
		return fmt.Errorf("VAULT_KEYS: %w", err)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.close()
	if err := db.migrate(ctx); err != nil {
		return err
	}
	library := echogen.NewLibraryService(db.store, nil, keyring, nil, echogen.SystemClock{}, log, echogen.LibraryOptions{})
	rotated, current, err := library.RotateVault(ctx)
	log.Info("vault rotation", "active_key", keyring.ActiveID(), "rotated", rotated, "already_current", current)
	return err
}

// newAuthenticator is the configured account backend: our own (argon2id
// passwords, our JWTs and sessions) or Supabase Auth.
func newAuthenticator(cfg *config.Config, store echogen.Store, mail echogen.MailQueue, revocations echogen.RevocationFeed, clock echogen.Clock, log *slog.Logger) (echogen.Authenticator, error) {
	if cfg.AuthMode == "supabase" {
		return auth.NewSupabase(auth.SupabaseConfig{URL: cfg.Supabase.URL, AnonKey: cfg.Supabase.AnonKey, ServiceRoleKey: cfg.Supabase.ServiceRoleKey,
			JWTSecret: cfg.JWTSecret, Logger: log, Revocations: revocations}, clock)
	}
	params := auth.DefaultParams()
	params.Memory, params.Time, params.Threads = cfg.Argon2MemoryKiB, cfg.Argon2Iterations, cfg.Argon2Parallelism
	hasher, err := auth.NewPasswordHasher(params, cfg.PasswordHashConcurrency)
	if err != nil {
		return nil, err
	}
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Algorithm: cfg.JWTAlgorithm, Secret: []byte(cfg.JWTSecret), TTL: cfg.AccessTokenTTL}, clock)
	if err != nil {
		return nil, err
	}
	return auth.NewService(auth.Config{
		SessionTTL:                cfg.SessionTTL,
		RefreshReuseGrace:         cfg.RefreshReuseGrace,
		EmailConfirmationRequired: cfg.EmailConfirmationRequired,
		PasswordResetURL:          cfg.PasswordResetURL,
		EmailVerifyURL:            cfg.EmailVerifyURL,
		AppName:                   "EchoGen",
		Logger:                    log,
	}, store, store, store, mail, hasher, signer, clock)
}

// rescueAfter is how long a job may run before River runs it again: at
// least JOB_RESCUE_AFTER, and always longer than the longest job, a
// podcast_generation with every stage's time limit, so a job that is
// merely slow never runs twice at once.
func rescueAfter(cfg *config.Config, log *slog.Logger) time.Duration {
	longest := cfg.IngestJobTimeout + cfg.ScriptJobTimeout + cfg.AudioJobTimeout + echogen.DefaultCoverTimeout
	switch {
	case cfg.JobRescueAfter > longest:
		return cfg.JobRescueAfter
	case cfg.JobRescueAfter > 0:
		log.Warn("JOB_RESCUE_AFTER raised above the longest job's time limit", "configured", cfg.JobRescueAfter.String(), "used", (longest + 5*time.Minute).String())
	}
	return longest + 5*time.Minute
}

// serverKeys offers the operator's provider keys to users without their
// own, only when ALLOW_SERVER_PROVIDER_KEYS says so.
func serverKeys(cfg *config.Config) map[echogen.Provider]string {
	if !cfg.AllowServerKeys {
		return nil
	}
	k := cfg.Providers
	return map[echogen.Provider]string{
		echogen.ProviderGemini: k.Gemini, echogen.ProviderOpenAI: k.OpenAI, echogen.ProviderGroq: k.Groq,
		echogen.ProviderOpenRouter: k.OpenRouter, echogen.ProviderAnthropic: k.Anthropic,
		echogen.ProviderElevenLabs: k.ElevenLabs, echogen.ProviderFirecrawl: k.Firecrawl,
		echogen.ProviderHyperbrowser: k.Hyperbrowser, echogen.ProviderImageRouter: k.ImageRouter,
	}
}

// languageModels are the clients of every AI provider.
type languageModels struct {
	compatible  map[echogen.Provider]*openai.Client
	gemini      *gemini.Client
	anthropic   *anthropic.Client
	elevenlabs  *elevenlabs.Client
	espeak      *espeak.Client
	imageRouter *imagerouter.Client
}

func newLanguageModels() *languageModels {
	return &languageModels{
		compatible: map[echogen.Provider]*openai.Client{
			echogen.ProviderOpenAI:           openai.NewOpenAI(openai.Options{}),
			echogen.ProviderGroq:             openai.NewGroq(openai.Options{}),
			echogen.ProviderOpenRouter:       openai.NewOpenRouter(openai.Options{}),
			echogen.ProviderOllama:           openai.NewOllama(openai.Options{}),
			echogen.ProviderOpenAICompatible: openai.NewCompatible(openai.Options{}),
		},
		gemini:      gemini.New(gemini.Options{}),
		anthropic:   anthropic.New(anthropic.Options{}),
		elevenlabs:  elevenlabs.New(elevenlabs.Options{}),
		espeak:      espeak.New(espeak.Options{}),
		imageRouter: imagerouter.New(imagerouter.Options{}),
	}
}

// speech are the text-to-speech engines, by provider; "local" is
// espeak-ng.
func (m *languageModels) speech() map[echogen.Provider]echogen.TTS {
	return map[echogen.Provider]echogen.TTS{
		echogen.ProviderOpenAI:           m.compatible[echogen.ProviderOpenAI],
		echogen.ProviderOpenAICompatible: m.compatible[echogen.ProviderOpenAICompatible],
		echogen.ProviderGemini:           m.gemini,
		echogen.ProviderElevenLabs:       m.elevenlabs,
		echogen.ProviderLocal:            m.espeak,
	}
}

// images are the cover-art generators, by provider; "local" paints
// offline.
func (m *languageModels) images() map[echogen.Provider]echogen.ImageGen {
	return map[echogen.Provider]echogen.ImageGen{
		echogen.ProviderOpenAI:      m.compatible[echogen.ProviderOpenAI],
		echogen.ProviderGemini:      m.gemini,
		echogen.ProviderImageRouter: m.imageRouter,
		echogen.ProviderLocal:       local.NewCoverPainter(),
	}
}

// llms are the script writers' models, by provider.
func (m *languageModels) llms() map[echogen.Provider]echogen.LLM {
	out := map[echogen.Provider]echogen.LLM{echogen.ProviderGemini: m.gemini, echogen.ProviderAnthropic: m.anthropic}
	for p, c := range m.compatible {
		out[p] = c
	}
	return out
}

// listers ask each provider for the models a user's key can use.
func (m *languageModels) listers() map[echogen.Provider]echogen.ModelLister {
	listers := map[echogen.Provider]echogen.ModelLister{
		echogen.ProviderGemini: echogen.ModelListerFunc(func(ctx context.Context, key, _ string) ([]string, error) {
			return m.gemini.ListModels(ctx, key)
		}),
		echogen.ProviderAnthropic: echogen.ModelListerFunc(func(ctx context.Context, key, _ string) ([]string, error) {
			return m.anthropic.ListModels(ctx, key)
		}),
	}
	for p, c := range m.compatible {
		listers[p] = echogen.ModelListerFunc(c.ListModels)
	}
	return listers
}

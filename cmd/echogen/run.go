package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/echogen/server/internal/auth"
	"github.com/echogen/server/internal/blob"
	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/httpapi"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/mail"
	"github.com/echogen/server/internal/postgres"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/vault"
)

const usage = `usage: echogen [command]

commands:
  serve     run the API server and its background workers (default)
  migrate   bring the database schema up to date and exit

Configuration comes from the environment and a .env file; see README.md.
`

// run is the whole program; main only supplies the process's environment,
// so tests can run it in-process with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve", "migrate":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	dotenv, err := godotenv.Read(".env")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read .env: %w", err)
	}
	cfg, err := config.Load(getenv, dotenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.close()
	if err := db.migrate(ctx); err != nil {
		return err
	}
	if cmd == "migrate" {
		log.Info("database is up to date", "database", db.name)
		return nil
	}
	return serve(ctx, cfg, db, log)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// database is the opened store with what the rest of the program needs of
// its dialect.
type database struct {
	name     string
	store    echogen.Store
	migrate  func(context.Context) error
	close    func() error
	newQueue func(echogen.Mailer, jobs.Sealer, *slog.Logger) (*jobs.Queue, error)
}

func openDatabase(ctx context.Context, cfg *config.Config) (*database, error) {
	if cfg.DatabaseURL != "" {
		pg, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL (DATABASE_URL): %w", err)
		}
		return &database{
			name: "postgres", store: pg.Store(), migrate: pg.Migrate, close: pg.Close,
			newQueue: func(m echogen.Mailer, s jobs.Sealer, l *slog.Logger) (*jobs.Queue, error) {
				return jobs.NewPostgres(pg.Pool, m, s, l, jobs.Options{})
			},
		}, nil
	}
	lite, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", cfg.SQLitePath(), err)
	}
	return &database{
		name: "sqlite", store: lite.Store(), migrate: lite.Migrate, close: lite.Close,
		newQueue: func(m echogen.Mailer, s jobs.Sealer, l *slog.Logger) (*jobs.Queue, error) {
			return jobs.NewSQLite(lite.Write, m, s, l, jobs.Options{})
		},
	}, nil
}

func serve(ctx context.Context, cfg *config.Config, db *database, log *slog.Logger) error {
	generated, err := config.EnsureSecrets(cfg)
	if err != nil {
		return err
	}
	if len(generated) > 0 {
		log.Warn("generated secrets for this installation; set them explicitly in production",
			"generated", strings.Join(generated, ","), "file", cfg.DataDir+"/"+config.SecretsFile)
	}
	keyring, err := vault.ParseKeyring(cfg.VaultKeys)
	if err != nil {
		return fmt.Errorf("VAULT_KEYS: %w", err)
	}
	clock := echogen.SystemClock{}

	var mailer echogen.Mailer = &mail.Log{Logger: log, ShowBody: !cfg.Production()}
	if cfg.SMTPHost != "" {
		mailer = &mail.SMTP{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom, Clock: clock}
	} else if cfg.Production() {
		log.Warn("SMTP_HOST is not set: password-reset and confirmation mail cannot be delivered")
	}
	queue, err := db.newQueue(mailer, keyring, log)
	if err != nil {
		return err
	}

	media, err := blob.NewLocal(cfg.MediaDir(), cfg.Supabase.BucketAudio, cfg.Supabase.BucketArt, cfg.Supabase.BucketTranscripts, "uploads")
	if err != nil {
		return err
	}
	params := auth.DefaultParams()
	params.Memory, params.Iterations, params.Parallelism = cfg.Argon2MemoryKiB, cfg.Argon2Iterations, cfg.Argon2Parallelism
	hasher, err := auth.NewPasswordHasher(params, cfg.PasswordHashConcurrency)
	if err != nil {
		return err
	}
	signer, err := auth.NewTokenSigner(auth.SignerConfig{Algorithm: cfg.JWTAlgorithm, Secret: []byte(cfg.JWTSecret), TTL: cfg.AccessTokenTTL}, clock)
	if err != nil {
		return err
	}
	authn := auth.NewService(auth.Config{
		SessionTTL:                cfg.SessionTTL,
		RefreshReuseGrace:         cfg.RefreshReuseGrace,
		EmailConfirmationRequired: cfg.EmailConfirmationRequired,
		PasswordResetURL:          cfg.PasswordResetURL,
		EmailVerifyURL:            cfg.EmailVerifyURL,
		AppName:                   "EchoGen",
	}, db.store, db.store, db.store, queue, hasher, signer, clock)
	accounts := echogen.NewAccountService(authn, db.store, media, clock, cfg.AccountDeletionWindow, log)
	queue.SchedulePurge(accounts, cfg.AccountPurgeInterval)

	api := httpapi.NewServer(accounts, []httpapi.ReadinessCheck{
		{Name: "database", Check: db.store.Ping},
		{Name: "storage", Check: media.Ping},
	}, clock, log, httpapi.Options{
		ProjectName:                   cfg.ProjectName,
		Environment:                   cfg.Environment,
		APIPrefix:                     cfg.APIPrefix,
		CORSOrigins:                   cfg.CORSOrigins,
		TrustProxyHeaders:             cfg.TrustProxyHeaders,
		APIRateLimitPerMinute:         cfg.APIRateLimitPerMinute,
		AuthRateLimitPerMinute:        cfg.AuthRateLimitPerMinute,
		AuthAccountRateLimitPerMinute: cfg.AuthAccountRateLimitPerMinute,
	})

	if err := queue.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // uploads are large
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		_ = queue.Stop(context.Background())
		return fmt.Errorf("listen on %s (HTTP_ADDR/PORT): %w", cfg.HTTPAddr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "database", db.name, "environment", cfg.Environment,
		"docs", "http://"+ln.Addr().String()+"/docs")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		_ = queue.Stop(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	httpErr := srv.Shutdown(shutdownCtx)
	queueErr := queue.Stop(shutdownCtx)
	<-served
	log.Info("stopped")
	return errors.Join(httpErr, queueErr)
}

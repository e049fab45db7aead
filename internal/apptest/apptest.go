// Package apptest starts the real application in-process on a loopback
// port, for the commands and tests that measure or load it: a temporary
// data folder, SQLite or a PostgreSQL schema of its own, rate limits off.
package apptest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/echogen/server/internal/app"
	"github.com/echogen/server/internal/config"
)

// Options say how to start the server.
type Options struct {
	// DatabaseURL is a PostgreSQL URL: the server works in a new schema of
	// its own there, dropped by Close. Empty means SQLite in the data folder.
	DatabaseURL string
	// Env adds or replaces configuration (environment variable names).
	Env map[string]string
	// Log receives the server's log; nil logs errors as JSON on stderr.
	Log *slog.Logger
}

// Server is the real application serving HTTP on 127.0.0.1.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41234.
	URL string
	// DataDir is the temporary data folder, removed by Close.
	DataDir string
	// Database is "sqlite" or "postgres".
	Database string

	close func()
}

// Start starts the server; Close it when done. Rate limits are off (the
// point is the server's cost, not the limiter's refusals) unless
// opts.Env turns them on.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	var cleanups []func()
	cleanup := func() {
		for _, f := range cleanups {
			defer f() // in reverse order
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	dir, err := os.MkdirTemp("", "echogen-apptest-*")
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	s := &Server{DataDir: dir, Database: "sqlite"}
	databaseURL := opts.DatabaseURL
	if databaseURL != "" {
		url, drop, err := Schema(ctx, databaseURL)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, drop)
		databaseURL, s.Database = url, "postgres"
	}
	env := map[string]string{
		"DATA_DIR":                           dir,
		"DATABASE_URL":                       databaseURL,
		"LOG_LEVEL":                          "error",
		"API_RATE_LIMIT_PER_MINUTE":          "0",
		"AUTH_RATE_LIMIT_PER_MINUTE":         "0",
		"AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE": "0",
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		return nil, err
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Serve(sctx, ln); err != nil {
			log.Error("serve", "error", err)
		}
	}()
	cleanups = append(cleanups, func() {
		cancel()
		<-done
	})
	s.URL = "http://" + ln.Addr().String()
	s.close = cleanup
	return s, nil
}

// Close shuts the server down gracefully and removes its data.
func (s *Server) Close() { s.close() }

// Schema creates a schema of its own in the PostgreSQL database at url, and
// returns a URL whose connections use it and a function that drops it.
func Schema(ctx context.Context, url string) (string, func(), error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return "", nil, err
	}
	// Parsed as the server's pool parses it, so pool_* parameters (such as
	// pool_max_conns) are not sent to the server as settings.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("apptest_%d", time.Now().UnixNano())
	exec := func(ctx context.Context, stmt string) error {
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		// The caller's context may be over (an interrupted run); the drop
		// still gets a few seconds of its own.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "apptest: drop schema %s: %v\n", schema, err)
		}
	}
	return u.String(), drop, nil
}

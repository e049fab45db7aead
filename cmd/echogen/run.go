package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"

	"github.com/joho/godotenv"

	"github.com/echogen/server/internal/app"
	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/vault"
)

const usage = `usage: echogen [command]

commands:
  serve     run the API server and its background workers (default)
  migrate   bring the database schema up to date and exit
  vault rotate
            re-seal every stored provider key under the first key of VAULT_KEYS
  vault new-key
            print a new VAULT_KEYS entry (put it first, keep the old ones after it)

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
	case "vault":
		if len(args) > 1 && args[1] == "new-key" {
			entry, err := vault.FormatKey(vault.GenerateKey())
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, entry)
			return nil
		}
		if len(args) < 2 || args[1] != "rotate" {
			fmt.Fprint(stderr, usage)
			return fmt.Errorf("unknown vault command; use vault rotate or vault new-key")
		}
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
	switch cmd {
	case "migrate":
		return app.Migrate(ctx, cfg, log)
	case "vault":
		return app.RotateVault(ctx, cfg, log)
	}

	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (HTTP_ADDR or PORT): %w", cfg.HTTPAddr, err)
	}
	return a.Serve(ctx, ln)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/echogen/server/internal/app"
	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/vault"
)

const usage = `usage: echogen [command]

commands:
  serve     [--role all|api|worker]
            run the API server and its background workers (default: all; SERVER_ROLE).
            api serves the API only; worker runs jobs and serves /health, /ready, /metrics.
            Any number of each share one PostgreSQL database and one object store
  healthcheck [--url URL]
            exit 0 when this installation's server answers /health (for container health checks)
  migrate   bring the database schema up to date and exit
  generate  --url URL | --file PATH | --text TEXT [--out episode.mp3] [--style S] [--speakers A,B] [--minutes N]
            [--language L] [--provider P --model M] [--tts P] [--cover P|none]
            make a whole episode here and now (offline engines by default) and say where its files went
  vault rotate
            re-seal every stored provider key under the first key of VAULT_KEYS
  vault new-key
            print a new VAULT_KEYS entry (put it first, keep the old ones after it)
  backup    [--out PATH]
            copy the SQLite database and the local media into one .tar.gz with a manifest
            (default DATA_DIR/backups/echogen-<UTC time>.tar.gz); safe while the server runs.
            SQLite and STORAGE_BACKEND=local only: use pg_dump and a bucket sync otherwise
  restore   --from PATH [--force]
            verify a backup, then put its database and media in DATA_DIR; stop the server first.
            Refuses when DATA_DIR holds a database unless --force, which keeps the old data
            beside it as *.before-restore-<UTC time>

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
	case "serve", "migrate", "generate", "backup", "restore", "healthcheck":
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
	case "generate":
		return generate(ctx, cfg, args[1:], stdout, stderr)
	case "vault":
		return app.RotateVault(ctx, cfg, log)
	case "backup":
		return backup(ctx, cfg, args[1:], stdout, stderr)
	case "restore":
		return restore(ctx, cfg, args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg, args[1:], stdout, stderr)
	}
	if len(args) > 0 { // "serve" and its flags
		if err := serveFlags(cfg, args[1:], stderr); err != nil {
			return err
		}
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

// serveFlags reads `echogen serve`'s flags into cfg.
func serveFlags(cfg *config.Config, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", cfg.Role, "all (API and job workers), api, or worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return cfg.SetRole(*role)
}

// healthcheck runs `echogen healthcheck`: it asks the server listening on
// HTTP_ADDR (or --url) for /health, so a container image needs no curl.
func healthcheck(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "", "the server's base URL (default: HTTP_ADDR on loopback)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		host, port, err := net.SplitHostPort(cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("HTTP_ADDR: %w", err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		*base = "http://" + net.JoinHostPort(host, port)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*base, "/")+"/health", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", req.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s %s\n", req.URL, strings.TrimSpace(string(body)))
	return nil
}

// generate runs `echogen generate`.
func generate(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req app.GenerateRequest
	fs.StringVar(&req.URL, "url", "", "a web page to make the episode from")
	fs.StringVar(&req.File, "file", "", "a document (PDF, DOCX, HTML, Markdown, text)")
	fs.StringVar(&req.Text, "text", "", "the text itself")
	fs.StringVar(&req.Title, "title", "", "the title, for --text")
	fs.StringVar(&req.Out, "out", "episode.mp3", "where to write the episode; .mp3, .m4a, .opus or .wav")
	style := fs.String("style", "", "playful, serious, investigative, coffee_chat, tech_talk or storytelling")
	speakers := fs.String("speakers", "", "speaker names, comma-separated (1 to 4; default Alex,Sam)")
	minutes := fs.Int("minutes", 0, "target length in minutes (default 10)")
	language := fs.String("language", "", "the episode's language, a BCP 47 tag (default en)")
	provider := fs.String("provider", "", "the script writer: local (default), openai, gemini, anthropic, …")
	model := fs.String("model", "", "the writer's model")
	tts := fs.String("tts", "", "the speech provider for every speaker: local (espeak-ng, default), openai, gemini, elevenlabs, …")
	cover := fs.String("cover", "", "the cover art provider: local (default), openai, gemini, imagerouter, or none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if n := btoi(req.URL != "") + btoi(req.File != "") + btoi(req.Text != ""); n != 1 {
		return fmt.Errorf("give one of --url, --file or --text")
	}
	payload := map[string]any{}
	for k, v := range map[string]string{"style": *style, "language": *language, "provider": *provider, "model": *model} {
		if v != "" {
			payload[k] = v
		}
	}
	var names []any
	if *speakers != "" {
		for _, n := range strings.Split(*speakers, ",") {
			names = append(names, strings.TrimSpace(n))
		}
		payload["speakers"] = names
	}
	if *minutes > 0 {
		payload["target_minutes"] = float64(*minutes)
	}
	if *tts != "" {
		if names == nil {
			names = []any{"Alex", "Sam"}
		}
		voices := map[string]any{}
		for _, n := range names {
			voices[n.(string)] = map[string]any{"provider": *tts}
		}
		payload["voices"] = voices
	}
	switch *cover {
	case "":
	case "none":
		payload["cover"] = false
	default:
		payload["cover"] = map[string]any{"provider": *cover}
	}
	req.Payload = payload

	a, err := app.New(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Generate(ctx, req, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "podcast %s\n", res.PodcastID)
	if res.Note != "" {
		fmt.Fprintf(stdout, "note: %s\n", res.Note)
	}
	for _, f := range res.Files {
		fmt.Fprintln(stdout, f)
	}
	return nil
}

// backup runs `echogen backup`.
func backup(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the archive to write (default DATA_DIR/backups/echogen-<UTC time>.tar.gz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected argument %q", fs.Arg(0))
	}
	path, m, err := app.Backup(ctx, cfg, app.BackupOptions{Out: *out, Now: time.Now()})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup %s (%d files, schema version %d)\n", path, len(m.Files), m.SchemaVersion)
	fmt.Fprintf(stdout, "note: DATA_DIR/%s and VAULT_KEYS are not in the backup; keep them safe separately, stored provider keys cannot be opened without the vault key\n", config.SecretsFile)
	return nil
}

// restore runs `echogen restore`.
func restore(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := app.RestoreOptions{Now: time.Now()}
	fs.StringVar(&opts.From, "from", "", "the backup archive to restore")
	fs.BoolVar(&opts.Force, "force", false, "replace an existing database, keeping it aside as *.before-restore-<time>")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if opts.From == "" || fs.NArg() > 0 {
		return fmt.Errorf("restore: give --from PATH (and nothing else but --force)")
	}
	res, err := app.Restore(ctx, cfg, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d files into %s (schema version %d, made %s)\n", len(res.Manifest.Files), cfg.DataDir,
		res.Manifest.SchemaVersion, res.Manifest.CreatedAt.Format(time.RFC3339))
	for _, p := range res.KeptAside {
		fmt.Fprintf(stdout, "kept previous data as %s\n", p)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

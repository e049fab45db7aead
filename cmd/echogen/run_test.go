package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/echogen/server/internal/testenv"
)

// logWatcher collects run's JSON log lines and reports the address once
// the server says it is listening.
type logWatcher struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string
}

func (w *logWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(string(p), "\n") {
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
			select {
			case w.listening <- entry.Addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunOnAFreshFolder starts the server the way `go run ./cmd/echogen`
// does, in an empty folder with nothing configured (only the listen address
// is chosen by the test, so it cannot collide with a port in use), and
// checks that it serves and stops cleanly.
func TestRunOnAFreshFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "ADMIN_EMAILS": "boss@example.com"}
	logs := &logWatcher{listening: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, logs) }()

	var addr string
	select {
	case addr = <-logs.listening:
	case err := <-done:
		t.Fatalf("run stopped before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", logs)
	}
	for _, tc := range []struct{ path, want string }{
		{"/health", `"status":"healthy"`},
		{"/ready", `"status":"ready"`},
		{"/docs", "swagger-ui"},
		{"/openapi.json", `"openapi":"3.1.0"`},
		{"/admin/login", "<form"}, // ADMIN_EMAILS turns the job dashboard on
	} {
		res, err := http.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d, want 200 containing %q; got %.200s", tc.path, res.StatusCode, tc.want, body)
		}
	}

	// The container health check asks the same server.
	var probe bytes.Buffer
	if err := run(ctx, []string{"healthcheck", "--url", "http://" + addr}, func(k string) string { return env[k] }, &probe, io.Discard); err != nil ||
		!strings.Contains(probe.String(), "healthy") {
		t.Errorf("healthcheck: %v %q", err, probe.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after its context was cancelled")
	}

	// The first run generated its secrets into the data folder, privately,
	// said so, and did not print them.
	secretsPath := filepath.Join(dir, "data", "secrets.env")
	info, err := os.Stat(secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode %v, want 0600", info.Mode().Perm())
	}
	secrets, err := godotenv.Read(secretsPath)
	if err != nil || secrets["JWT_SECRET"] == "" || secrets["VAULT_KEYS"] == "" {
		t.Fatalf("secrets file: %v %v", secrets, err)
	}
	out := logs.String()
	if !strings.Contains(out, "generated secrets") {
		t.Error("the log does not say that secrets were generated")
	}
	for _, v := range secrets {
		if strings.Contains(out, v) {
			t.Error("a generated secret appeared in the log")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "echogen.db")); err != nil {
		t.Errorf("no SQLite database in ./data: %v", err)
	}
	// With the server gone, the health check fails.
	if err := run(context.Background(), []string{"healthcheck", "--url", "http://" + addr, "--timeout", "2s"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Error("healthcheck passed with no server")
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{"ENVIRONMENT": "production", "PORT": "http", "JWT_ALGORITHM": "RS256"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"PORT", "JWT_ALGORITHM", "JWT_SECRET: required when ENVIRONMENT=production", "VAULT_KEYS: required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// TestGenerate runs `echogen generate` on a fresh folder with the offline
// engines and checks that every file it names exists and is what it says.
func TestGenerate(t *testing.T) {
	testenv.RequireTool(t, "espeak-ng", "apt-get install espeak-ng")
	testenv.RequireTool(t, "ffmpeg", "apt-get install ffmpeg")
	t.Chdir(t.TempDir())
	text := "The tide comes in twice a day, pulled by the moon. Spring tides come at new and full moon. " +
		"Neap tides come in between, when the sun and the moon pull at right angles. The Bay of Fundy has the highest tides on Earth."
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"generate", "--text", text, "--title", "Tides", "--minutes", "1", "--speakers", "Ada,Bob", "--out", "out/tides.mp3"},
		func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "100% finished") {
		t.Errorf("no finished progress bar:\n%q", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !strings.HasPrefix(lines[0], "podcast ") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	want := map[string]string{"out/tides.mp3": "ID3", "out/tides.png": "\x89PNG", "out/tides.vtt": "WEBVTT", "out/tides.srt": "1\n", "out/tides.transcript.json": "{", "out/tides.chapters.json": "{"}
	for _, f := range lines[1:] {
		prefix, ok := want[f]
		if !ok {
			t.Errorf("unexpected file %s", f)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(string(b), prefix) {
			t.Errorf("%s: %v, starts %q", f, err, string(b[:min(len(b), 8)]))
		}
		delete(want, f)
	}
	if len(want) > 0 {
		t.Errorf("files not written: %v", want)
	}
	if err := run(t.Context(), []string{"generate", "--out", "x.mp3"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Error("generate without a source succeeded")
	}
}

func TestServeRoleNeedsPostgres(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"serve", "--role=worker"}, {"serve", "--role=api"}, {"serve", "--role=scheduler"}, {"serve", "extra"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: started", args)
			continue
		}
		if want := map[string]string{"extra": "unexpected argument", "--role=scheduler": "all, api, worker"}[args[1]]; want != "" && !strings.Contains(err.Error(), want) ||
			want == "" && !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestoreCommands runs `echogen backup` and `echogen restore`
// end to end on a temporary folder.
func TestBackupAndRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx := context.Background()
	env := map[string]string{"DATA_DIR": filepath.Join(dir, "data")}
	getenv := func(k string) string { return env[k] }

	if err := run(ctx, []string{"migrate"}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	object := filepath.Join(dir, "data", "media", "podcast-audio", "u1", "episode.wav")
	if err := os.MkdirAll(filepath.Dir(object), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(object, []byte("RIFF not really"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The default name, under DATA_DIR/backups.
	var out bytes.Buffer
	if err := run(ctx, []string{"backup"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	defaults, _ := filepath.Glob(filepath.Join(dir, "data", "backups", "echogen-*.tar.gz"))
	if len(defaults) != 1 || !strings.Contains(out.String(), defaults[0]) {
		t.Fatalf("backup wrote %v and said:\n%s", defaults, out.String())
	}

	archive := filepath.Join(dir, "b.tar.gz")
	out.Reset()
	if err := run(ctx, []string{"backup", "--out", archive}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "backup "+archive+" (2 files") {
		t.Errorf("backup said:\n%s", out.String())
	}

	env["DATA_DIR"] = filepath.Join(dir, "restored")
	if err := run(ctx, []string{"restore"}, getenv, io.Discard, io.Discard); err == nil {
		t.Error("restore without --from succeeded")
	}
	out.Reset()
	if err := run(ctx, []string{"restore", "--from", archive}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "restored 2 files") {
		t.Errorf("restore said:\n%s", out.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "restored", "media", "podcast-audio", "u1", "episode.wav"))
	if err != nil || string(got) != "RIFF not really" {
		t.Errorf("restored object = %q, %v", got, err)
	}
	// The restored database is a working one.
	if err := run(ctx, []string{"migrate"}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}

	err = run(ctx, []string{"restore", "--from", archive}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a database: error = %v, want one about --force", err)
	}
	out.Reset()
	if err := run(ctx, []string{"restore", "--from", archive, "--force"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kept previous data as "+filepath.Join(dir, "restored", "media.before-restore-")) {
		t.Errorf("restore --force said:\n%s", out.String())
	}

	env["DATABASE_URL"] = "postgres://u:p@127.0.0.1:1/db"
	if err := run(ctx, []string{"backup"}, getenv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup with DATABASE_URL: error = %v, want one naming pg_dump", err)
	}
}

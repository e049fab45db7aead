package app

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/echogen"
)

var backupNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testConfig(t *testing.T, dataDir string, env map[string]string) *config.Config {
	t.Helper()
	all := map[string]string{"DATA_DIR": dataDir}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// installation is a real data folder with a user, content, a script and
// media objects in it.
type installation struct {
	cfg     *config.Config
	user    *echogen.User
	content *echogen.Content
	script  *echogen.Script
	objects map[string][]byte // bucket/key → bytes
}

func newInstallation(t *testing.T) *installation {
	t.Helper()
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir(), nil)
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	at := backupNow.Add(-time.Hour)
	in := &installation{cfg: cfg, objects: map[string][]byte{}}
	in.user = &echogen.User{Email: "ada@example.com", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", CreatedAt: at, UpdatedAt: at}
	if err := a.db.store.CreateUser(ctx, in.user); err != nil {
		t.Fatal(err)
	}
	in.content = &echogen.Content{UserID: in.user.ID, URL: "https://example.com/a", Title: "A title", Markdown: "# Hello\n\nWorld ✓", Provider: "local",
		Metadata: map[string]any{"words": float64(2)}, CreatedAt: at, UpdatedAt: at}
	if err := a.db.store.CreateContent(ctx, in.content); err != nil {
		t.Fatal(err)
	}
	start, end := 0.0, 1.5
	in.script = &echogen.Script{UserID: in.user.ID, SourceContentID: &in.content.ID, Title: "Episode", Prompt: "p", Model: "local", Language: "en",
		Segments: []echogen.Segment{{Speaker: "Alex", Content: "Hi.", StartTime: &start, EndTime: &end}, {Speaker: "Sam", Content: "Hello!"}},
		Metadata: map[string]any{"style": "serious"}, CreatedAt: at, UpdatedAt: at}
	if err := a.db.store.CreateScript(ctx, in.script); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("pcm-"), 100_000)
	for _, o := range []struct {
		bucket, key string
		body        []byte
	}{
		{cfg.Supabase.BucketAudio, in.user.ID + "/episode.wav", big},
		{cfg.Supabase.BucketArt, in.user.ID + "/covers/cover.png", []byte("\x89PNG not really")},
		{cfg.Supabase.BucketTranscripts, in.user.ID + "/t/episode.vtt", []byte("WEBVTT\n\n00:00.000 --> 00:01.500\nHi.\n")},
	} {
		if _, err := a.blobs.Put(ctx, o.bucket, o.key, bytes.NewReader(o.body), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		in.objects[o.bucket+"/"+o.key] = o.body
	}
	return in
}

// dumpTables reads every row of every table of the SQLite file at path.
func dumpTables(t *testing.T, path string) map[string][][]any {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string][][]any{}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `" ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		out[table] = [][]any{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], vals)
		}
		rows.Close()
	}
	return out
}

// treeOf maps every file under dir to its SHA-256.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	in := newInstallation(t)
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	path, m, err := Backup(ctx, in.cfg, BackupOptions{Out: out, Now: backupNow})
	if err != nil {
		t.Fatal(err)
	}
	if path != out {
		t.Errorf("Backup wrote %s, want %s", path, out)
	}
	if m.Format != BackupFormat || !m.CreatedAt.Equal(backupNow) || m.SchemaVersion < 3 {
		t.Errorf("manifest = %+v", m)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Path)
	}
	wantNames := []string{"database.db"}
	for k := range in.objects {
		wantNames = append(wantNames, "media/"+k)
	}
	sort.Strings(wantNames[1:])
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("manifest files (-want +got):\n%s", diff)
	}
	// manifest.json is the archive's last entry.
	if entries := archiveNames(t, out); entries[len(entries)-1] != "manifest.json" {
		t.Errorf("archive entries = %v, want manifest.json last", entries)
	}

	fresh := testConfig(t, filepath.Join(t.TempDir(), "data"), nil)
	res, err := Restore(ctx, fresh, RestoreOptions{From: out, Now: backupNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.KeptAside) != 0 {
		t.Errorf("kept aside %v in a fresh folder", res.KeptAside)
	}
	if diff := cmp.Diff(dumpTables(t, in.cfg.SQLitePath()), dumpTables(t, fresh.SQLitePath())); diff != "" {
		t.Errorf("restored rows differ (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(treeOf(t, in.cfg.MediaDir()), treeOf(t, fresh.MediaDir())); diff != "" {
		t.Errorf("restored media differ (-before +after):\n%s", diff)
	}
	if entries, _ := os.ReadDir(fresh.DataDir); len(entries) != 2 {
		t.Errorf("DATA_DIR holds %v, want echogen.db and media only", entries)
	}

	// The restored installation opens and its store reads the same things.
	a, err := New(ctx, fresh, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	u, err := a.db.store.UserByID(ctx, in.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.db.store.Content(ctx, in.user.ID, in.content.ID)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.db.store.Script(ctx, in.user.ID, in.script.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameTime := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	for _, d := range []string{
		cmp.Diff(in.user, u, sameTime), cmp.Diff(in.content, c, sameTime), cmp.Diff(in.script, s, sameTime),
	} {
		if d != "" {
			t.Errorf("restored row differs (-want +got):\n%s", d)
		}
	}
	for name, body := range in.objects {
		bucket, key, _ := strings.Cut(name, "/")
		r, _, err := a.blobs.Open(ctx, bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != sha256.Sum256(body) {
			t.Errorf("object %s differs after restore", name)
		}
	}
}

func archiveNames(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	for _, e := range readArchive(t, path) {
		names = append(names, e.name)
	}
	return names
}

type archiveEntry struct {
	name string
	body []byte
}

func readArchive(t *testing.T, path string) []archiveEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []archiveEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, archiveEntry{h.Name, b})
	}
}

// writeArchive writes entries (and raw headers, for links) as a backup.
func writeArchive(t *testing.T, path string, entries []archiveEntry, extra ...*tar.Header) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, h := range extra {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesBadArchives(t *testing.T) {
	ctx := context.Background()
	in := newInstallation(t)
	good := filepath.Join(t.TempDir(), "good.tar.gz")
	if _, _, err := Backup(ctx, in.cfg, BackupOptions{Out: good, Now: backupNow}); err != nil {
		t.Fatal(err)
	}
	entries := readArchive(t, good)
	media := -1
	for i, e := range entries {
		if strings.HasPrefix(e.name, "media/") {
			media = i
			break
		}
	}
	if media < 0 {
		t.Fatal("no media in the backup")
	}
	edit := func(f func([]archiveEntry) []archiveEntry) []archiveEntry {
		cp := make([]archiveEntry, len(entries))
		for i, e := range entries {
			cp[i] = archiveEntry{e.name, bytes.Clone(e.body)}
		}
		return f(cp)
	}
	manifestWithout := func(es []archiveEntry, path string) []archiveEntry {
		var m Manifest
		last := &es[len(es)-1]
		if err := json.Unmarshal(last.body, &m); err != nil {
			t.Fatal(err)
		}
		var kept []ManifestFile
		for _, f := range m.Files {
			if f.Path != path {
				kept = append(kept, f)
			}
		}
		m.Files = kept
		last.body, _ = json.Marshal(m)
		return es
	}
	body := []byte("x")
	for _, tc := range []struct {
		name    string
		entries []archiveEntry
		extra   []*tar.Header
		want    string
	}{
		{"one byte changed", edit(func(es []archiveEntry) []archiveEntry { es[media].body[0] ^= 1; return es }), nil, "does not match its SHA-256"},
		{"file missing", edit(func(es []archiveEntry) []archiveEntry { return append(es[:media:media], es[media+1:]...) }), nil, "is missing"},
		{"manifest entry missing", edit(func(es []archiveEntry) []archiveEntry { return manifestWithout(es, es[media].name) }), nil, "is not in the manifest"},
		{"no manifest", edit(func(es []archiveEntry) []archiveEntry { return es[:len(es)-1] }), nil, "no manifest.json"},
		{"dot dot", []archiveEntry{{"media/audio/../../../evil", body}}, nil, "escapes"},
		{"dot dot at the start", []archiveEntry{{"../evil", body}}, nil, "escapes"},
		{"absolute", []archiveEntry{{"/etc/evil", body}}, nil, "absolute"},
		{"unclean", []archiveEntry{{"media/./audio/x", body}}, nil, "not clean"},
		{"unknown", []archiveEntry{{"secrets.env", body}}, nil, "not part of"},
		{"symlink", nil, []*tar.Header{{Name: "media/audio/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}}, "only regular files"},
		{"hard link", nil, []*tar.Header{{Name: "media/audio/link", Linkname: "database.db", Typeflag: tar.TypeLink}}, "only regular files"},
		{"folder", nil, []*tar.Header{{Name: "media/audio/", Typeflag: tar.TypeDir, Mode: 0o755}}, "not clean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "bad.tar.gz")
			writeArchive(t, archive, tc.entries, tc.extra...)
			parent := t.TempDir()
			fresh := testConfig(t, filepath.Join(parent, "data"), nil)
			_, err := Restore(ctx, fresh, RestoreOptions{From: archive, Now: backupNow})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore error = %v, want one containing %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("a refused restore wrote %v", entries)
			}
		})
	}
}

func TestRestoreIntoExistingData(t *testing.T) {
	ctx := context.Background()
	in := newInstallation(t)
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if _, _, err := Backup(ctx, in.cfg, BackupOptions{Out: out, Now: backupNow}); err != nil {
		t.Fatal(err)
	}
	other := newInstallation(t) // a different installation's data
	beforeDB := dumpTables(t, other.cfg.SQLitePath())
	beforeMedia := treeOf(t, other.cfg.MediaDir())

	_, err := Restore(ctx, other.cfg, RestoreOptions{From: out, Now: backupNow})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("Restore over a database without --force: error = %v", err)
	}
	if diff := cmp.Diff(beforeDB, dumpTables(t, other.cfg.SQLitePath())); diff != "" {
		t.Errorf("refused restore changed the database:\n%s", diff)
	}

	res, err := Restore(ctx, other.cfg, RestoreOptions{From: out, Force: true, Now: backupNow})
	if err != nil {
		t.Fatal(err)
	}
	stamp := ".before-restore-20261127T120000Z"
	keptDB, keptMedia := other.cfg.SQLitePath()+stamp, other.cfg.MediaDir()+stamp
	if len(res.KeptAside) < 2 || res.KeptAside[0] != keptDB || res.KeptAside[len(res.KeptAside)-1] != keptMedia {
		t.Errorf("kept aside %v, want %s … %s", res.KeptAside, keptDB, keptMedia)
	}
	if diff := cmp.Diff(beforeDB, dumpTables(t, keptDB)); diff != "" {
		t.Errorf("the kept database differs from the old one:\n%s", diff)
	}
	if diff := cmp.Diff(beforeMedia, treeOf(t, keptMedia)); diff != "" {
		t.Errorf("the kept media differ from the old ones:\n%s", diff)
	}
	if diff := cmp.Diff(dumpTables(t, in.cfg.SQLitePath()), dumpTables(t, other.cfg.SQLitePath())); diff != "" {
		t.Errorf("restored rows differ:\n%s", diff)
	}
	if diff := cmp.Diff(treeOf(t, in.cfg.MediaDir()), treeOf(t, other.cfg.MediaDir())); diff != "" {
		t.Errorf("restored media differ:\n%s", diff)
	}
	if entries, _ := filepath.Glob(filepath.Join(other.cfg.DataDir, ".restore-*")); len(entries) != 0 {
		t.Errorf("restore left %v behind", entries)
	}
}

func TestBackupRestoreRefuseOtherBackends(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"postgres", map[string]string{"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"}, "pg_dump"},
		{"s3", map[string]string{"STORAGE_BACKEND": "s3", "S3_ENDPOINT": "http://127.0.0.1:1", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s"}, "bucket sync"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir, tc.env)
			if _, _, err := Backup(ctx, cfg, BackupOptions{Now: backupNow}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Backup error = %v, want one naming %s", err, tc.want)
			}
			if _, err := Restore(ctx, cfg, RestoreOptions{From: filepath.Join(dir, "x.tar.gz"), Now: backupNow}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Restore error = %v, want one naming %s", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused command wrote %v", entries)
			}
		})
	}
}

func TestCheckArchivePath(t *testing.T) {
	for name, ok := range map[string]bool{
		"database.db": true, "manifest.json": true, "media/podcast-audio/u/a.wav": true, "media/b/k": true,
		"media/b": false, "media/": false, "": false, "..": false, "../x": false, "media/b/../../x": false,
		"media/b/..": false, "/abs": false, "media//b/k": false, "media/b/k/": false, `media\b\k`: false,
		"C:/x": false, "media/b/at-12:00.wav": true, "media/b/nul\x00": false, "other/file": false, "./database.db": false,
	} {
		if err := checkArchivePath(name); (err == nil) != ok {
			t.Errorf("checkArchivePath(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// TestRestoreFailureKeepsOldData makes the last step of a forced restore
// fail and checks that the previous data is back in place.
func TestRestoreFailureKeepsOldData(t *testing.T) {
	ctx := context.Background()
	in := newInstallation(t)
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if _, _, err := Backup(ctx, in.cfg, BackupOptions{Out: out, Now: backupNow}); err != nil {
		t.Fatal(err)
	}
	other := newInstallation(t)
	beforeDB := dumpTables(t, other.cfg.SQLitePath())
	beforeMedia := treeOf(t, other.cfg.MediaDir())
	// The media cannot be moved aside: that name is taken.
	blocker := other.cfg.MediaDir() + ".before-restore-20261127T120000Z"
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, other.cfg, RestoreOptions{From: out, Force: true, Now: backupNow}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Restore error = %v, want one saying the name is taken", err)
	}
	if diff := cmp.Diff(beforeDB, dumpTables(t, other.cfg.SQLitePath())); diff != "" {
		t.Errorf("a failed restore changed the database:\n%s", diff)
	}
	if diff := cmp.Diff(beforeMedia, treeOf(t, other.cfg.MediaDir())); diff != "" {
		t.Errorf("a failed restore changed the media:\n%s", diff)
	}
	if kept, _ := filepath.Glob(other.cfg.SQLitePath() + ".before-restore-*"); len(kept) != 0 {
		t.Errorf("a failed restore left %v", kept)
	}
	if entries, _ := filepath.Glob(filepath.Join(other.cfg.DataDir, ".restore-*")); len(entries) != 0 {
		t.Errorf("restore left %v behind", entries)
	}
}

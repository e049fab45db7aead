package app

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/echogen/server/internal/config"
	"github.com/echogen/server/internal/sqlite"
)

// A backup archive (echogen backup) is a gzip'd tar holding, in order:
//
//	database.db          a VACUUM INTO copy of DATA_DIR/echogen.db
//	media/<bucket>/<key> every object of the local media folder
//	manifest.json        format, created_at, schema version, and each
//	                     file's path, size and SHA-256
//
// The manifest comes last so the archive is written in one streaming pass:
// a file's hash is known only once it has been copied. Restore reads the
// archive twice anyway (verify everything, then extract), so where the
// manifest sits costs it nothing.
const (
	BackupFormat        = 1
	backupDatabaseEntry = "database.db"
	backupManifestEntry = "manifest.json"
	backupMediaPrefix   = "media/"
	maxManifestBytes    = 256 << 20
)

// Manifest describes a backup archive's contents.
type Manifest struct {
	Format        int            `json:"format"`
	CreatedAt     time.Time      `json:"created_at"`
	SchemaVersion int64          `json:"schema_version"` // goose version of the database
	Files         []ManifestFile `json:"files"`
}

// ManifestFile is one file of a backup.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupOptions say where to write a backup and when it is made.
type BackupOptions struct {
	Out string    // "" means DATA_DIR/backups/echogen-<UTC time>.tar.gz
	Now time.Time // the clock's reading, for the name and the manifest
}

// RestoreOptions say which backup to restore and whether existing data may
// be replaced.
type RestoreOptions struct {
	From  string
	Force bool      // replace an existing database, keeping it aside
	Now   time.Time // stamps the names of the data kept aside
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Manifest  *Manifest
	KeptAside []string // previous data, renamed to *.before-restore-<time>
}

// localOnly refuses configurations whose data does not live in DATA_DIR.
func localOnly(cfg *config.Config, command string) error {
	if cfg.DatabaseURL != "" {
		return fmt.Errorf("echogen %s covers the embedded setup (SQLite in DATA_DIR) only; with DATABASE_URL (PostgreSQL) back up the database with pg_dump and restore it with pg_restore (see the operations docs)", command)
	}
	if cfg.StorageBackend != "local" {
		return fmt.Errorf("echogen %s covers local media (STORAGE_BACKEND=local) only; with STORAGE_BACKEND=%s copy the buckets with a bucket sync (e.g. rclone sync or aws s3 sync; see the operations docs)", command, cfg.StorageBackend)
	}
	return nil
}

// Backup writes a backup of the SQLite database and the local media folder
// and returns the archive's path and manifest. It is safe while the server
// runs: the database is copied with VACUUM INTO, a consistent snapshot, and
// media objects are only ever replaced by rename.
func Backup(ctx context.Context, cfg *config.Config, opts BackupOptions) (string, *Manifest, error) {
	if err := localOnly(cfg, "backup"); err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(cfg.SQLitePath()); err != nil {
		return "", nil, fmt.Errorf("backup: no database to back up at %s (is DATA_DIR right?): %w", cfg.SQLitePath(), err)
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(cfg.DataDir, "backups", "echogen-"+opts.Now.UTC().Format("20060102T150405Z")+".tar.gz")
	}
	if _, err := os.Stat(out); err == nil {
		return "", nil, fmt.Errorf("backup: %s already exists", out)
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	staging, err := os.MkdirTemp(dir, ".echogen-backup-*")
	if err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(staging)

	dbCopy := filepath.Join(staging, backupDatabaseEntry)
	version, err := snapshotDatabase(ctx, cfg.SQLitePath(), dbCopy)
	if err != nil {
		return "", nil, err
	}
	m := &Manifest{Format: BackupFormat, CreatedAt: opts.Now.UTC(), SchemaVersion: version}

	f, err := os.CreateTemp(dir, ".echogen-backup-*.partial")
	if err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	tmp, done := f.Name(), false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	entry, err := addFile(tw, backupDatabaseEntry, dbCopy, opts.Now)
	if err != nil {
		return "", nil, err
	}
	m.Files = append(m.Files, entry)
	err = filepath.WalkDir(cfg.MediaDir(), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == cfg.MediaDir() {
			return fs.SkipAll // no media yet
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n := d.Name(); strings.HasPrefix(n, ".put-") || strings.HasPrefix(n, ".ready-") {
			return nil // an upload in progress or a readiness probe
		}
		rel, err := filepath.Rel(cfg.MediaDir(), p)
		if err != nil {
			return err
		}
		name := backupMediaPrefix + filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (symlinks are not backed up)", p)
		}
		if err := checkArchivePath(name); err != nil {
			return err
		}
		entry, err := addFile(tw, name, p, opts.Now)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, entry)
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("backup media: %w", err)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: backupManifestEntry, Mode: 0o600, Size: int64(len(manifest)), ModTime: opts.Now, Typeflag: tar.TypeReg}); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(manifest); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	if err := errors.Join(tw.Close(), gz.Close(), f.Sync(), f.Close()); err != nil {
		return "", nil, fmt.Errorf("backup: write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	done = true
	syncDir(dir)
	return out, m, nil
}

// snapshotDatabase copies the database at src to dst with VACUUM INTO and
// returns the copy's goose schema version.
func snapshotDatabase(ctx context.Context, src, dst string) (int64, error) {
	db, err := sqlite.Open(ctx, src)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	_, err = db.Write.ExecContext(ctx, `VACUUM INTO ?`, dst)
	db.Close()
	if err != nil {
		return 0, fmt.Errorf("backup: copy the database: %w", err)
	}
	snap, err := sql.Open("sqlite", dst)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer snap.Close()
	version, err := schemaVersion(ctx, snap)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return version, nil
}

// schemaVersion is the highest applied goose migration.
func schemaVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v.Int64, nil
}

// addFile streams the file at src into tw as name, hashing it on the way.
func addFile(tw *tar.Writer, name, src string, now time.Time) (ManifestFile, error) {
	f, err := os.Open(src)
	if err != nil {
		return ManifestFile{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ManifestFile{}, err
	}
	mod := st.ModTime()
	if mod.IsZero() {
		mod = now
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return ManifestFile{}, fmt.Errorf("add %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(tw, io.TeeReader(f, h))
	if err != nil {
		return ManifestFile{}, fmt.Errorf("add %s: %w", name, err)
	}
	if n != st.Size() {
		return ManifestFile{}, fmt.Errorf("add %s: the file changed while it was copied", name)
	}
	return ManifestFile{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// checkArchivePath accepts only the names a backup holds: database.db,
// manifest.json and media/<bucket>/<key…>, clean, relative and local.
func checkArchivePath(name string) error {
	bad := func(why string) error { return fmt.Errorf("archive entry %q refused: %s", name, why) }
	switch {
	case name == "" || strings.HasPrefix(name, "/") || filepath.IsAbs(name):
		return bad("absolute path")
	case strings.ContainsAny(name, "\\\x00"):
		return bad("unexpected character")
	case name == ".." || strings.HasPrefix(name, "../") || strings.HasSuffix(name, "/..") || strings.Contains(name, "/../"):
		return bad("path escapes the data folder")
	case path.Clean(name) != name || !filepath.IsLocal(filepath.FromSlash(name)):
		return bad("path is not clean")
	case name == backupDatabaseEntry || name == backupManifestEntry:
		return nil
	case strings.HasPrefix(name, backupMediaPrefix) && strings.Count(name, "/") >= 2:
		return nil
	}
	return bad("not part of an EchoGen backup")
}

// archiveEntries reads the archive at from and calls fn for each regular
// file with its (checked) name and contents. Anything else refuses the
// archive.
func archiveEntries(ctx context.Context, from string, fn func(name string, size int64, r io.Reader) error) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip'd backup: %w", err)
	}
	tr := tar.NewReader(gz)
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if err := checkArchivePath(h.Name); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("archive entry %q refused: only regular files are allowed (no links or folders)", h.Name)
		}
		if seen[h.Name] {
			return fmt.Errorf("archive entry %q appears twice", h.Name)
		}
		seen[h.Name] = true
		if err := fn(h.Name, h.Size, tr); err != nil {
			return err
		}
	}
	// Reading gzip to the end checks its CRC.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	return nil
}

// VerifyBackup checks every file of the archive against its manifest, size
// and SHA-256, and that nothing is missing or extra. It writes nothing.
func VerifyBackup(ctx context.Context, from string) (*Manifest, error) {
	var m *Manifest
	got := map[string]ManifestFile{}
	err := archiveEntries(ctx, from, func(name string, size int64, r io.Reader) error {
		if name == backupManifestEntry {
			if size > maxManifestBytes {
				return errors.New("manifest.json is too large")
			}
			m = &Manifest{}
			if err := json.NewDecoder(r).Decode(m); err != nil {
				return fmt.Errorf("manifest.json: %w", err)
			}
			return nil
		}
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		got[name] = ManifestFile{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup %s is not usable: %w", from, err)
	}
	if err := checkManifest(m, got); err != nil {
		return nil, fmt.Errorf("backup %s is not usable: %w", from, err)
	}
	return m, nil
}

func checkManifest(m *Manifest, got map[string]ManifestFile) error {
	if m == nil {
		return errors.New("it has no manifest.json")
	}
	if m.Format != BackupFormat {
		return fmt.Errorf("manifest format %d is not %d; use the echogen version that made it", m.Format, BackupFormat)
	}
	listed := map[string]bool{}
	var problems []string
	for _, want := range m.Files {
		if err := checkArchivePath(want.Path); err != nil || want.Path == backupManifestEntry {
			problems = append(problems, fmt.Sprintf("manifest lists an invalid path %q", want.Path))
			continue
		}
		if listed[want.Path] {
			problems = append(problems, fmt.Sprintf("manifest lists %s twice", want.Path))
			continue
		}
		listed[want.Path] = true
		have, ok := got[want.Path]
		switch {
		case !ok:
			problems = append(problems, want.Path+" is missing")
		case have.Size != want.Size:
			problems = append(problems, fmt.Sprintf("%s has %d bytes, the manifest says %d", want.Path, have.Size, want.Size))
		case have.SHA256 != want.SHA256:
			problems = append(problems, want.Path+" does not match its SHA-256")
		}
	}
	var extra []string
	for name := range got {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, name+" is not in the manifest")
	}
	if !listed[backupDatabaseEntry] {
		problems = append(problems, "it holds no database.db")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Restore puts a backup's database and media in DATA_DIR. It verifies the
// whole archive first and writes nothing if any file is wrong; it refuses
// to replace an existing database without opts.Force. The files are
// extracted into a sibling temporary folder and renamed into place, so a
// failure leaves the previous data where it was (or, when forced, beside
// it as *.before-restore-<time>). Stop the server first.
func Restore(ctx context.Context, cfg *config.Config, opts RestoreOptions) (*RestoreResult, error) {
	if err := localOnly(cfg, "restore"); err != nil {
		return nil, err
	}
	dbPath, mediaDir := cfg.SQLitePath(), cfg.MediaDir()
	if _, err := os.Stat(dbPath); err == nil && !opts.Force {
		return nil, fmt.Errorf("restore: DATA_DIR %s already holds a database (%s); stop the server and pass --force to replace it (the current data is kept as *.before-restore-<time>)", cfg.DataDir, dbPath)
	}
	m, err := VerifyBackup(ctx, opts.From)
	if err != nil {
		return nil, err
	}
	want := map[string]ManifestFile{}
	for _, f := range m.Files {
		want[f.Path] = f
	}

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	staging, err := os.MkdirTemp(cfg.DataDir, ".restore-*")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(staging)
	newDB, newMedia := filepath.Join(staging, "echogen.db"), filepath.Join(staging, "media")
	if err := os.Mkdir(newMedia, 0o750); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	err = archiveEntries(ctx, opts.From, func(name string, _ int64, r io.Reader) error {
		if name == backupManifestEntry {
			return nil
		}
		dst := newDB
		if name != backupDatabaseEntry {
			dst = filepath.Join(newMedia, filepath.FromSlash(strings.TrimPrefix(name, backupMediaPrefix)))
		}
		return extractFile(dst, r, want[name])
	})
	if err != nil {
		return nil, fmt.Errorf("restore: %w (nothing was changed)", err)
	}
	syncDir(staging)

	stamp := ".before-restore-" + opts.Now.UTC().Format("20060102T150405Z")
	var moves [][2]string // done so far, to undo on failure
	move := func(from, to string) error {
		if err := os.Rename(from, to); err != nil {
			return err
		}
		moves = append(moves, [2]string{from, to})
		return nil
	}
	undo := func(err error) error {
		for i := len(moves) - 1; i >= 0; i-- {
			if uerr := os.Rename(moves[i][1], moves[i][0]); uerr != nil {
				err = errors.Join(err, fmt.Errorf("put %s back: %w", moves[i][0], uerr))
			}
		}
		return fmt.Errorf("restore: %w", err)
	}
	res := &RestoreResult{Manifest: m}
	// Whatever is there is kept aside: the database with its WAL files
	// (named so the kept database still opens with them) and the media.
	for _, p := range [][2]string{
		{dbPath, dbPath + stamp},
		{dbPath + "-wal", dbPath + stamp + "-wal"},
		{dbPath + "-shm", dbPath + stamp + "-shm"},
		{mediaDir, mediaDir + stamp},
	} {
		if _, err := os.Lstat(p[0]); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if _, err := os.Lstat(p[1]); err == nil {
			return nil, undo(fmt.Errorf("%s already exists", p[1]))
		}
		if err := move(p[0], p[1]); err != nil {
			return nil, undo(err)
		}
		res.KeptAside = append(res.KeptAside, p[1])
	}
	if err := move(newDB, dbPath); err != nil {
		return nil, undo(err)
	}
	if err := move(newMedia, mediaDir); err != nil {
		return nil, undo(err)
	}
	syncDir(cfg.DataDir)
	return res, nil
}

// extractFile writes r to a new file at dst, checking it against want on
// the way (the archive could have changed since it was verified).
func extractFile(dst string, r io.Reader, want ManifestFile) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var h hash.Hash = sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", want.Path, err)
	}
	if n != want.Size || hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
		return fmt.Errorf("%s changed since it was verified", want.Path)
	}
	return nil
}

// syncDir makes renames in dir durable, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// Local keeps objects on the local disk, one file per object at
// root/<bucket>/<key> (see objectfile.go for the file's layout).
type Local struct {
	root    string
	signer  *Signer
	buckets map[string]bool
}

var _ echogen.BlobStore = (*Local)(nil)

// NewLocal returns a store rooted at root that accepts the named buckets,
// creating their folders. signer signs the URLs SignedURL returns and
// checks them in Handler; its clock also stamps objects' modification
// times.
func NewLocal(root string, signer *Signer, buckets ...string) (*Local, error) {
	if signer == nil {
		return nil, errors.New("local media store: a URL signer is required")
	}
	if len(buckets) == 0 {
		return nil, errors.New("local media store: no buckets")
	}
	l := &Local{root: root, signer: signer, buckets: map[string]bool{}}
	for _, b := range buckets {
		if !validBucketName(b) {
			return nil, fmt.Errorf("local media store: invalid bucket name %q", b)
		}
		if err := os.MkdirAll(filepath.Join(root, b), 0o750); err != nil {
			return nil, fmt.Errorf("create media folder: %w", err)
		}
		l.buckets[b] = true
	}
	return l, nil
}

// path returns the file of bucket/key after checking both.
func (l *Local) path(bucket, key string) (string, error) {
	if !l.buckets[bucket] {
		return "", unknownBucket(bucket)
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, bucket, filepath.FromSlash(key)), nil
}

// Put streams r into a temporary file next to the object, then syncs and
// renames it into place, so readers see the old object or the whole new
// one, never a part. On any error, or when ctx ends first, the temporary
// file is removed and the old object (if any) stays.
func (l *Local) Put(ctx context.Context, bucket, key string, r io.Reader, contentType string) (int64, error) {
	path, err := l.path(bucket, key)
	if err != nil {
		return 0, err
	}
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := createTemp(filepath.Dir(path))
	if err != nil {
		return 0, err
	}
	tmp, done := f.Name(), false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()

	sum := sha256.New()
	if _, err := f.Seek(headerSize, io.SeekStart); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	n, err := io.Copy(f, io.TeeReader(ctxReader{ctx, r}, sum))
	if err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	h := objectHeader{size: n, contentType: ct}
	sum.Sum(h.sum[:0])
	if _, err := f.WriteAt(h.marshal(), 0); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	now := l.signer.clock.Now()
	if err := os.Chtimes(tmp, now, now); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	if err := ctx.Err(); err != nil { // last chance to back out
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		if isDirConflict(err) {
			return 0, keyConflict()
		}
		return 0, fmt.Errorf("put object: %w", err)
	}
	done = true
	syncDir(filepath.Dir(path))
	return n, nil
}

// createTemp makes dir and a temporary file in it. A concurrent Delete may
// remove the folder between the two steps once it is empty, so this tries a
// few times.
func createTemp(dir string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			if isDirConflict(err) {
				return nil, keyConflict()
			}
			return nil, fmt.Errorf("put object: %w", err)
		}
		f, err := os.CreateTemp(dir, ".put-*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return nil, fmt.Errorf("put object: %w", err)
		}
	}
}

// isDirConflict reports an error from a key that, on disk, needs a file
// where a folder is or the reverse: "a" and "a/b" cannot both be objects
// here, although S3 allows it.
func isDirConflict(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.EEXIST) // os.Rename's answer for a folder in the way
}

func keyConflict() error {
	return echogen.Errorf(echogen.KindConflict, "key_conflict", "object key clashes with an existing key's folder")
}

// syncDir makes a rename in dir durable. It is best effort: the object is
// already complete and visible.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// localObject reads an object's content; it can also seek, which
// http.ServeContent needs.
type localObject struct {
	*io.SectionReader
	f *os.File
}

func (o *localObject) Close() error { return o.f.Close() }

// Open reads an object. The returned reader also implements io.Seeker and
// io.ReaderAt.
func (l *Local) Open(ctx context.Context, bucket, key string) (io.ReadCloser, *echogen.BlobInfo, error) {
	o, info, err := l.open(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	return o, info, nil
}

func (l *Local) open(ctx context.Context, bucket, key string) (*localObject, *echogen.BlobInfo, error) {
	path, err := l.path(bucket, key)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil, echogen.NotFound("Object")
		}
		return nil, nil, fmt.Errorf("open object: %w", err)
	}
	info, err := statFile(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &localObject{SectionReader: io.NewSectionReader(f, headerSize, info.Size), f: f}, info, nil
}

func statFile(f *os.File) (*echogen.BlobInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat object: %w", err)
	}
	if !st.Mode().IsRegular() { // a folder of longer keys, not an object
		return nil, echogen.NotFound("Object")
	}
	h, err := readHeader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", filepath.Base(f.Name()), err)
	}
	return &echogen.BlobInfo{
		Size:        h.size,
		ContentType: h.contentType,
		ModTime:     st.ModTime().UTC(),
		ETag:        h.etag(),
	}, nil
}

// Stat describes an object.
func (l *Local) Stat(ctx context.Context, bucket, key string) (*echogen.BlobInfo, error) {
	o, info, err := l.open(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	o.Close()
	return info, nil
}

// Delete removes an object and then the folders it leaves empty.
func (l *Local) Delete(ctx context.Context, bucket, key string) error {
	path, err := l.path(bucket, key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		return nil // missing, or a folder of longer keys: no such object
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete object: %w", err)
	}
	l.pruneEmpty(bucket, filepath.Dir(path))
	return nil
}

// pruneEmpty removes dir and its parents while they are empty, stopping at
// the bucket's folder. Failing is fine: a folder that is not empty stays.
func (l *Local) pruneEmpty(bucket, dir string) {
	top := filepath.Join(l.root, bucket)
	for dir != top && strings.HasPrefix(dir, top+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// DeletePrefix removes every object whose key starts with prefix and
// returns how many it removed. Uploads still in progress under the prefix
// are removed too (uncounted), so they fail instead of landing after the
// purge.
func (l *Local) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	if !l.buckets[bucket] {
		return 0, unknownBucket(bucket)
	}
	if err := validatePrefix(prefix); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A prefix ends inside a name ("u/ab" matches "u/abc.mp3" and "u/ab/x"):
	// list the folder it points into and take the names that start with the
	// rest.
	parent, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		parent, namePrefix = prefix[:i], prefix[i+1:]
	}
	dir := filepath.Join(l.root, bucket, filepath.FromSlash(parent))
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return 0, nil
		}
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), namePrefix) {
			continue
		}
		n, err := removeTree(ctx, filepath.Join(dir, e.Name()))
		removed += n
		if err != nil {
			return removed, fmt.Errorf("delete objects: %w", err)
		}
	}
	l.pruneEmpty(bucket, dir)
	return removed, nil
}

// removeTree removes the files under path (or path itself), counting the
// objects among them, then the folders that end up empty. Files created
// meanwhile keep their folder alive rather than vanish uncounted.
func removeTree(ctx context.Context, path string) (int, error) {
	removed := 0
	var dirs []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !strings.HasPrefix(d.Name(), ".") { // not an upload in progress
			removed++
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // deepest first; fails harmlessly when not empty
	}
	return removed, err
}

// SignedURL returns a relative /media/… URL, served by Handler, that reads
// the object until ttl has passed.
func (l *Local) SignedURL(ctx context.Context, bucket, key string, ttl time.Duration, download bool) (string, error) {
	if _, err := l.path(bucket, key); err != nil {
		return "", err
	}
	return l.signer.SignedURL(bucket, key, ttl, download)
}

// Ping checks that every bucket's folder is there and the root writable.
func (l *Local) Ping(ctx context.Context) error {
	for b := range l.buckets {
		if st, err := os.Stat(filepath.Join(l.root, b)); err != nil || !st.IsDir() {
			return fmt.Errorf("media folder for bucket %q is missing: %w", b, errOr(err, fs.ErrNotExist))
		}
	}
	f, err := os.CreateTemp(l.root, ".ready-*")
	if err != nil {
		return fmt.Errorf("media folder not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// Package blob stores media objects (audio, cover art, transcripts, uploads).
package blob

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/echogen/server/internal/echogen"
)

// Local keeps objects on the local disk under root, one folder per bucket
// and, inside it, one folder per user: root/<bucket>/<user id>/...
type Local struct {
	root    string
	buckets []string
}

// NewLocal returns a local store rooted at root, creating the bucket folders.
func NewLocal(root string, buckets ...string) (*Local, error) {
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(root, b), 0o750); err != nil {
			return nil, fmt.Errorf("create media folder: %w", err)
		}
	}
	return &Local{root: root, buckets: buckets}, nil
}

// DeleteUserObjects deletes every object of the user in every bucket.
func (l *Local) DeleteUserObjects(ctx context.Context, userID string) (int, error) {
	if !echogen.IsID(userID) { // never let an odd id reach a path
		return 0, fmt.Errorf("delete user objects: invalid user id")
	}
	deleted := 0
	for _, b := range l.buckets {
		dir := filepath.Join(l.root, b, userID)
		err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				deleted++
			}
			return ctx.Err()
		})
		if err != nil && !os.IsNotExist(err) {
			return deleted, fmt.Errorf("delete user objects: %w", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return deleted, fmt.Errorf("delete user objects: %w", err)
		}
	}
	return deleted, nil
}

// Ping checks that the media folder is there and writable.
func (l *Local) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(l.root, ".ready-*")
	if err != nil {
		return fmt.Errorf("media folder not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

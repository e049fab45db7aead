package blob

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/echogen/server/internal/echogen"
)

func TestLocalDeleteUserObjects(t *testing.T) {
	root := t.TempDir()
	store, err := NewLocal(root, "podcast-audio", "cover-art")
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := echogen.NewID(), echogen.NewID()
	files := []string{
		filepath.Join("podcast-audio", alice, "a.mp3"),
		filepath.Join("podcast-audio", alice, "sub", "b.mp3"),
		filepath.Join("cover-art", alice, "c.png"),
		filepath.Join("cover-art", bob, "d.png"),
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want int
	}{{"first run deletes alice's three objects", 3}, {"second run finds none", 0}} {
		n, err := store.DeleteUserObjects(ctx, alice)
		if err != nil || n != tc.want {
			t.Fatalf("%s: got %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "cover-art", bob, "d.png")); err != nil {
		t.Fatalf("bob's object must stay: %v", err)
	}
	if _, err := store.DeleteUserObjects(ctx, "../etc"); err == nil {
		t.Fatal("a path-like user id must be refused")
	}
	if err := store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

package echogen_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsPointInward keeps the layering of DESIGN.md: the domain
// imports only the standard library, and the HTTP layer never reaches a
// store or an outside system's package directly.
func TestImportsPointInward(t *testing.T) {
	rules := []struct {
		dir       string
		forbidden func(path string) bool
		why       string
	}{
		{"internal/echogen", func(p string) bool { return strings.Contains(strings.Split(p, "/")[0], ".") }, "the domain imports only the standard library"},
		{"internal/httpapi", func(p string) bool {
			for _, f := range []string{"internal/sqlite", "internal/postgres", "internal/sqlstore", "internal/auth", "internal/jobs", "github.com/jackc/", "modernc.org/", "github.com/riverqueue/"} {
				if strings.Contains(p, f) {
					return true
				}
			}
			return false
		}, "handlers call domain services, never stores, queues or auth internals"},
	}
	root := filepath.Join("..", "..")
	for _, r := range rules {
		dir := filepath.Join(root, r.dir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if r.forbidden(path) {
					t.Errorf("%s/%s imports %s: %s", r.dir, name, path, r.why)
				}
			}
		}
	}
}

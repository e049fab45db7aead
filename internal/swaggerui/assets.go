package swaggerui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
)

// assetFiles holds the few files of swagger-ui-dist the page loads; see
// assets/README.md for where they come from. An embed.FS is read-only.
//
//go:embed assets/swagger-ui-bundle.js assets/swagger-ui.css assets/favicon-32x32.png
var assetFiles embed.FS

// file is one response body, ready to serve.
type file struct {
	contentType string
	etag        string
	data        []byte
}

func newFile(contentType string, data []byte) file {
	sum := sha256.Sum256(data)
	return file{
		contentType: contentType,
		etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		data:        data,
	}
}

// loadAssets reads the embedded assets, keyed by name, with a version
// string that changes whenever any of them does, for cache busting.
func loadAssets() (map[string]file, string, error) {
	assets := []struct{ name, contentType string }{
		{"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
		{"swagger-ui.css", "text/css; charset=utf-8"},
		{"favicon-32x32.png", "image/png"},
	}
	files := make(map[string]file, len(assets))
	h := sha256.New()
	for _, a := range assets {
		data, err := assetFiles.ReadFile("assets/" + a.name)
		if err != nil {
			return nil, "", fmt.Errorf("swaggerui: %w", err)
		}
		f := newFile(a.contentType, data)
		files[a.name] = f
		h.Write([]byte(f.etag))
	}
	return files, hex.EncodeToString(h.Sum(nil)[:6]), nil
}

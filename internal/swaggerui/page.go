package swaggerui

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

// indexHTML is our page, not swagger-ui-dist's: theirs loads a demo spec
// from the internet.
//
//go:embed index.html
var indexHTML string

// renderPage fills in the page. base is the last element of the handler's
// prefix ("docs" for "/docs"): the page lives at /docs, so "docs/x"
// resolves to /docs/x, whatever path a proxy mounts the server under.
func renderPage(base, specURL, version string) ([]byte, error) {
	tmpl, err := template.New("index.html").Parse(indexHTML)
	if err != nil {
		return nil, fmt.Errorf("swaggerui: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, struct{ Base, SpecURL, Version string }{base, specURL, version})
	if err != nil {
		return nil, fmt.Errorf("swaggerui: %w", err)
	}
	return buf.Bytes(), nil
}

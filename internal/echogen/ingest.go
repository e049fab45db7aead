package echogen

import (
	"context"
	"io"
	"strings"
	"time"
)

// Document is text pulled out of a web page, a file or a scraping service,
// as Markdown with what is known about its source.
type Document struct {
	Title       string
	Markdown    string
	URL         string // the final URL, after redirects; "" for files and text
	SiteName    string
	Author      string
	Published   *time.Time
	Language    string // BCP 47, when the source says
	ContentType string // of the source: text/html, application/pdf, …
	Excerpt     string
}

// Fetcher turns sources into Documents with the server's own code.
type Fetcher interface {
	// FetchURL downloads a page or file safely (no private addresses, capped
	// size and time) and extracts it.
	FetchURL(ctx context.Context, url string) (*Document, error)
	// Extract reads a file's text: HTML, PDF, DOCX, Markdown or plain text.
	Extract(ctx context.Context, r io.Reader, contentType, filename string) (*Document, error)
}

// Scraper is an outside scraping service (Firecrawl, Hyperbrowser) used
// with the user's key.
type Scraper interface {
	Scrape(ctx context.Context, apiKey, url string) (*Document, error)
}

// storable drops what no database keeps: NUL characters (PostgreSQL's text
// refuses them) and invalid UTF-8, which pages, PDFs and scrapers can
// carry.
func (d *Document) storable() *Document {
	out := *d
	for _, f := range []*string{&out.Title, &out.Markdown, &out.URL, &out.SiteName, &out.Author, &out.Language, &out.ContentType, &out.Excerpt} {
		*f = strings.ToValidUTF8(strings.ReplaceAll(*f, "\x00", ""), "\uFFFD")
	}
	return &out
}

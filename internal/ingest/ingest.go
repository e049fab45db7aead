// Package ingest fetches web pages and files safely and turns them into
// Markdown documents: readable HTML articles, PDF, DOCX, Markdown and plain
// text. It implements echogen.Fetcher.
package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// Content types the Fetcher reads.
const (
	typeHTML     = "text/html"
	typeXHTML    = "application/xhtml+xml"
	typeText     = "text/plain"
	typeMarkdown = "text/markdown"
	typePDF      = "application/pdf"
	typeDOCX     = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
)

// Defaults for Options left zero.
const (
	DefaultMaxBytes     = 10 << 20
	DefaultTimeout      = 20 * time.Second
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "Mozilla/5.0 (compatible; EchoGen/1.0; +https://echogen.ai/bot)"
)

// Options configure a Fetcher. The zero value is safe for production.
type Options struct {
	// MaxBytes caps a downloaded body (after content decoding); a larger
	// one fails with KindTooLarge. Default 10 MiB.
	MaxBytes int64
	// Timeout bounds a whole download: connecting, redirects and reading
	// the body. Default 20 s.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed. Default 5.
	MaxRedirects int
	// UserAgent is sent with every request. Default DefaultUserAgent.
	UserAgent string

	// AllowPrivate turns OFF the address guard: loopback, private,
	// link-local, metadata and other reserved addresses become reachable.
	//
	// !!! FOR TESTS ONLY, so a test can fetch from its own httptest server
	// on 127.0.0.1. Never set it in a server: it lets any user make this
	// server fetch http://169.254.169.254/ (cloud credentials), databases
	// and admin panels on the private network. Off by default. !!!
	AllowPrivate bool

	// Resolver looks up host names; nil uses net.DefaultResolver. A
	// *net.Resolver fits; tests use ResolverFunc to make a name resolve to
	// a private address. Every address it returns is still checked.
	Resolver Resolver

	// PDFToText is the path of poppler's pdftotext, preferred over the
	// built-in PDF reader when set. "" looks for it on PATH in New.
	PDFToText string
	// NoPDFToText always uses the built-in PDF reader.
	NoPDFToText bool
}

// Fetcher downloads and extracts documents. It is safe for concurrent use.
type Fetcher struct {
	client       *http.Client
	guard        *guard
	maxBytes     int64
	timeout      time.Duration
	maxRedirects int
	userAgent    string
	pdftotext    string
}

var _ echogen.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher with opts, zero fields taking their defaults.
func New(opts Options) *Fetcher {
	f := &Fetcher{
		maxBytes:     opts.MaxBytes,
		timeout:      opts.Timeout,
		maxRedirects: opts.MaxRedirects,
		userAgent:    opts.UserAgent,
	}
	if f.maxBytes <= 0 {
		f.maxBytes = DefaultMaxBytes
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.maxRedirects <= 0 {
		f.maxRedirects = DefaultMaxRedirects
	}
	if f.userAgent == "" {
		f.userAgent = DefaultUserAgent
	}
	if !opts.NoPDFToText {
		f.pdftotext = opts.PDFToText
		if f.pdftotext == "" {
			f.pdftotext, _ = exec.LookPath("pdftotext") // optional: "" falls back
		}
	}
	f.guard = newGuard(opts.Resolver, opts.AllowPrivate)
	f.client = f.newClient()
	return f
}

// Extract reads a file's text. contentType may be empty or generic
// (application/octet-stream); the type is then told from the first bytes and
// the file name. The caller caps r's size (uploads are capped when stored).
func (f *Fetcher) Extract(ctx context.Context, r io.Reader, contentType, filename string) (*echogen.Document, error) {
	var head []byte
	if file, ok := r.(*os.File); ok {
		// Peek without wrapping, so the PDF and DOCX readers can use the
		// file in place.
		buf := make([]byte, 512)
		pos, _ := file.Seek(0, io.SeekCurrent)
		n, _ := file.ReadAt(buf, pos)
		head = buf[:n]
	} else {
		br := bufio.NewReaderSize(r, 4096)
		head, _ = br.Peek(512) // a short file peeks less; errors surface on read
		r = br
	}
	ct, params := detectType(contentType, head, filename)
	src := source{name: displayName(filename), file: path.Base(filename), charset: params["charset"]}
	if filename == "" {
		src.file = ""
	}
	return f.extract(ctx, r, ct, src)
}

// source is what is known about a document besides its bytes.
type source struct {
	name    string // how messages name it: the quoted file name or the URL
	file    string // base file name, or the URL's last path segment; may be ""
	url     string // final URL of a fetched page
	charset string // from the Content-Type header
}

func (f *Fetcher) extract(ctx context.Context, r io.Reader, ct string, src source) (*echogen.Document, error) {
	var (
		doc *echogen.Document
		err error
	)
	switch ct {
	case typeHTML, typeXHTML:
		doc, err = extractHTML(r, src)
	case typePDF:
		doc, err = f.extractPDF(ctx, r, src)
	case typeDOCX:
		doc, err = extractDOCX(ctx, r, src)
	case typeMarkdown:
		doc, err = extractText(r, src, true)
	case typeText:
		doc, err = extractText(r, src, false)
	default:
		return nil, unsupportedType(ct)
	}
	if err != nil {
		return nil, err
	}
	doc.ContentType = ct
	doc.URL = src.url
	// No-break spaces only keep words on one line, which a listener
	// cannot see; plain spaces are simpler for everything downstream.
	if strings.ContainsAny(doc.Markdown, "\u00a0\u202f\u2007") { // Replace copies even when nothing matches
		doc.Markdown = noBreakSpaces.Replace(doc.Markdown)
	}
	doc.Markdown = strings.TrimSpace(doc.Markdown)
	if !hasWords(doc.Markdown) {
		return nil, echogen.Errorf(echogen.KindInvalid, "no_text", "no readable text found in %s", src.name)
	}
	if doc.Title == "" {
		doc.Title = fallbackTitle(src)
	}
	if doc.Title == "" {
		doc.Title = firstLine(doc.Markdown)
	}
	if doc.Excerpt == "" {
		doc.Excerpt = excerpt(doc.Markdown, doc.Title)
	}
	return doc, nil
}

// detectType returns the media type to extract as and its parameters. A
// declared specific type wins; generic or missing ones are sniffed.
func detectType(declared string, head []byte, filename string) (string, map[string]string) {
	ext := strings.ToLower(path.Ext(filename))
	ct, params, err := mime.ParseMediaType(declared)
	if err != nil {
		ct, params = "", nil
	}
	switch ct {
	case "", "application/octet-stream", "binary/octet-stream", "application/zip", "application/x-zip-compressed":
		ct = sniffType(head, ext)
	case typeText:
		// Servers and browsers label Markdown files text/plain.
		if ext == ".md" || ext == ".markdown" {
			ct = typeMarkdown
		}
	case "text/x-markdown":
		ct = typeMarkdown
	}
	return ct, params
}

// sniffType tells a type from the first bytes, and the extension where the
// bytes cannot tell (DOCX is a ZIP, Markdown is text).
func sniffType(head []byte, ext string) string {
	detected, _, _ := strings.Cut(http.DetectContentType(head), ";")
	switch {
	case detected == "application/pdf":
		return typePDF
	case detected == "application/zip" && ext == ".docx":
		return typeDOCX
	case detected == "text/html":
		return typeHTML
	case detected == "text/xml" && (ext == ".xhtml" || ext == ".html" || ext == ".htm"):
		return typeXHTML
	case strings.HasPrefix(detected, "text/plain"):
		switch ext {
		case ".md", ".markdown":
			return typeMarkdown
		case ".html", ".htm":
			return typeHTML
		}
		return typeText
	}
	return detected
}

// allowedType reports whether ct is a type the Fetcher reads.
func allowedType(ct string) bool {
	switch ct {
	case typeHTML, typeXHTML, typeText, typeMarkdown, typePDF, typeDOCX:
		return true
	}
	return false
}

func unsupportedType(ct string) error {
	if ct == "" {
		ct = "(none)"
	}
	return echogen.Errorf(echogen.KindInvalid, "unsupported_content_type",
		"unsupported content type %s: only HTML, PDF, DOCX, Markdown and plain text can be read", ct)
}

// displayName names a file in messages.
func displayName(filename string) string {
	if filename == "" {
		return "the document"
	}
	return fmt.Sprintf("%q", path.Base(filename))
}

// fallbackTitle is the file name without its extension, or "".
func fallbackTitle(src source) string {
	name := strings.TrimSuffix(src.file, path.Ext(src.file))
	return strings.TrimSpace(strings.NewReplacer("_", " ", "-", " ").Replace(name))
}

// hasWords reports whether s holds at least one letter or digit.
func hasWords(s string) bool {
	return strings.IndexFunc(s, isWordRune) >= 0
}

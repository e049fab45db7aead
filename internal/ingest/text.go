package ingest

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/echogen/server/internal/echogen"
)

// extractText reads plain text or Markdown. The title is the first heading,
// or else the first line.
func extractText(r io.Reader, src source, markdown bool) (*echogen.Document, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ingest: read %s: %w", src.name, err)
	}
	text := string(decodeWith(raw, textEncoding(raw, src.charset, nil)))
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	doc := &echogen.Document{Markdown: text}
	if markdown {
		doc.Title, doc.Markdown = markdownTitle(text)
	} else {
		doc.Title = firstLine(text)
	}
	return doc, nil
}

// markdownTitle returns the first heading and the text, YAML front matter
// removed (its title wins when present).
func markdownTitle(md string) (title, body string) {
	body = md
	if strings.HasPrefix(md, "---\n") {
		if end := strings.Index(md[4:], "\n---\n"); end >= 0 {
			front := md[4 : 4+end]
			body = md[4+end+5:]
			for _, line := range strings.Split(front, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "title" {
					title = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
		}
	}
	if title == "" {
		title = firstHeading(body)
	}
	if title == "" {
		title = firstLine(body)
	}
	return title, body
}

// firstHeading returns the text of the first ATX heading in md.
func firstHeading(md string) string {
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			h := strings.TrimLeft(t, "#")
			if h == "" || h[0] == ' ' || h[0] == '\t' {
				if h = strings.TrimSpace(strings.TrimRight(h, "# ")); h != "" {
					return h
				}
			}
		}
	}
	return ""
}

// firstLine returns the first non-blank line, cut to a title's length.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = cleanSpace(strings.TrimLeft(line, "#>*-+ \t"))
		if !hasWords(line) {
			continue
		}
		const maxTitle = 120
		if utf8.RuneCountInString(line) > maxTitle {
			r := []rune(line)[:maxTitle]
			if i := strings.LastIndexByte(string(r), ' '); i > maxTitle/2 {
				return string(r[:i]) + "…"
			}
			return string(r) + "…"
		}
		return line
	}
	return ""
}

// metaCharset finds <meta charset> or <meta http-equiv content="…charset=…">
// anywhere in a page's head, not only its first 1024 bytes.
var metaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)`)

// decodeHTML converts a page to UTF-8: byte-order mark, then the
// Content-Type charset, then <meta>, then UTF-8 if it is valid, else
// windows-1252 (what browsers assume for unlabelled legacy pages).
func decodeHTML(raw []byte, headerCharset string) []byte {
	head := raw[:min(len(raw), 64<<10)]
	return decodeWith(raw, textEncoding(raw, headerCharset, func() string {
		m := metaCharset.FindSubmatch(head)
		if m == nil {
			return ""
		}
		label := strings.ToLower(string(m[1]))
		if strings.HasPrefix(label, "utf-16") { // a meta tag cannot be UTF-16 (WHATWG)
			return "utf-8"
		}
		return label
	}))
}

// textEncoding picks the encoding of raw; meta, when not nil, reads a label
// from the document itself.
func textEncoding(raw []byte, headerCharset string, meta func() string) encoding.Encoding {
	switch {
	case bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}):
		return xunicode.UTF8BOM
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		return xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM)
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		return xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM)
	}
	if e, _ := charset.Lookup(headerCharset); e != nil {
		return e
	}
	if meta != nil {
		if e, _ := charset.Lookup(meta()); e != nil {
			return e
		}
	}
	if utf8.Valid(raw) {
		return encoding.Nop
	}
	e, _ := charset.Lookup("windows-1252")
	return e
}

func decodeWith(raw []byte, e encoding.Encoding) []byte {
	if e == encoding.Nop || e == xunicode.UTF8 {
		return raw
	}
	out, err := e.NewDecoder().Bytes(raw)
	if err != nil {
		return raw
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

var noBreakSpaces = strings.NewReplacer("\u00a0", " ", "\u202f", " ", "\u2007", " ")

// excerpt is the first paragraph of body text that is not the title, cut
// to a few sentences' length.
func excerpt(md, title string) string {
	inFence := false
	for block := range strings.SplitSeq(md, "\n\n") {
		block = strings.TrimSpace(block)
		fences, wasInFence := strings.Count(block, "```"), inFence
		if fences%2 == 1 {
			inFence = !inFence
		}
		if wasInFence || fences > 0 || block == "" || !startsParagraph(block) {
			continue
		}
		text := cleanSpace(markdownLinks.ReplaceAllString(block, "$1"))
		text = strings.NewReplacer("**", "", "__", "", "`", "").Replace(text)
		if text == "" || strings.EqualFold(text, title) {
			continue
		}
		const maxExcerpt = 300
		if utf8.RuneCountInString(text) <= maxExcerpt {
			return text
		}
		r := []rune(text)[:maxExcerpt]
		if i := strings.LastIndexByte(string(r), ' '); i > 0 {
			return string(r)[:i] + "…"
		}
		return string(r) + "…"
	}
	return ""
}

// startsParagraph reports whether a Markdown block is body text rather than
// a heading, list, quote or table.
func startsParagraph(block string) bool {
	if strings.ContainsAny(block[:1], "#-*>|+=") {
		return false
	}
	if i := strings.IndexAny(block, ".)"); i > 0 && i <= 3 && strings.Trim(block[:i], "0123456789") == "" {
		return false // "1. item"
	}
	return true
}

// markdownLinks matches [text](target) to keep only the text.
var markdownLinks = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

package ingest

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/echogen/server/internal/echogen"
)

// maxPartBytes caps one decompressed part of a DOCX, so a small zip bomb
// cannot make the reader chew through gigabytes.
const maxPartBytes = 256 << 20

const wordNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

// extractDOCX reads a Word document's body: paragraphs, headings (by style
// or outline level) as #, list paragraphs as "- ", and the title and author
// from docProps/core.xml.
func extractDOCX(ctx context.Context, r io.Reader, src source) (*echogen.Document, error) {
	file, size, cleanup, err := spool(r)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	zr, err := zip.NewReader(file, size)
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindInvalid, Code: "invalid_document",
			Message: src.name + " is not a readable DOCX file", Err: err}
	}
	parts := map[string]*zip.File{}
	for _, f := range zr.File {
		parts[f.Name] = f
	}
	body := parts["word/document.xml"]
	if body == nil {
		return nil, echogen.Errorf(echogen.KindInvalid, "invalid_document", "%s is not a Word document: word/document.xml is missing", src.name)
	}

	styles := map[string]docxStyle{}
	if p := parts["word/styles.xml"]; p != nil {
		_ = readPart(p, src, func(d *xml.Decoder) error { return readStyles(d, styles) }) // optional
	}
	doc := &echogen.Document{}
	if p := parts["docProps/core.xml"]; p != nil {
		_ = readPart(p, src, func(d *xml.Decoder) error { return readCore(d, doc) }) // optional
	}
	var md strings.Builder
	err = readPart(body, src, func(d *xml.Decoder) error { return readBody(ctx, d, styles, &md) })
	if err != nil {
		return nil, err
	}
	doc.Markdown = md.String()
	if doc.Title == "" {
		doc.Title = firstHeading(doc.Markdown)
	}
	return doc, nil
}

// readPart decodes one XML part of the archive, capped at maxPartBytes.
func readPart(f *zip.File, src source, read func(*xml.Decoder) error) error {
	if f.UncompressedSize64 > maxPartBytes {
		return echogen.Errorf(echogen.KindTooLarge, "document_too_large", "%s is too large to read (%s is %d MB)", src.name, f.Name, f.UncompressedSize64>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return &echogen.Error{Kind: echogen.KindInvalid, Code: "invalid_document", Message: src.name + " is not a readable DOCX file", Err: err}
	}
	defer rc.Close()
	// The header's size can lie; the limit holds whatever it says.
	d := xml.NewDecoder(io.LimitReader(rc, maxPartBytes))
	if err := read(d); err != nil {
		var coded *echogen.Error
		if errors.As(err, &coded) {
			return err
		}
		return &echogen.Error{Kind: echogen.KindInvalid, Code: "invalid_document",
			Message: fmt.Sprintf("%s is not a readable DOCX file: %s", src.name, f.Name), Err: err}
	}
	return nil
}

// docxStyle is what matters of a paragraph style.
type docxStyle struct {
	heading int // 1–6, 0 for body text
	list    bool
}

// readStyles maps style ids to heading levels and list styles, by name
// ("heading 2", "Title", "List Bullet") or outline level, so localized style
// ids ("berschrift2") work too.
func readStyles(d *xml.Decoder, styles map[string]docxStyle) error {
	var id string
	var st docxStyle
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != wordNS {
				continue
			}
			switch t.Name.Local {
			case "style":
				id, st = wattr(t, "styleId"), docxStyle{}
			case "name":
				name := strings.ToLower(wattr(t, "val"))
				switch {
				case name == "title":
					st.heading = 1
				case name == "subtitle":
					st.heading = 2
				case strings.HasPrefix(name, "heading "):
					if n, err := strconv.Atoi(strings.TrimPrefix(name, "heading ")); err == nil {
						st.heading = min(max(n, 1), 6)
					}
				case strings.HasPrefix(name, "list"):
					st.list = true
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(wattr(t, "val")); err == nil && n < 9 && st.heading == 0 {
					st.heading = min(n+1, 6)
				}
			}
		case xml.EndElement:
			if t.Name.Space == wordNS && t.Name.Local == "style" && id != "" {
				styles[id] = st
			}
		}
	}
}

// readCore reads the title, author and language of docProps/core.xml.
func readCore(d *xml.Decoder, doc *echogen.Document) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var text string
		switch start.Name.Local {
		case "title", "creator", "language":
			if err := d.DecodeElement(&text, &start); err != nil {
				return err
			}
		}
		switch start.Name.Local {
		case "title":
			doc.Title = cleanSpace(text)
		case "creator":
			doc.Author = cleanSpace(text)
		case "language":
			doc.Language = normalizeLanguage(text)
		}
	}
}

// docxPara is a paragraph being read.
type docxPara struct {
	text    strings.Builder
	style   string
	list    bool
	level   int // list nesting
	outline int // direct outline level + 1, 0 when none
}

// readBody writes the paragraphs of word/document.xml as Markdown.
func readBody(ctx context.Context, d *xml.Decoder, styles map[string]docxStyle, md *strings.Builder) error {
	var stack []*docxPara // text boxes nest paragraphs inside paragraphs
	inText := false
	prevList := false
	paras := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var p *docxPara
		if len(stack) > 0 {
			p = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "Fallback" {
				// mc:Fallback repeats mc:Choice's content for old readers.
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			if t.Name.Space != wordNS {
				continue
			}
			switch t.Name.Local {
			case "p":
				stack = append(stack, &docxPara{})
			case "pStyle":
				if p != nil {
					p.style = wattr(t, "val")
				}
			case "numPr":
				if p != nil {
					p.list = true
				}
			case "ilvl":
				if p != nil {
					p.level, _ = strconv.Atoi(wattr(t, "val"))
					p.level = min(max(p.level, 0), 8)
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(wattr(t, "val")); p != nil && err == nil && n < 9 {
					p.outline = min(n+1, 6)
				}
			case "t":
				inText = true
			case "tab":
				if p != nil {
					p.text.WriteByte(' ')
				}
			case "br", "cr":
				if p != nil {
					p.text.WriteByte('\n')
				}
			}
		case xml.CharData:
			if inText && p != nil {
				p.text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Space != wordNS {
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				if p == nil {
					continue
				}
				stack = stack[:len(stack)-1]
				if paras++; paras%256 == 0 && ctx.Err() != nil {
					return context.Cause(ctx)
				}
				prevList = writePara(md, p, styles[p.style], prevList)
			}
		}
	}
}

// writePara appends one paragraph as Markdown and reports whether it was a
// list item, so consecutive items stay one list.
func writePara(md *strings.Builder, p *docxPara, st docxStyle, prevList bool) bool {
	var lines []string
	for _, line := range strings.Split(p.text.String(), "\n") {
		if line = cleanSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return prevList
	}
	text := strings.Join(lines, "\n")
	heading := st.heading
	if heading == 0 && p.outline > 0 {
		heading = p.outline
	}
	if heading == 0 {
		heading = headingFromID(p.style)
	}
	isList := heading == 0 && (p.list || st.list)
	switch {
	case md.Len() == 0:
	case isList && prevList:
		md.WriteByte('\n')
	default:
		md.WriteString("\n\n")
	}
	switch {
	case heading > 0:
		md.WriteString(strings.Repeat("#", heading) + " " + strings.ReplaceAll(text, "\n", " "))
	case isList:
		md.WriteString(strings.Repeat("  ", p.level) + "- " + strings.ReplaceAll(text, "\n", " "))
	default:
		md.WriteString(text)
	}
	return isList
}

// headingFromID reads "Heading2" or "Title" when styles.xml did not say.
func headingFromID(id string) int {
	lower := strings.ToLower(id)
	if lower == "title" {
		return 1
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(lower, "heading")); err == nil && strings.HasPrefix(lower, "heading") {
		return min(max(n, 1), 6)
	}
	return 0
}

// wattr returns a w: attribute of t.
func wattr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && (a.Name.Space == wordNS || a.Name.Space == "") {
			return a.Value
		}
	}
	return ""
}

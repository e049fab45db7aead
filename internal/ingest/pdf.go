package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"

	"github.com/echogen/server/internal/echogen"
)

// extractPDF reads a PDF's text with pdftotext when it is installed (better
// layout analysis), else with the built-in reader. The file is read from
// disk, never whole into memory.
func (f *Fetcher) extractPDF(ctx context.Context, r io.Reader, src source) (*echogen.Document, error) {
	file, size, cleanup, err := spool(r)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	doc := &echogen.Document{}
	rd, openErr := pdf.NewReader(pdf2Compat{file.ReaderAt}, size)
	if openErr == nil {
		doc.Title, doc.Author = pdfInfo(rd)
	}
	if f.pdftotext != "" && file.path != "" {
		md, err := runPDFToText(ctx, f.pdftotext, file.path)
		if err == nil && hasWords(md) {
			doc.Markdown = md
			return doc, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ingest: pdftotext: %w", context.Cause(ctx))
		}
		// Otherwise the built-in reader may still do better.
	}
	switch {
	case errors.Is(openErr, pdf.ErrInvalidPassword):
		return nil, echogen.Errorf(echogen.KindInvalid, "encrypted_document", "%s is password-protected", src.name)
	case openErr != nil:
		return nil, &echogen.Error{Kind: echogen.KindInvalid, Code: "invalid_document",
			Message: src.name + " is not a readable PDF", Err: openErr}
	}
	if doc.Markdown, err = pdfText(ctx, rd); err != nil {
		return nil, err
	}
	return doc, nil
}

// runPDFToText runs poppler's pdftotext on path and reflows its output as
// it streams in, so the raw text is never held whole.
func runPDFToText(ctx context.Context, bin, path string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-q", "-enc", "UTF-8", path, "-")
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("pdftotext: %w", err)
	}
	var rf reflower
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadString('\n')
		rf.text(line)
		if err != nil {
			break // EOF, or a broken pipe that Wait reports
		}
	}
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("pdftotext: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return rf.markdown(), nil
}

// pdfInfo returns the document's title and author from its Info dictionary,
// ignoring titles that are only a producer's placeholder.
func pdfInfo(rd *pdf.Reader) (title, author string) {
	defer func() { _ = recover() }() // a malformed Info dictionary is not worth failing for
	info := rd.Trailer().Key("Info")
	title = cleanSpace(info.Key("Title").Text())
	author = cleanSpace(info.Key("Author").Text())
	lower := strings.ToLower(title)
	if lower == "untitled" || strings.HasPrefix(lower, "microsoft word - ") || strings.HasSuffix(lower, ".doc") ||
		strings.HasSuffix(lower, ".docx") || strings.HasSuffix(lower, ".pdf") {
		title = ""
	}
	return title, author
}

// pdfText reads every page's text with the built-in reader and reflows
// it page by page. A page that fails to parse is skipped.
func pdfText(ctx context.Context, rd *pdf.Reader) (_ string, err error) {
	defer func() {
		if r := recover(); r != nil { // the reader panics on a malformed page tree
			err = &echogen.Error{Kind: echogen.KindInvalid, Code: "invalid_document",
				Message: "the PDF's page tree is broken", Err: fmt.Errorf("%v", r)}
		}
	}()
	var rf reflower
	var page strings.Builder
	var pages, failed int
	root := rd.Trailer().Key("Root").Key("Pages")
	// A cyclic or bloated page tree cannot make the walk run away: it visits
	// at most a little more than the nodes the tree claims to have.
	budget := min(2*max(root.Key("Count").Int64(), 0)+1000, 10_000_000)
	err = walkPages(root, 0, &budget, func(p pdf.Page) error {
		if pages%64 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		pages++
		page.Reset()
		if err := pageText(p, &page); err != nil {
			failed++
		}
		rf.text(page.String())
		rf.pageBreak()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("ingest: reading PDF: %w", err)
	}
	if pages > 0 && failed == pages {
		return "", echogen.Errorf(echogen.KindInvalid, "invalid_document", "no page of the PDF could be read")
	}
	return rf.markdown(), nil
}

// walkPages calls fn on each page of a page tree in order. It walks the
// tree once: Reader.Page(i) starts at the root every time, which is
// quadratic on a flat tree of thousands of pages.
func walkPages(node pdf.Value, depth int, budget *int64, fn func(pdf.Page) error) error {
	const maxDepth = 64 // page trees are shallow; deeper means a cycle
	if *budget--; *budget < 0 || depth > maxDepth || node.IsNull() {
		return nil
	}
	kids := node.Key("Kids")
	if node.Key("Type").Name() == "Page" || kids.Kind() != pdf.Array {
		return fn(pdf.Page{V: node})
	}
	for i := 0; i < kids.Len(); i++ {
		if err := walkPages(kids.Index(i), depth+1, budget, fn); err != nil {
			return err
		}
	}
	return nil
}

// pageText appends a page's text to b: a new line where the text moves
// down, a blank line where it moves down more than a line, and a space
// where it moves along the line or a TJ array leaves a word-sized gap.
// Only vertical positions are tracked, through the text and graphics
// matrices' vertical scale and offset; that is enough to tell lines apart.
func pageText(p pdf.Page, b *strings.Builder) (err error) {
	defer func() {
		if r := recover(); r != nil { // the reader panics on malformed content
			err = fmt.Errorf("malformed page: %v", r)
		}
	}()
	contents := p.V.Key("Contents")
	if contents.IsNull() {
		return nil
	}
	type vmatrix struct{ d, f float64 } // y' = d·y + f
	var (
		encoders                  = map[string]pdf.TextEncoding{}
		enc      pdf.TextEncoding = rawEncoding{}
		ctm                       = vmatrix{1, 0}
		saved    []vmatrix        // q/Q graphics states
		tm       = vmatrix{1, 0}
		leading  float64
		start    = b.Len()
		lastY    = math.NaN() // page y of the last text shown
		lastGap  float64      // the usual distance between lines
		moved    bool         // the position changed since the last text
	)
	show := func(s string) {
		if s == "" {
			return
		}
		y := ctm.d*tm.f + ctm.f
		if b.Len() > start && !math.IsNaN(lastY) {
			switch gap := lastY - y; {
			case gap > 0.5 && lastGap > 0 && gap > 1.6*lastGap:
				b.WriteString("\n\n")
			case math.Abs(gap) > 0.5:
				b.WriteByte('\n')
				if gap > 0 {
					lastGap = gap
				}
			case moved:
				b.WriteByte(' ')
			}
		}
		lastY, moved = y, false
		b.WriteString(s)
	}
	nextLine := func(ty float64) { // Td's vertical part, in text space
		tm.f += ty * tm.d
		moved = true
	}
	pdf.Interpret(contents, func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "q":
			saved = append(saved, ctm)
		case "Q":
			if n := len(saved); n > 0 {
				ctm, saved = saved[n-1], saved[:n-1]
			}
		case "cm":
			if len(args) == 6 {
				m := vmatrix{args[3].Float64(), args[5].Float64()}
				ctm = vmatrix{m.d * ctm.d, m.f*ctm.d + ctm.f}
			}
		case "BT":
			tm, moved = vmatrix{1, 0}, true
		case "Tf":
			if len(args) == 2 {
				enc = fontEncoder(p, args[0].Name(), encoders)
			}
		case "TL":
			if len(args) == 1 {
				leading = args[0].Float64()
			}
		case "Td", "TD":
			if len(args) == 2 {
				if op == "TD" {
					leading = -args[1].Float64()
				}
				nextLine(args[1].Float64())
			}
		case "Tm":
			if len(args) == 6 {
				tm, moved = vmatrix{args[3].Float64(), args[5].Float64()}, true
			}
		case "T*":
			nextLine(-leading)
		case "'", "\"":
			nextLine(-leading)
			if len(args) > 0 {
				show(enc.Decode(args[len(args)-1].RawString()))
			}
		case "Tj":
			if len(args) == 1 {
				show(enc.Decode(args[0].RawString()))
			}
		case "TJ":
			if len(args) != 1 {
				return
			}
			for i := 0; i < args[0].Len(); i++ {
				switch v := args[0].Index(i); v.Kind() {
				case pdf.String:
					show(enc.Decode(v.RawString()))
				case pdf.Integer, pdf.Real:
					if v.Float64() < -180 { // thousandths of an em: a word gap
						moved = true
					}
				}
			}
		}
	})
	return nil
}

// fontEncoder returns the text decoder of a page's font, parsing each font's
// character map once per page.
func fontEncoder(p pdf.Page, name string, cache map[string]pdf.TextEncoding) pdf.TextEncoding {
	if enc, ok := cache[name]; ok {
		return enc
	}
	var enc pdf.TextEncoding = rawEncoding{}
	if font := p.Font(name); !font.V.IsNull() {
		enc = font.Encoder()
	}
	cache[name] = enc
	return enc
}

// rawEncoding reads bytes as Latin-1, for text in a font the page lacks.
type rawEncoding struct{}

func (rawEncoding) Decode(raw string) string {
	r := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		r[i] = rune(raw[i])
	}
	return string(r)
}

var (
	bulletLine = regexp.MustCompile(`^\s*(?:[•●▪◦‣∙·\-–*]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+`)
	pageNumber = regexp.MustCompile(`^\s*(?:page\s+)?\d{1,5}(?:\s*(?:/|of)\s*\d{1,5})?\s*$`)
)

// reflower turns extracted lines into Markdown paragraphs: lines of a
// block are joined (mending words hyphenated at a line break), bullets
// become list items, and lone page numbers go. Blocks end at blank lines
// and page breaks (form feeds). Text is fed in pieces of whole lines.
type reflower struct {
	out            strings.Builder
	para           []byte
	item, lastItem bool // the paragraph being built, the last written, are list items
}

// text adds lines of text; form feeds break pages.
func (r *reflower) text(s string) {
	for line := range strings.Lines(s) {
		for {
			before, after, isPage := strings.Cut(line, "\f")
			r.line(before)
			if !isPage {
				break
			}
			r.pageBreak()
			line = after
		}
	}
}

func (r *reflower) pageBreak() { r.flush() }

func (r *reflower) markdown() string {
	r.flush()
	return r.out.String()
}

func (r *reflower) flush() {
	if p := bytes.TrimSpace(r.para); len(p) > 0 {
		switch {
		case r.out.Len() == 0:
		case r.item && r.lastItem:
			r.out.WriteString("\n") // one tight list
		default:
			r.out.WriteString("\n\n")
		}
		r.out.Write(p)
		r.lastItem = r.item
	}
	r.para, r.item = r.para[:0], false
}

func (r *reflower) line(line string) {
	line = cleanSpace(line)
	switch {
	case line == "":
		r.flush()
		return
	case pageNumber.MatchString(line):
		return
	}
	if loc := bulletLine.FindStringIndex(line); loc != nil {
		r.flush()
		r.item = true
		if marker := strings.TrimSpace(line[:loc[1]]); utf8.RuneCountInString(marker) > 1 {
			r.para = append(r.para, marker+" "...) // "1." or "(a)"
		} else {
			r.para = append(r.para, "- "...)
		}
		r.para = append(r.para, line[loc[1]:]...)
		return
	}
	if line[0] == '#' {
		r.para = append(r.para, '\\') // not a Markdown heading
	}
	n := len(r.para)
	switch {
	case n == 0:
	case n > 1 && r.para[n-1] == '-' && unicode.IsLetter(lastRune(string(r.para[max(0, n-5):n-1]))) && unicode.IsLower(firstRune(line)):
		r.para = r.para[:n-1] // "fun-" + "ded" is "funded"
	default:
		r.para = append(r.para, ' ')
	}
	r.para = append(r.para, line...)
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// spooled is a document on disk, for readers that need random access.
type spooled struct {
	io.ReaderAt
	path string // "" when the bytes are not in a named file
}

// spool gives random access to r: a downloaded temporary file or an open
// file is used in place, anything else is copied to a temporary file.
func spool(r io.Reader) (spooled, int64, func(), error) {
	switch v := r.(type) {
	case *fileSection:
		return spooled{v.SectionReader, v.path}, v.Size(), func() {}, nil
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			if pos, err := v.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
				return spooled{v, v.Name()}, st.Size(), func() {}, nil
			}
		}
	}
	tmp, err := os.CreateTemp("", "echogen-ingest-*")
	if err != nil {
		return spooled{}, 0, nil, fmt.Errorf("ingest: temporary file: %w", err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, r)
	if err != nil {
		cleanup()
		return spooled{}, 0, nil, fmt.Errorf("ingest: spooling document: %w", err)
	}
	return spooled{tmp, tmp.Name()}, n, cleanup, nil
}

// fileSection is a downloaded body in a temporary file.
type fileSection struct {
	*io.SectionReader
	path string
}

// pdf2Compat presents a PDF 2.0 header as 1.7: the reader refuses "2.0"
// though it reads such files, whose syntax is the same.
type pdf2Compat struct{ io.ReaderAt }

func (c pdf2Compat) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ReaderAt.ReadAt(p, off)
	if off == 0 && n >= 8 && bytes.HasPrefix(p, []byte("%PDF-2.")) {
		copy(p[5:8], "1.7")
	}
	return n, err
}

package ingest

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strings"

	"testing"

	"golang.org/x/text/encoding/charmap"
)

// testPDF describes a PDF for writePDF: a tiny generator of real PDF files
// (Helvetica, WinAnsi text, one content stream a page), so tests need no
// binary fixtures.
type testPDF struct {
	version  string // "1.4" unless set
	title    string
	author   string
	compress bool // FlateDecode the content streams
	// pages hold paragraphs; a paragraph's lines are set one under the
	// other, with a larger gap between paragraphs.
	pages [][][]string
	// tj sets each line as a TJ array with kerned word gaps instead of
	// one string, as TeX and many typesetters do.
	tj bool
	// cyclic makes the page tree its own child twice: a hostile file.
	cyclic bool
	layout int // layoutTd, layoutTm, …
}

// writePDF writes d to w with a correct cross-reference table.
func writePDF(w io.Writer, d testPDF) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countingWriter{w: bw}
	version := d.version
	if version == "" {
		version = "1.4"
	}
	fmt.Fprintf(cw, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", version)

	n := len(d.pages)
	// Objects: 1 catalog, 2 page tree, 3 font, 4 info, then a page and its
	// content stream for each page.
	offsets := make([]int64, 5+2*n)
	obj := func(num int, body string) {
		offsets[num] = cw.n
		fmt.Fprintf(cw, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	var kids strings.Builder
	if d.cyclic {
		kids.WriteString("2 0 R 2 0 R ")
	}
	for i := range n {
		fmt.Fprintf(&kids, "%d 0 R ", 5+2*i)
	}
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), n))
	obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj(4, fmt.Sprintf("<< /Title %s /Author %s /Producer (echogen test) >>", pdfString(d.title), pdfString(d.author)))
	var content bytes.Buffer
	for i, page := range d.pages {
		obj(5+2*i, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 6+2*i))
		content.Reset()
		pageContent(&content, page, d.tj, d.layout)
		data := content.Bytes()
		filter := ""
		if d.compress {
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data, filter = z.Bytes(), " /Filter /FlateDecode"
		}
		offsets[6+2*i] = cw.n
		fmt.Fprintf(cw, "%d 0 obj\n<< /Length %d%s >>\nstream\n", 6+2*i, len(data), filter)
		cw.Write(data)
		fmt.Fprintf(cw, "\nendstream\nendobj\n")
	}
	xref := cw.n
	fmt.Fprintf(cw, "xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, off := range offsets[1:] {
		fmt.Fprintf(cw, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(cw, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets), xref)
	if cw.err != nil {
		return cw.err
	}
	return bw.Flush()
}

// Layouts: how producers position lines.
const (
	layoutTd     = iota // one text object, Td and T* moves (the default)
	layoutTm            // a text object and an absolute Tm per line, as Word does
	layoutScaled        // Tm scales text space to the font size; moves are in ems
	layoutCM            // each line placed by a q … cm … Q graphics transform
)

// pageContent sets paragraphs top-down: 14 pt between lines, 28 between
// paragraphs, positioned the way layout says.
func pageContent(b *bytes.Buffer, paras [][]string, tj bool, layout int) {
	show := func(line string) {
		if !tj {
			fmt.Fprintf(b, "%s Tj\n", pdfString(line))
			return
		}
		b.WriteString("[")
		for k, word := range strings.Fields(line) {
			if k > 0 {
				b.WriteString(" -278 ")
			}
			b.WriteString(pdfString(word))
		}
		b.WriteString("] TJ\n")
	}
	y := 740.0
	for i, para := range paras {
		for j, line := range para {
			first := i == 0 && j == 0
			gap := 14.0
			if j == 0 {
				gap = 28
			}
			switch layout {
			case layoutTd:
				switch {
				case first:
					b.WriteString("BT\n/F1 11 Tf\n14 TL\n72 740 Td\n")
				case j == 0:
					b.WriteString("0 -28 Td\n")
				default:
					b.WriteString("T*\n")
				}
			case layoutTm:
				if !first {
					y -= gap
				}
				fmt.Fprintf(b, "BT\n/F1 11 Tf\n1 0 0 1 72 %g Tm\n", y)
			case layoutScaled:
				switch {
				case first:
					b.WriteString("BT\n/F1 1 Tf\n11 0 0 11 72 740 Tm\n")
				default:
					fmt.Fprintf(b, "0 %.4f Td\n", -gap/11)
				}
			case layoutCM:
				if !first {
					y -= gap
				}
				fmt.Fprintf(b, "q\n1 0 0 1 0 %g cm\nBT\n/F1 11 Tf\n72 0 Td\n", y)
			}
			show(line)
			switch layout {
			case layoutTm:
				b.WriteString("ET\n")
			case layoutCM:
				b.WriteString("ET\nQ\n")
			}
		}
	}
	if layout == layoutTd || layout == layoutScaled {
		if len(paras) > 0 {
			b.WriteString("ET\n")
		}
	}
}

// pdfString is a literal string in WinAnsi, escaped.
func pdfString(s string) string {
	enc, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		enc = s
	}
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return "(" + r.Replace(enc) + ")"
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// pdfBytes returns d as a PDF file's bytes.
func pdfBytes(tb testing.TB, d testPDF) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := writePDF(&b, d); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

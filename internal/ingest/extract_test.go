package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// meta is a Document without its Markdown, for comparing metadata.
func meta(d *echogen.Document) echogen.Document {
	m := *d
	m.Markdown = ""
	return m
}

func timePtr(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func extractFile(t *testing.T, name, contentType string) *echogen.Document {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := testFetcher(Options{}).Extract(context.Background(), f, contentType, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// checkText asserts the Markdown holds every want and none of notWant.
func checkText(t *testing.T, md string, want, notWant []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q", s)
		}
	}
	for _, s := range notWant {
		if strings.Contains(md, s) {
			t.Errorf("markdown holds %q, which is not part of the article", s)
		}
	}
	if t.Failed() {
		t.Logf("markdown:\n%s", md)
	}
}

func TestExtractHTMLPages(t *testing.T) {
	tests := []struct {
		file    string
		meta    echogen.Document
		want    []string
		notWant []string
	}{{
		file: "news-article.html",
		meta: echogen.Document{
			Title: "City council approves new cycling network", SiteName: "The Riverside Gazette",
			Author: "Priya Raman", Published: timePtr("2024-03-14T09:30:00Z"), Language: "en-GB",
			ContentType: "text/html", Excerpt: "A 40-kilometre network of protected bike lanes will be built over the next five years.",
		},
		want: []string{
			"The city council voted on Wednesday night to build a 40-kilometre network",
			"## Trial lane changed minds",
			`> "We were worried we would lose our customers.`,
			"- Northgate to the railway station, starting in September 2024\n- Eastern suburbs",
			"every six months.",
		},
		notWant: []string{
			"Politics", "Search the Gazette", "Advertisement", "garden furniture", "Share on Facebook",
			"Related stories", "Bus fares frozen", "Reader comments", "cyclist_dave", "About time!",
			"waste of taxpayers", "All rights reserved", "Privacy policy", "cycle-lane.jpg", "![",
		},
	}, {
		file: "blog-post.html",
		meta: echogen.Document{
			Title: "Why I switched my home server to ZFS", SiteName: "Notes from the Shed", Author: "Sam Okafor",
			Published: timePtr("2023-11-02T17:05:00Z"), Language: "en-US", ContentType: "text/html",
			Excerpt: "Snapshots, checksums and a scrub that found a dying disk before it died.",
		},
		want: []string{
			"For six years my home server ran on a pair of disks",
			"move to **ZFS**",
			"## Checksums everywhere",
			"*48 hourly, 30 daily and 12 monthly*",
			"schedule a scrub.",
		},
		notWant: []string{
			"Tinkering, self-hosting", "About me", "Archive", "Previous post", "Running my own DNS",
			"thoughts on", "Did you consider btrfs", "RAID5 support put me off", "gigabyte per terabyte",
			"scheduling my first scrub", "Leave a Reply", "Post Comment", "Recent Posts", "Proudly powered",
		},
	}, {
		file: "docs-page.html",
		meta: echogen.Document{
			Title: "Configuring retries — Taskline 2.3 documentation", Language: "en", ContentType: "text/html",
			Excerpt: "How Taskline retries failed jobs, and how to tune backoff and limits.",
		},
		want: []string{
			"When a job raises an error, Taskline does not give up at once.",
			"## How backoff works",
			"```\ndelay = min(max_delay, base_delay * 2 ** (n - 1)) * uniform(0.5, 1.5)\n```",
			"With the default `base_delay` of one second",
			"- **max\\_attempts**: how many times a job runs",
			"## Permanent failures",
		},
		notWant: []string{"Search docs", "Quickstart", "Scheduling periodic jobs", "API reference", "Docs »", "Built with Sphinx", "© Copyright"},
	}, {
		file: "windows-1252.html",
		meta: echogen.Document{
			Title: "Les cafés de la rue Lepic", Author: "Hélène Duval", Language: "fr", ContentType: "text/html",
			Excerpt: "Au pied de la butte Montmartre, la rue Lepic serpente entre les boulangeries, les primeurs et les cafés où l’on s’attarde volontiers. On y croise des habitués qui lisent le journal, des touristes égarés et des peintres qui cherchent encore la lumière de Renoir.",
		},
		want: []string{
			"les cafés où l’on s’attarde volontiers",
			"« Le Moulin », a ouvert ses portes en 1889",
			"Son propriétaire actuel, François",
			"la crème brûlée est toujours à la carte",
			"5 € le café crème",
		},
		notWant: []string{"Accueil", "Archives", "tous droits réservés", "\ufffd", "Ã©"},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := extractFile(t, tt.file, "")
			if diff := cmp.Diff(tt.meta, meta(doc)); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			checkText(t, doc.Markdown, tt.want, tt.notWant)
		})
	}
}

// TestExtractCharsets serves the same legacy page with the charset in the
// header only, in <meta> only, or nowhere.
func TestExtractCharsets(t *testing.T) {
	page, err := os.ReadFile("testdata/windows-1252.html")
	if err != nil {
		t.Fatal(err)
	}
	noMeta := bytes.Replace(page, []byte(`<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">`), nil, 1)
	if bytes.Equal(noMeta, page) {
		t.Fatal("the fixture's <meta> tag moved")
	}
	// A long <head> pushes the <meta> past the 1024 bytes browsers prescan.
	lateMeta := bytes.Replace(page, []byte("<head>"), []byte("<head>\n<!-- "+strings.Repeat("padding ", 200)+"-->"), 1)
	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{"meta charset", "text/html", page},
		{"meta after 1 KiB", "text/html", lateMeta},
		{"header charset only", "text/html; charset=ISO-8859-1", noMeta},
		{"unlabelled", "text/html", noMeta},
		{"header wins over meta", "text/html; charset=windows-1252", bytes.Replace(page, []byte("charset=windows-1252"), []byte("charset=utf-8"), 1)},
	}
	mux := http.NewServeMux()
	for _, tt := range tests {
		mux.HandleFunc("/"+strings.ReplaceAll(tt.name, " ", "-"), func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tt.contentType)
			w.Write(tt.body)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := testFetcher(Options{}).FetchURL(context.Background(), srv.URL+"/"+strings.ReplaceAll(tt.name, " ", "-"))
			if err != nil {
				t.Fatal(err)
			}
			if doc.Title != "Les cafés de la rue Lepic" || doc.Author != "Hélène Duval" {
				t.Errorf("title %q, author %q", doc.Title, doc.Author)
			}
			checkText(t, doc.Markdown, []string{"Son propriétaire actuel, François", "5 € le café crème", "« Le Moulin »"}, []string{"\ufffd", "Ã"})
		})
	}
	// A UTF-8 page whose first kilobyte is plain ASCII is not mistaken
	// for windows-1252.
	utf8Page := "<html><head><title>Crème brûlée</title></head><body>" + strings.Repeat("<!-- ascii -->", 100) +
		"<article><h1>Crème brûlée</h1><p>" + strings.Repeat("Une crème brûlée se mange à la cuillère, jamais à la fourchette. ", 10) + "</p></article></body></html>"
	doc, err := testFetcher(Options{}).Extract(context.Background(), strings.NewReader(utf8Page), "text/html", "")
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, doc.Markdown, []string{"Une crème brûlée se mange à la cuillère"}, []string{"Ã"})
}

func TestExtractTextAndMarkdown(t *testing.T) {
	md := extractFile(t, "release-notes.md", "")
	if diff := cmp.Diff(echogen.Document{Title: "Release notes: Taskline 2.3", ContentType: "text/markdown",
		Excerpt: "Taskline 2.3 makes retries smarter and scheduling cheaper."}, meta(md)); diff != "" {
		t.Errorf("markdown metadata (-want +got):\n%s", diff)
	}
	checkText(t, md.Markdown, []string{"# Taskline 2.3", "- Jittered exponential backoff", "```\ntaskline migrate up\n```"}, []string{"title:", "date: 2024"})

	txt := extractFile(t, "meeting-minutes.txt", "text/plain")
	if diff := cmp.Diff(echogen.Document{Title: "Minutes of the allotment society meeting, 3 June", ContentType: "text/plain",
		Excerpt: "Present: eleven members and the secretary."}, meta(txt)); diff != "" {
		t.Errorf("text metadata (-want +got):\n%s", diff)
	}
	checkText(t, txt.Markdown, []string{"shared compost bay near the east gate"}, nil)

	// Text in a legacy encoding, CRLF line ends and a byte-order mark.
	f := testFetcher(Options{})
	latin1 := []byte("Caf\xe9 cr\xe8me\r\n\r\nDeux caf\xe9s, s'il vous pla\xeet.\r\n")
	doc, err := f.Extract(context.Background(), bytes.NewReader(latin1), "text/plain; charset=iso-8859-1", "menu.txt")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Café crème" || doc.Markdown != "Café crème\n\nDeux cafés, s'il vous plaît." {
		t.Errorf("latin-1 text: %q / %q", doc.Title, doc.Markdown)
	}
	doc, err = f.Extract(context.Background(), strings.NewReader("\ufeffHello from a BOM file.\n"), "", "bom.txt")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Markdown != "Hello from a BOM file." {
		t.Errorf("BOM text: %q", doc.Markdown)
	}
}

func TestExtractPDF(t *testing.T) {
	report := testPDF{
		title: "Annual report of the harbour trust", author: "Harbour Trust", compress: true,
		pages: [][][]string{
			{
				{"The harbour trust handled more cargo this year than in any year since", "records began, despite the closure of the north quay for repairs."},
				{"Revenue rose by nine per cent. The board thanks the pilots, the dock", "workers and the volunteers of the lifeboat station."},
				{"• Cargo: 4.1 million tonnes", "• Passenger ferries: 12,400 sailings"},
			},
			{
				{"Next year the trust will dredge the main channel and replace the", "crane on the south quay. Both projects are fully fun-", "ded by reserves."},
				{"7"},
			},
		},
	}
	wantText := "The harbour trust handled more cargo this year than in any year since records began, despite the closure of the north quay for repairs.\n\n" +
		"Revenue rose by nine per cent. The board thanks the pilots, the dock workers and the volunteers of the lifeboat station.\n\n" +
		"- Cargo: 4.1 million tonnes\n- Passenger ferries: 12,400 sailings\n\n" +
		"Next year the trust will dredge the main channel and replace the crane on the south quay. Both projects are fully funded by reserves."
	tj := report
	tj.tj, tj.compress = true, false
	v2 := report
	v2.version = "2.0"
	untitled := report
	untitled.title = "Microsoft Word - report_final.docx"
	word, scaled, cm := report, report, report
	word.layout, scaled.layout, cm.layout = layoutTm, layoutScaled, layoutCM

	f := testFetcher(Options{})
	tests := []struct {
		name     string
		pdf      testPDF
		filename string
		title    string
	}{
		{"Tj lines, compressed", report, "report.pdf", "Annual report of the harbour trust"},
		{"TJ arrays with kerned gaps", tj, "report.pdf", "Annual report of the harbour trust"},
		{"PDF 2.0 header", v2, "report.pdf", "Annual report of the harbour trust"},
		{"placeholder title", untitled, "harbour-trust_2024.pdf", "harbour trust 2024"},
		{"a Tm per line", word, "report.pdf", "Annual report of the harbour trust"},
		{"text space scaled to the font", scaled, "report.pdf", "Annual report of the harbour trust"},
		{"lines placed by cm", cm, "report.pdf", "Annual report of the harbour trust"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := f.Extract(context.Background(), bytes.NewReader(pdfBytes(t, tt.pdf)), "application/pdf", tt.filename)
			if err != nil {
				t.Fatal(err)
			}
			want := echogen.Document{Title: tt.title, Author: "Harbour Trust", ContentType: "application/pdf",
				Excerpt: "The harbour trust handled more cargo this year than in any year since records began, despite the closure of the north quay for repairs."}
			if diff := cmp.Diff(want, meta(doc)); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantText, doc.Markdown); diff != "" {
				t.Errorf("markdown (-want +got):\n%s", diff)
			}
		})
	}

	// A PDF with pages but no text (a scan) has failed, not succeeded empty.
	blank := pdfBytes(t, testPDF{title: "Scan", pages: [][][]string{{}, {}}})
	_, err := f.Extract(context.Background(), bytes.NewReader(blank), "application/pdf", "scan.pdf")
	wantErr(t, err, echogen.KindInvalid, "no_text", `no readable text found in "scan.pdf"`)
	// A page tree that contains itself ends the walk instead of looping.
	cyclic := report
	cyclic.cyclic = true
	_, err = f.Extract(context.Background(), bytes.NewReader(pdfBytes(t, cyclic)), "application/pdf", "cyclic.pdf")
	if err != nil && echogen.ErrorKind(err) != echogen.KindInvalid {
		t.Errorf("cyclic page tree: %v, want success or KindInvalid", err)
	}
	_, err = f.Extract(context.Background(), strings.NewReader("%PDF-1.4\nnot really a pdf"), "application/pdf", "broken.pdf")
	wantErr(t, err, echogen.KindInvalid, "invalid_document", `"broken.pdf" is not a readable PDF`)
}

// TestExtractPDFWithPDFToText runs the same report through poppler's
// pdftotext, which FetchURL and Extract prefer when it is installed.
func TestExtractPDFWithPDFToText(t *testing.T) {
	bin := testenv.RequireTool(t, "pdftotext", "poppler-utils")
	f := New(Options{PDFToText: bin})
	pdf := pdfBytes(t, testPDF{title: "Poppler report", pages: [][][]string{{{"Text read by pdftotext, not by the", "built-in reader."}}, {{"Second page."}}}})
	doc, err := f.Extract(context.Background(), bytes.NewReader(pdf), "application/pdf", "r.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Poppler report" {
		t.Errorf("title = %q", doc.Title)
	}
	checkText(t, doc.Markdown, []string{"Text read by pdftotext, not by the built-in reader.", "Second page."}, []string{"\f"})

	// A broken pdftotext falls back to the built-in reader.
	f = New(Options{PDFToText: "/bin/false"})
	doc, err = f.Extract(context.Background(), bytes.NewReader(pdf), "application/pdf", "r.pdf")
	if err != nil {
		t.Fatal(err)
	}
	checkText(t, doc.Markdown, []string{"Text read by pdftotext, not by the built-in reader."}, nil)
}

// docxFile builds a Word document the way Word lays one out.
func docxFile(t *testing.T, body string, withCore bool) []byte {
	t.Helper()
	const w = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"`
	parts := []struct{ name, data string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/styles.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles ` + w + `>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="ListParagraph"><w:name w:val="List Paragraph"/></w:style>
</w:styles>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + w + `><w:body>` + body + `<w:sectPr/></w:body></w:document>`},
	}
	if withCore {
		parts = append(parts, struct{ name, data string }{"docProps/core.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><dc:title>Volunteer handbook</dc:title><dc:creator>Ana Lima</dc:creator><dc:language>en-GB</dc:language><dcterms:created>2024-02-01T10:00:00Z</dcterms:created></cp:coreProperties>`})
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, p := range parts {
		fw, err := zw.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(p.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func para(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func TestExtractDOCX(t *testing.T) {
	body := para("Title", "Volunteer handbook") +
		para("Heading1", "Welcome") +
		// Runs split mid-word, as Word does after edits and spell checks.
		`<w:p><w:r><w:t xml:space="preserve">Thank you for joining the </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>food</w:t></w:r><w:r><w:t xml:space="preserve"> bank. This handbook explains how a shift runs.</w:t></w:r></w:p>` +
		para("berschrift2", "Before your first shift") +
		`<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Read the safety sheet.</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Sign it at the front desk.</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Bring closed shoes.</w:t></w:r></w:p>` +
		// A tracked deletion, a field code and a tab.
		`<w:p><w:r><w:t xml:space="preserve">Shifts start at</w:t></w:r><w:del w:id="1" w:author="x"><w:r><w:delText> 8 o'clock</w:delText></w:r></w:del><w:r><w:t xml:space="preserve"> 9 o'clock</w:t><w:tab/><w:t>sharp.</w:t></w:r><w:r><w:instrText>PAGE \* MERGEFORMAT</w:instrText></w:r></w:p>` +
		// A text box: its content once, not its VML fallback copy as well.
		`<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>` + para("", "Call Rosa on 0161 555 0199 if you are running late.") + `</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>` + para("", "Call Rosa on 0161 555 0199 if you are running late.") + `</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + para("", "Monday") + `</w:tc><w:tc>` + para("", "Sorting donations") + `</w:tc></w:tr></w:tbl>` +
		para("", "")
	want := "# Volunteer handbook\n\n# Welcome\n\nThank you for joining the food bank. This handbook explains how a shift runs.\n\n" +
		"## Before your first shift\n\n- Read the safety sheet.\n  - Sign it at the front desk.\n- Bring closed shoes.\n\n" +
		"Shifts start at 9 o'clock sharp.\n\nCall Rosa on 0161 555 0199 if you are running late.\n\nMonday\n\nSorting donations"

	f := testFetcher(Options{})
	doc, err := f.Extract(context.Background(), bytes.NewReader(docxFile(t, body, true)), "", "handbook.docx")
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := echogen.Document{Title: "Volunteer handbook", Author: "Ana Lima", Language: "en-GB", ContentType: typeDOCX,
		Excerpt: "Thank you for joining the food bank. This handbook explains how a shift runs."}
	if diff := cmp.Diff(wantMeta, meta(doc)); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, doc.Markdown); diff != "" {
		t.Errorf("markdown (-want +got):\n%s", diff)
	}

	// Without core.xml the first heading is the title.
	doc, err = f.Extract(context.Background(), bytes.NewReader(docxFile(t, para("Heading1", "Rota")+para("", "Mondays: Ana."), false)), typeDOCX, "rota.docx")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Rota" || doc.Markdown != "# Rota\n\nMondays: Ana." {
		t.Errorf("no core.xml: title %q, markdown %q", doc.Title, doc.Markdown)
	}

	_, err = f.Extract(context.Background(), bytes.NewReader(docxFile(t, para("", "  "), false)), typeDOCX, "empty.docx")
	wantErr(t, err, echogen.KindInvalid, "no_text", `no readable text found in "empty.docx"`)
	_, err = f.Extract(context.Background(), strings.NewReader("PK\x03\x04 not a zip"), typeDOCX, "broken.docx")
	wantErr(t, err, echogen.KindInvalid, "invalid_document", `"broken.docx" is not a readable DOCX file`)
}

func TestExtractRejects(t *testing.T) {
	f := testFetcher(Options{})
	tests := []struct {
		name, contentType, filename, body string
		code, msg                         string
	}{
		{"image", "image/png", "photo.png", "\x89PNG\r\n\x1a\n", "unsupported_content_type", "unsupported content type image/png"},
		{"sniffed image", "", "photo", "\x89PNG\r\n\x1a\n\x00\x00", "unsupported_content_type", "unsupported content type image/png"},
		{"zip that is not a docx", "application/zip", "a.zip", "PK\x03\x04\x14\x00", "unsupported_content_type", "unsupported content type application/zip"},
		{"blank text", "text/plain", "blank.txt", " \n\t\n ", "no_text", `no readable text found in "blank.txt"`},
		{"punctuation only", "text/markdown", "rule.md", "---\n***\n", "no_text", `no readable text found in "rule.md"`},
		{"empty html", "text/html", "", "<html><body><script>var a = 1</script></body></html>", "no_text", "no readable text found in the document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Extract(context.Background(), strings.NewReader(tt.body), tt.contentType, tt.filename)
			wantErr(t, err, echogen.KindInvalid, tt.code, tt.msg)
			if !echogen.Permanent(err) {
				t.Error("a bad source must fail the job, not retry it")
			}
		})
	}
}

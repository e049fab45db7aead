package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echogen/server/internal/testenv"
)

// BenchmarkExtractCorpus measures HTML extraction (charset, readability,
// Markdown) over the whole readability corpus; MB/s counts source bytes.
//
//	go test ./internal/ingest -run '^$' -bench ExtractCorpus -benchmem
func BenchmarkExtractCorpus(b *testing.B) {
	pages := loadCorpus(b)
	var total int64
	for _, p := range pages {
		total += int64(len(p.source))
	}
	f := New(Options{NoPDFToText: true})
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pages {
			if _, err := f.Extract(context.Background(), bytes.NewReader(p.source), "text/html", ""); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
	}
}

// BenchmarkExtractPDF measures the built-in PDF reader on a 200-page
// report; MB/s counts PDF bytes.
func BenchmarkExtractPDF(b *testing.B) {
	pdf := pdfBytes(b, bookPDF(200, true))
	f := New(Options{NoPDFToText: true})
	b.SetBytes(int64(len(pdf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Extract(context.Background(), bytes.NewReader(pdf), "application/pdf", "book.pdf"); err != nil {
			b.Fatal(err)
		}
	}
}

// bookPDF is a long text: pages of paragraphs of plausible sentences.
func bookPDF(pages int, compress bool) testPDF {
	words := strings.Fields("the harbour trust handled more cargo this year than in any year since records began despite closure of north quay for repairs revenue rose by nine per cent board thanks pilots dock workers and volunteers of lifeboat station")
	d := testPDF{title: "A long book", author: "Test", compress: compress}
	w := 0
	for range pages {
		var page [][]string
		for range 6 {
			var para []string
			for range 8 {
				line := make([]string, 12)
				for i := range line {
					line[i] = words[w%len(words)]
					w += 7
				}
				para = append(para, strings.Join(line, " "))
			}
			page = append(page, para)
		}
		d.pages = append(d.pages, page)
	}
	return d
}

// TestExtractLargePDF extracts a ~50 MB PDF from disk and reports time and
// memory. It takes a while, so it runs only when asked:
//
//	ECHOGEN_TEST_LARGE_PDF=1 go test ./internal/ingest -run LargePDF -v
func TestExtractLargePDF(t *testing.T) {
	if os.Getenv("ECHOGEN_TEST_LARGE_PDF") != "1" {
		t.Skip("set ECHOGEN_TEST_LARGE_PDF=1 to extract a 50 MB PDF")
	}
	path := filepath.Join(t.TempDir(), "large.pdf")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Uncompressed streams make a 50 MB file of about 12,300 pages.
	if err := writePDF(file, bookPDF(12300, false)); err != nil {
		t.Fatal(err)
	}
	file.Close()
	st, _ := os.Stat(path)
	t.Logf("PDF: %.1f MB", float64(st.Size())/1e6)

	run := func(name string, opts Options) {
		t.Run(name, func(t *testing.T) {
			in, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			f := New(opts)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := sampleHeap()
			start := time.Now()
			doc, err := f.Extract(context.Background(), in, "application/pdf", "large.pdf")
			elapsed := time.Since(start)
			maxHeap := peak()
			if err != nil {
				t.Fatal(err)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			t.Logf("%s: %v (%.1f MB/s), %.1f MB of Markdown; peak heap in use %.0f MB (%.0f MB before), allocated %.0f MB in total, max RSS %.0f MB",
				name, elapsed.Round(time.Millisecond), float64(st.Size())/1e6/elapsed.Seconds(), float64(len(doc.Markdown))/1e6,
				float64(maxHeap)/1e6, float64(before.HeapInuse)/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6, float64(ru.Maxrss)/1e3)
			if strings.Count(doc.Markdown, "harbour") < 100000 {
				t.Error("the text is missing")
			}
		})
	}
	run("built-in reader", Options{NoPDFToText: true})
	if bin := testenv.RequireTool(t, "pdftotext", "poppler-utils"); bin != "" {
		run("pdftotext", Options{PDFToText: bin})
	}
}

// sampleHeap polls HeapInuse until the returned function is called, which
// stops the sampler and returns the highest value seen. (MemStats keeps no
// high-water mark of the heap.)
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}

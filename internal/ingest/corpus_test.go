package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/net/html"

	"github.com/echogen/server/internal/testenv"
)

// corpusDirs are where the real pages with the article text readability
// should find (Mozilla's test corpus, shared by the whole project) may be:
// beside the checkout, or in the workplace's shared folder.
var corpusDirs = []string{"../../../shared/testdata/readability", "/work/shared/testdata/readability"}

// corpusDir is the first of corpusDirs that exists.
var corpusDir = func() string {
	for _, d := range corpusDirs {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return corpusDirs[0]
}()

type corpusPage struct {
	name     string
	source   []byte
	expected string // text of expected.html
	meta     struct {
		Title    string `json:"title"`
		Byline   string `json:"byline"`
		SiteName string `json:"siteName"`
		Lang     string `json:"lang"`
	}
}

func loadCorpus(tb testing.TB) []corpusPage {
	tb.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		testenv.Skip(tb, "the readability corpus is missing: "+err.Error())
		return nil
	}
	var pages []corpusPage
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(corpusDir, e.Name())
		p := corpusPage{name: e.Name()}
		if p.source, err = os.ReadFile(filepath.Join(dir, "source.html")); err != nil {
			tb.Fatal(err)
		}
		exp, err := os.ReadFile(filepath.Join(dir, "expected.html"))
		if err != nil {
			tb.Fatal(err)
		}
		root, err := html.Parse(bytes.NewReader(exp))
		if err != nil {
			tb.Fatal(err)
		}
		p.expected = innerText(root)
		meta, err := os.ReadFile(filepath.Join(dir, "expected-metadata.json"))
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(meta, &p.meta); err != nil {
			tb.Fatalf("%s: %v", dir, err)
		}
		pages = append(pages, p)
	}
	if len(pages) == 0 {
		testenv.Skip(tb, "the readability corpus at "+corpusDir+" is empty")
	}
	return pages
}

// TestExtractCorpus scores extraction on real pages: token F1 of the
// Markdown's text against the expected article, and the title.
func TestExtractCorpus(t *testing.T) {
	pages := loadCorpus(t)
	f := New(Options{NoPDFToText: true})
	var scores []float64
	titles, bylines, sites, langs := 0, 0, 0, 0
	for _, p := range pages {
		doc, err := f.Extract(context.Background(), bytes.NewReader(p.source), "text/html", "")
		if err != nil {
			t.Errorf("%s: %v", p.name, err)
			scores = append(scores, 0)
			continue
		}
		prec, rec, f1 := tokenF1(markdownText(doc.Markdown), p.expected)
		scores = append(scores, f1)
		if sameTitle(doc.Title, p.meta.Title) {
			titles++
		} else {
			t.Logf("%-22s title %q, want %q", p.name, doc.Title, p.meta.Title)
		}
		// Reported, not asserted: the corpus often leaves these out.
		if sameTitle(doc.Author, p.meta.Byline) {
			bylines++
		}
		if sameTitle(doc.SiteName, p.meta.SiteName) {
			sites++
		}
		if strings.EqualFold(doc.Language, normalizeLanguage(p.meta.Lang)) {
			langs++
		}
		if testing.Verbose() {
			t.Logf("%-22s F1 %.3f (precision %.3f, recall %.3f)", p.name, f1, prec, rec)
		}
	}
	slices.Sort(scores)
	var sum float64
	for _, s := range scores {
		sum += s
	}
	median := scores[len(scores)/2]
	if len(scores)%2 == 0 {
		median = (scores[len(scores)/2-1] + scores[len(scores)/2]) / 2
	}
	rate := float64(titles) / float64(len(pages))
	t.Logf("%d pages: F1 min %.3f, median %.3f, mean %.3f; titles %d/%d (%.0f%%)",
		len(pages), scores[0], median, sum/float64(len(scores)), titles, len(pages), 100*rate)
	t.Logf("also matching the expected metadata: byline %d/%d, site name %d/%d, language %d/%d",
		bylines, len(pages), sites, len(pages), langs, len(pages))
	if median < 0.8 {
		t.Errorf("median F1 = %.3f, want ≥ 0.8", median)
	}
	if rate < 0.8 {
		t.Errorf("title match rate = %.0f%%, want ≥ 80%%", 100*rate)
	}
}

// linkTarget matches a Markdown link's or image's destination, which is not
// article text.
var linkTarget = regexp.MustCompile(`\]\([^)]*\)`)

// markdownText drops link destinations so only the words are scored.
func markdownText(md string) string {
	return linkTarget.ReplaceAllString(md, "]")
}

// tokens splits s into lower-case words.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// tokenF1 compares the bags of words of got and want.
func tokenF1(got, want string) (precision, recall, f1 float64) {
	g, w := tokens(got), tokens(want)
	if len(g) == 0 || len(w) == 0 {
		return 0, 0, 0
	}
	counts := map[string]int{}
	for _, tok := range w {
		counts[tok]++
	}
	common := 0
	for _, tok := range g {
		if counts[tok] > 0 {
			counts[tok]--
			common++
		}
	}
	if common == 0 {
		return 0, 0, 0
	}
	precision = float64(common) / float64(len(g))
	recall = float64(common) / float64(len(w))
	return precision, recall, 2 * precision * recall / (precision + recall)
}

func sameTitle(got, want string) bool {
	return strings.EqualFold(cleanSpace(got), cleanSpace(want))
}

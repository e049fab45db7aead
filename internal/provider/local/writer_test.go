package local

import (
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

var (
	reDropElem  = regexp.MustCompile(`(?is)<(script|style|noscript|svg|table|pre|figure)\b.*?</(script|style|noscript|svg|table|pre|figure)>`)
	reHeadOpen  = regexp.MustCompile(`(?i)<h[1-6][^>]*>`)
	reBlockTag  = regexp.MustCompile(`(?i)</?(p|div|li|ul|ol|h[1-6]|br|tr|blockquote|section|article|header|footer|dd|dt)\b[^>]*>`)
	reAnyTag    = regexp.MustCompile(`<[^>]*>`)
	reBlankRuns = regexp.MustCompile(`\n\s*\n\s*`)
)

// htmlToText turns an HTML page into plain paragraphs (headings as "# ").
func htmlToText(s string) string {
	s = reDropElem.ReplaceAllString(s, "\n\n")
	s = reHeadOpen.ReplaceAllString(s, "\n\n# ")
	s = reBlockTag.ReplaceAllString(s, "\n\n")
	s = reAnyTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(strings.Join(strings.Fields(l), " "))
	}
	return strings.TrimSpace(reBlankRuns.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// letters keeps only the lower-cased letters of s, so a sentence can be
// found in its source whatever the markup and spacing around it.
func letters(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

type source struct {
	name, text string
}

func loadSources(t *testing.T) []source {
	t.Helper()
	var out []source
	for _, f := range []string{"blog-post.html", "docs-page.html", "news-article.html", "release-notes.md", "meeting-minutes.txt"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "ingest", "testdata", f))
		if err != nil {
			continue
		}
		text := string(b)
		if strings.HasSuffix(f, ".html") {
			text = htmlToText(text)
		}
		out = append(out, source{f, text})
	}
	for _, d := range []string{"wikipedia", "ietf-1", "google-sre-book-1", "lwn-1", "quanta-1", "medium-1"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "testdata", "readability", d, "expected.html"))
		if err != nil {
			continue
		}
		out = append(out, source{d, htmlToText(string(b))})
	}
	if len(out) == 0 {
		testenv.Skip(t, "no test documents found (internal/ingest/testdata, /work/shared/testdata/readability)")
	}
	return out
}

func speakers(n int) []echogen.Speaker {
	names := []string{"Alex", "Sam", "Priya", "Jordan"}
	out := make([]echogen.Speaker, n)
	for i := range out {
		out[i] = echogen.Speaker{Name: names[i]}
	}
	return out
}

func TestWriteRealDocuments(t *testing.T) {
	srcs := loadSources(t)
	w := NewWriter()
	ctx := context.Background()
	long := 0
	for si, src := range srcs {
		pool := usableSentences(parseMarkdown(src.text))
		poolWords := 0
		for _, s := range pool {
			poolWords += s.words
		}
		srcLetters := letters(src.text)
		for _, n := range []int{1, 2, 4} {
			for _, minutes := range []int{3, 10, 30} {
				style := echogen.Styles()[(si+n+minutes)%len(echogen.Styles())]
				tone := (si+n+minutes)%2 == 0
				spec := echogen.ScriptSpec{Style: style, Speakers: speakers(n), TargetMinutes: minutes, Language: "en", Tone: tone}
				t.Run(fmt.Sprintf("%s/%dspk/%dmin", src.name, n, minutes), func(t *testing.T) {
					title, segs, err := w.Write(ctx, "", src.text, spec)
					if err != nil {
						t.Fatalf("Write: %v", err)
					}
					title2, segs2, err := w.Write(ctx, "", src.text, spec)
					if err != nil {
						t.Fatalf("Write again: %v", err)
					}
					if diff := cmp.Diff(segs, segs2); diff != "" || title != title2 {
						t.Fatalf("not deterministic (-first +second):\n%s", diff)
					}
					if title == "" || len([]rune(title)) > 81 {
						t.Errorf("title = %q", title)
					}
					if err := echogen.CheckSegments(segs); err != nil {
						t.Fatalf("CheckSegments: %v", err)
					}
					_, turns, err := build("", src.text, spec)
					if err != nil {
						t.Fatal(err)
					}
					if len(turns) != len(segs) {
						t.Fatalf("build gave %d turns, Write %d segments", len(turns), len(segs))
					}

					declared := map[string]bool{}
					for _, s := range spec.Speakers {
						declared[s.Name] = true
					}
					seen := map[string]bool{}
					total, used := 0, 0
					tones := styleFor(style).tones
					toned := 0
					for i, seg := range segs {
						if !declared[seg.Speaker] {
							t.Errorf("segment %d: undeclared speaker %q", i, seg.Speaker)
						}
						seen[seg.Speaker] = true
						if n > 1 && i > 0 && segs[i-1].Speaker == seg.Speaker {
							t.Errorf("segment %d: %s speaks twice in a row", i, seg.Speaker)
						}
						if seg.Content != turns[i].content() {
							t.Errorf("segment %d content differs from build", i)
						}
						if seg.Tone != "" {
							toned++
							if !tone {
								t.Errorf("segment %d: tone %q set though not asked", i, seg.Tone)
							} else if !slices.Contains(tones, seg.Tone) {
								t.Errorf("segment %d: tone %q not in %s's list %v", i, seg.Tone, style, tones)
							}
						}
						if strings.Contains(strings.ToLower(seg.Content), "("+seg.Tone+")") && seg.Tone != "" {
							t.Errorf("segment %d: tone word in content: %q", i, seg.Content)
						}
						total += len(strings.Fields(seg.Content))
						for _, s := range turns[i].sentences {
							used++
							if !strings.Contains(srcLetters, letters(s)) {
								t.Errorf("segment %d: sentence not from the source: %q", i, s)
							}
						}
					}
					if tone && toned == 0 {
						t.Errorf("tone asked but no segment has one")
					}
					if want := min(n, len(segs)); len(seen) != want {
						t.Errorf("%d speakers used, want %d", len(seen), want)
					}
					target := spec.TargetWords()
					if poolWords >= target {
						long++
						if total*5 < target*4 || total*5 > target*6 {
							t.Errorf("%d words, want %d ±20%%", total, target)
						}
					} else {
						// Too short: every usable sentence, nothing more.
						if used != len(pool) {
							t.Errorf("short source: %d of %d usable sentences used", used, len(pool))
						}
						if total > target*6/5 {
							t.Errorf("short source: %d words exceeds target %d", total, target)
						}
					}
				})
			}
		}
	}
	if long == 0 {
		t.Log("no document was long enough for any target; the ±20% check did not run")
	}
	t.Logf("%d source/length cases checked against ±20%%", long)
}

func TestWriteShortSource(t *testing.T) {
	md := "# Allotment news\n\nThe treasurer reported that the new water tank cost less than expected. " +
		"The society agreed to spend the savings on a shared compost bay near the east gate.\n\nOk.\n"
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			spec := echogen.ScriptSpec{Style: echogen.StyleCoffeeChat, Speakers: speakers(2), TargetMinutes: 10, Language: lang}
			title, turns, err := build("", md, spec)
			if err != nil {
				t.Fatal(err)
			}
			if title != "Allotment news" {
				t.Errorf("title = %q, want the first heading", title)
			}
			var sents []string
			total := 0
			for _, tr := range turns {
				sents = append(sents, tr.sentences...)
				total += tr.words()
				if lang != "en" && tr.lead != "" {
					t.Errorf("connector %q in a %s script", tr.lead, lang)
				}
				if lang != "en" && len(tr.sentences) == 0 {
					t.Errorf("line without source text in a %s script", lang)
				}
			}
			want := []string{
				"The treasurer reported that the new water tank cost less than expected.",
				"The society agreed to spend the savings on a shared compost bay near the east gate.",
			}
			if diff := cmp.Diff(want, sents); diff != "" {
				t.Errorf("sentences (-want +got):\n%s", diff)
			}
			if total > 60 {
				t.Errorf("%d words: padded (target %d)", total, spec.TargetWords())
			}
		})
	}
}

func TestWriteNoText(t *testing.T) {
	spec := echogen.ScriptSpec{Style: echogen.StyleSerious, Speakers: speakers(2), TargetMinutes: 3, Language: "en"}
	for name, md := range map[string]string{
		"empty":        "",
		"blank":        "  \n\n\t\n",
		"heading only": "# Title\n\n## Section",
		"code only":    "```\nfmt.Println(\"hello there my dear friends\")\n```\n",
		"boilerplate":  "Click here to subscribe to our newsletter today.\n\nAll rights reserved by the company.",
		"fragments":    "Home\n\nAbout us\n\n- one\n- two",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := NewWriter().Write(context.Background(), "T", md, spec)
			if echogen.ErrorKind(err) != echogen.KindInvalid {
				t.Fatalf("err = %v, want KindInvalid", err)
			}
			var e *echogen.Error
			if !asError(err, &e) || e.Code != "no_text" {
				t.Errorf("err = %v, want code no_text", err)
			}
		})
	}
}

func asError(err error, target **echogen.Error) bool {
	e, ok := err.(*echogen.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestWriteBadSpec(t *testing.T) {
	md := "The treasurer reported that the new water tank cost less than expected."
	for name, spec := range map[string]echogen.ScriptSpec{
		"no speakers":   {Speakers: nil, TargetMinutes: 3},
		"five speakers": {Speakers: append(speakers(4), echogen.Speaker{Name: "E"}), TargetMinutes: 3},
		"blank name":    {Speakers: []echogen.Speaker{{Name: " "}}, TargetMinutes: 3},
		"zero minutes":  {Speakers: speakers(1), TargetMinutes: 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := NewWriter().Write(context.Background(), "", md, spec); echogen.ErrorKind(err) != echogen.KindInvalid {
				t.Errorf("err = %v, want KindInvalid", err)
			}
		})
	}
}

func TestWriteCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spec := echogen.ScriptSpec{Speakers: speakers(1), TargetMinutes: 1}
	if _, _, err := NewWriter().Write(ctx, "", "Some sentence that is long enough here.", spec); err == nil {
		t.Error("no error for a canceled context")
	}
}

const markdownHeavy = "---\ntitle: front matter\n---\n\n" +
	"# Building **fast** services\n\n" +
	"Our [team](https://example.com/team) rewrote the `scheduler` in *Go* last year. " +
	"The new design cut latency by 3.5 times, e.g. for batch jobs, according to Dr. Smith.\n\n" +
	"![diagram](https://example.com/d.png)\n\n" +
	"## What changed\n\n" +
	"- Workers now use **jittered** exponential backoff between attempts.\n" +
	"- The `PermanentError` type fails a job without using up its attempts.\n" +
	"1. Periodic jobs are planned once per minute instead of once per second.\n\n" +
	"```go\nfunc main() { fmt.Println(\"this code should never be spoken aloud\") }\n```\n\n" +
	"> Quoted: the old scheduler was ~~never~~ rarely the bottleneck in production.\n\n" +
	"| col | col |\n|---|---|\n| a table row should be skipped | x |\n\n" +
	"See <https://example.com/docs> and [the docs][1] for the full list of changes.\n\n" +
	"[1]: https://example.com/docs\n"

func TestWriteMarkdownHeavy(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		spec := echogen.ScriptSpec{Style: echogen.StyleTechTalk, Speakers: speakers(n), TargetMinutes: 1, Language: "en", Tone: true}
		title, segs, err := NewWriter().Write(context.Background(), "", markdownHeavy, spec)
		if err != nil {
			t.Fatal(err)
		}
		if title != "Building fast services" {
			t.Errorf("title = %q", title)
		}
		var all strings.Builder
		for _, s := range segs {
			all.WriteString(s.Content + "\n")
		}
		text := all.String()
		for _, bad := range []string{"](", "`", "#", "**", "~~", "https://", "this code", "table row", "front matter", "|"} {
			if strings.Contains(text, bad) {
				t.Errorf("%d speakers: script contains %q:\n%s", n, bad, text)
			}
		}
		for _, good := range []string{
			"Our team rewrote the scheduler in Go last year.",
			"The new design cut latency by 3.5 times, e.g. for batch jobs, according to Dr. Smith.",
			"The PermanentError type fails a job without using up its attempts.",
		} {
			if !strings.Contains(text, good) {
				t.Errorf("%d speakers: script lacks %q:\n%s", n, good, text)
			}
		}
	}
}

func TestSplitSentences(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Dr. Smith met the team. They left at 3.5 p.m. sharp! Why? Because.",
			[]string{"Dr. Smith met the team.", "They left at 3.5 p.m. sharp!", "Why?", "Because."}},
		{"Tools, e.g. linters, help. So do tests, i.e. checks.", []string{"Tools, e.g. linters, help.", "So do tests, i.e. checks."}},
		{"J. R. R. Tolkien wrote it. “It was good.” He said so.", []string{"J. R. R. Tolkien wrote it.", "“It was good.”", "He said so."}},
		{"Version 2.3 ships today. Visit example.com now", []string{"Version 2.3 ships today.", "Visit example.com now"}},
		{"no terminal punctuation", []string{"no terminal punctuation"}},
	} {
		if diff := cmp.Diff(tc.want, splitSentences(tc.in)); diff != "" {
			t.Errorf("splitSentences(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestTitle(t *testing.T) {
	spec := echogen.ScriptSpec{Speakers: speakers(1), TargetMinutes: 1}
	long := strings.Repeat("The quick brown fox jumps over the lazy dog again ", 4) + "and stops."
	for _, tc := range []struct{ name, title, md, want string }{
		{"given", "  My   Episode ", "# Heading\n\nSome sentence that is long enough here.", "My Episode"},
		{"heading", "", "Intro text that is long enough to count.\n\n## Second heading\n\nMore text here for the listeners.", "Second heading"},
		{"first sentence", "", "A plain first sentence for the title. Then more.", "A plain first sentence for the title."},
		{"long sentence cut", "", long, "The quick brown fox jumps over the lazy dog again The quick brown fox jumps over…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := NewWriter().Write(context.Background(), tc.title, tc.md, spec)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("title = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitLong(t *testing.T) {
	word := strings.Repeat("abcdefghi ", 2500) // 25,000 runes
	md := "This is a very long sentence " + word + "that finally ends."
	spec := echogen.ScriptSpec{Speakers: speakers(2), TargetMinutes: 60, Language: "fr"}
	_, segs, err := NewWriter().Write(context.Background(), "", md, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want the sentence split in at least 3", len(segs))
	}
	var got []string
	for _, s := range segs {
		got = append(got, s.Content)
	}
	if strings.Join(strings.Fields(strings.Join(got, " ")), " ") != strings.Join(strings.Fields(md), " ") {
		t.Error("split pieces do not add up to the sentence")
	}
}

func TestToneShare(t *testing.T) {
	for _, style := range echogen.Styles() {
		turns := make([]turn, 100)
		p := styleFor(style)
		markTones(turns, p)
		n := 0
		for _, tr := range turns {
			if tr.tone != "" {
				n++
			}
		}
		if n != p.tonePercent {
			t.Errorf("%s: %d of 100 lines toned, want %d", style, n, p.tonePercent)
		}
	}
}

package local

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// block is one paragraph, list item or quote of the source, as plain text.
type block struct {
	text    string
	section int // index of the heading the block sits under (-1: before any)
}

// document is the Markdown source reduced to spoken-friendly plain text.
type document struct {
	headings []string
	blocks   []block
}

var (
	reImage      = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	reLink       = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	reRefLink    = regexp.MustCompile(`\[([^\]]+)\]\[[^\]]*\]`)
	reRefDef     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*\S+`)
	reAutolink   = regexp.MustCompile(`<(?:https?|ftp|mailto):[^>\s]*>`)
	reBareURL    = regexp.MustCompile(`(?:https?://|www\.)[^\s)\]]+`)
	reHTMLTag    = regexp.MustCompile(`</?[A-Za-z][^<>]*>`)
	reFootnote   = regexp.MustCompile(`\[\^?[0-9]+\]`)
	reInlineCode = regexp.MustCompile("`+([^`]*)`+")
	reStrong     = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	reEmStar     = regexp.MustCompile(`(^|[^\w*])\*(\S(?:[^*]*?\S)?)\*`)
	reEmUnder    = regexp.MustCompile(`(^|[^\w_])_(\S(?:[^_]*?\S)?)_([^\w]|$)`)
	reStrike     = regexp.MustCompile(`~~([^~]+)~~`)
	reListMarker = regexp.MustCompile(`^\s*(?:[-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?`)
	reHeading    = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	reSetext     = regexp.MustCompile(`^\s{0,3}(=+|-+)\s*$`)
	reRule       = regexp.MustCompile(`^\s{0,3}([-*_]\s*){3,}$`)
	reFence      = regexp.MustCompile("^\\s{0,3}(```|~~~)")
	reSpaces     = regexp.MustCompile(`\s+`)
)

// parseMarkdown strips Markdown syntax and returns headings and blocks of
// plain text. Code (fenced or indented), tables, front matter, images and
// link targets are dropped; link texts, emphasis contents and inline code
// contents are kept.
func parseMarkdown(md string) document {
	md = strings.ReplaceAll(md, "\r\n", "\n")
	md = strings.ReplaceAll(md, "\r", "\n")
	lines := strings.Split(md, "\n")
	var doc document
	section := -1
	var para []string
	flush := func() {
		if len(para) == 0 {
			return
		}
		text := inline(strings.Join(para, " "))
		if text != "" {
			doc.blocks = append(doc.blocks, block{text: text, section: section})
		}
		para = para[:0]
	}
	i := 0
	// YAML front matter.
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for j := 1; j < len(lines); j++ {
			if t := strings.TrimSpace(lines[j]); t == "---" || t == "..." {
				i = j + 1
				break
			}
		}
	}
	inFence := false
	fence := ""
	for ; i < len(lines); i++ {
		line := lines[i]
		trim := strings.TrimSpace(line)
		if m := reFence.FindStringSubmatch(line); m != nil {
			if !inFence {
				flush()
				inFence, fence = true, m[1]
				continue
			}
			if strings.HasPrefix(trim, fence) {
				inFence = false
				continue
			}
		}
		if inFence {
			continue
		}
		switch {
		case trim == "":
			flush()
		case reHeading.MatchString(line):
			flush()
			h := inline(reHeading.FindStringSubmatch(line)[2])
			doc.headings = append(doc.headings, h)
			section = len(doc.headings) - 1
		case len(para) == 1 && reSetext.MatchString(line) && !reListMarker.MatchString(para[0]):
			h := inline(para[0])
			para = para[:0]
			doc.headings = append(doc.headings, h)
			section = len(doc.headings) - 1
		case reRule.MatchString(line):
			flush()
		case strings.HasPrefix(trim, "|") || strings.HasPrefix(line, "    ") && len(para) == 0 || strings.HasPrefix(line, "\t") && len(para) == 0:
			// Table rows and indented code are not spoken.
			flush()
		case reRefDef.MatchString(line):
			flush()
		case reListMarker.MatchString(line):
			flush()
			para = append(para, reListMarker.ReplaceAllString(line, ""))
		default:
			for strings.HasPrefix(trim, ">") {
				trim = strings.TrimSpace(strings.TrimPrefix(trim, ">"))
			}
			para = append(para, trim)
		}
	}
	flush()
	return doc
}

// inline strips inline Markdown and HTML from one block of text.
func inline(s string) string {
	s = reImage.ReplaceAllString(s, "")
	s = reLink.ReplaceAllString(s, "$1")
	s = reRefLink.ReplaceAllString(s, "$1")
	s = reAutolink.ReplaceAllString(s, "")
	s = reHTMLTag.ReplaceAllString(s, "")
	s = reBareURL.ReplaceAllString(s, "")
	s = reFootnote.ReplaceAllString(s, "")
	s = reInlineCode.ReplaceAllString(s, "$1")
	s = strings.ReplaceAll(s, "`", "")
	s = reStrong.ReplaceAllString(s, "$2")
	s = reEmStar.ReplaceAllString(s, "$1$2")
	s = reEmUnder.ReplaceAllString(s, "$1$2$3")
	s = reStrike.ReplaceAllString(s, "$1")
	s = strings.ReplaceAll(s, `\`, "")
	s = html.UnescapeString(s)
	s = strings.Map(func(r rune) rune {
		if r == '\u00a0' || r == '\u200b' || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimLeft(s, "#> ")
	return strings.TrimSpace(reSpaces.ReplaceAllString(s, " "))
}

// abbreviations end with a period that does not end a sentence.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true, "jr": true, "st": true,
	"mt": true, "vs": true, "etc": true, "inc": true, "ltd": true, "co": true, "corp": true, "fig": true,
	"no": true, "nos": true, "vol": true, "approx": true, "dept": true, "est": true, "gen": true, "gov": true,
	"jan": true, "feb": true, "mar": true, "apr": true, "jun": true, "jul": true, "aug": true, "sep": true,
	"sept": true, "oct": true, "nov": true, "dec": true, "al": true, "cf": true, "ca": true, "pp": true,
	"ed": true, "eds": true, "rev": true, "sen": true, "rep": true, "gov't": true, "u.s": true, "e.g": true,
	"i.e": true, "a.m": true, "p.m": true, "ph.d": true,
}

// splitSentences splits one block into sentences. A '.', '!', '?' or '…'
// ends a sentence when whitespace follows (after any closing quotes or
// brackets), the word before it is not an abbreviation or an initial, and
// the next word does not start in lower case.
func splitSentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r != '.' && r != '!' && r != '?' && r != '…' && r != '。' {
			continue
		}
		j := i + 1
		for j < len(rs) && (rs[j] == '.' || rs[j] == '!' || rs[j] == '?' || strings.ContainsRune(`"'”’)]»`, rs[j])) {
			j++
		}
		if j < len(rs) && !unicode.IsSpace(rs[j]) && r != '。' {
			continue // "3.5", "example.com", "e.g.x"
		}
		if r == '.' && j == i+1 {
			// The word before the period.
			k := i
			for k > start && !unicode.IsSpace(rs[k-1]) {
				k--
			}
			word := strings.ToLower(strings.Trim(string(rs[k:i]), `"'“‘([`))
			if abbreviations[word] || utf8.RuneCountInString(word) == 1 && unicode.IsLetter([]rune(word)[0]) {
				continue
			}
		}
		// Next word starting in lower case or a digit: not a sentence break.
		n := j
		for n < len(rs) && unicode.IsSpace(rs[n]) {
			n++
		}
		if n < len(rs) && (unicode.IsLower(rs[n]) || unicode.IsDigit(rs[n]) && r == '.') {
			continue
		}
		if s := strings.TrimSpace(string(rs[start:j])); s != "" {
			out = append(out, s)
		}
		start = j
		i = j - 1
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// boilerplate marks sentences that are site furniture, not article text.
var boilerplate = []string{
	"click here", "subscribe", "sign up", "sign in", "log in", "newsletter", "cookie", "all rights reserved",
	"copyright", "©", "share this", "read more", "follow us", "advertisement", "terms of service",
	"privacy policy", "enable javascript", "your browser", "skip to", "related articles", "leave a comment",
}

// usable reports whether a sentence is worth speaking: at least minWords
// words, mostly letters, and not boilerplate.
func usable(s string) bool {
	if len(strings.Fields(s)) < minWords {
		return false
	}
	letters, other := 0, 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsSpace(r):
		default:
			other++
		}
	}
	if letters == 0 || float64(letters)/float64(letters+other) < 0.7 {
		return false
	}
	lower := strings.ToLower(s)
	for _, b := range boilerplate {
		if strings.Contains(lower, b) {
			return false
		}
	}
	return true
}

// minWords is the fewest words a sentence needs to be spoken.
const minWords = 5

// splitLong cuts text longer than max runes at word boundaries.
func splitLong(s string, max int) []string {
	var out []string
	for utf8.RuneCountInString(s) > max {
		rs := []rune(s)
		cut := max
		for cut > max/2 && !unicode.IsSpace(rs[cut]) {
			cut--
		}
		if cut <= max/2 {
			cut = max
		}
		out = append(out, strings.TrimSpace(string(rs[:cut])))
		s = strings.TrimSpace(string(rs[cut:]))
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// shorten cuts s to about n runes at a word boundary.
func shorten(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	cut := n
	for cut > n/2 && !unicode.IsSpace(rs[cut]) {
		cut--
	}
	if cut <= n/2 {
		cut = n
	}
	return strings.TrimRight(string(rs[:cut]), " ,;:-") + "…"
}

// wordCount counts whitespace-separated words.
func wordCount(s string) int { return len(strings.Fields(s)) }

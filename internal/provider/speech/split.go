// Package speech holds what the text-to-speech adapters share: cutting a
// long text into pieces a provider takes in one request, and reading,
// writing and joining the audio the pieces come back as.
package speech

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Runes measures text in characters, as OpenAI and ElevenLabs count it.
func Runes(s string) int { return utf8.RuneCountInString(s) }

// Bytes measures text in UTF-8 bytes, as Gemini counts its input.
func Bytes(s string) int { return len(s) }

// Split cuts text into trimmed, non-empty pieces of at most limit, as size
// measures them, packing whole sentences together. A sentence over limit
// is cut between words, and a word over limit between characters, so no
// piece is ever over limit (a limit under one character's size aside).
func Split(text string, limit int, size func(string) int) []string {
	var p packer
	p.limit, p.size = limit, size
	for _, sentence := range cut(text, sentenceEnd) {
		if p.fits(sentence) {
			p.add(sentence)
			continue
		}
		for _, word := range cut(sentence, wordEnd) {
			if p.fits(word) {
				p.add(word)
				continue
			}
			for _, r := range word {
				p.add(string(r))
			}
		}
	}
	return p.done()
}

// Lines cuts text into pieces of whole lines, each at most limit unless a
// single line is longer, which then is a piece of its own. It is for
// scripts whose lines must stay whole ("Name: line").
func Lines(text string, limit int, size func(string) int) []string {
	var p packer
	p.limit, p.size = limit, size
	for _, line := range strings.SplitAfter(text, "\n") {
		p.add(line)
	}
	return p.done()
}

// packer fills pieces greedily with the units it is given.
type packer struct {
	limit  int
	size   func(string) int
	pieces []string
	cur    strings.Builder
	n      int
}

// add appends unit to the piece, or starts the next piece with it when
// the piece would grow over the limit. A unit's trailing space does not
// count: it is trimmed if the piece ends there.
func (p *packer) add(unit string) {
	if p.n > 0 && p.n+p.size(strings.TrimRightFunc(unit, unicode.IsSpace)) > p.limit {
		p.flush()
	}
	p.cur.WriteString(unit)
	p.n += p.size(unit)
}

// fits tells whether unit alone fits in a piece.
func (p *packer) fits(unit string) bool {
	return p.size(strings.TrimRightFunc(unit, unicode.IsSpace)) <= p.limit
}

func (p *packer) flush() {
	if s := strings.TrimSpace(p.cur.String()); s != "" {
		p.pieces = append(p.pieces, s)
	}
	p.cur.Reset()
	p.n = 0
}

func (p *packer) done() []string {
	p.flush()
	return p.pieces
}

// cut splits s after each position end reports, keeping every character.
func cut(s string, end func(s string, i int, r rune) int) []string {
	var units []string
	start := 0
	for i, r := range s {
		if i < start {
			continue // inside a unit end already consumed
		}
		if j := end(s, i, r); j > 0 {
			units = append(units, s[start:j])
			start = j
		}
	}
	if start < len(s) {
		units = append(units, s[start:])
	}
	return units
}

// sentenceEnd returns where the unit ending at s[i] stops, or 0 when
// s[i] ends none: after a line break, after a full stop, question or
// exclamation mark (with any closing quotes or brackets) followed by
// space, and right after the CJK marks, which take no space.
func sentenceEnd(s string, i int, r rune) int {
	switch {
	case r == '\n':
		return i + 1
	case strings.ContainsRune("。！？", r):
		return skip(s, i+utf8.RuneLen(r), isCloser)
	case strings.ContainsRune(".!?…", r):
		j := skip(s, i+utf8.RuneLen(r), isCloser)
		if j == len(s) {
			return j
		}
		if k := skip(s, j, isBlank); k > j {
			return k
		}
	}
	return 0
}

// wordEnd ends a unit after each run of spaces.
func wordEnd(s string, i int, r rune) int {
	if !unicode.IsSpace(r) {
		return 0
	}
	return skip(s, i, unicode.IsSpace)
}

func isCloser(r rune) bool { return strings.ContainsRune(`"')]}»”’」』`, r) }

func isBlank(r rune) bool { return r != '\n' && unicode.IsSpace(r) }

// skip returns the index after the run of runes from s[i] that ok accepts.
func skip(s string, i int, ok func(rune) bool) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !ok(r) {
			break
		}
		i += n
	}
	return i
}

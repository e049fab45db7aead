package local

import (
	"bytes"
	"cmp"
	"context"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strings"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/echogen/server/internal/echogen"
)

// The cover's geometry, in pixels of a coverSide square: the smallest
// cover Apple Podcasts takes.
const (
	coverSide     = 1400
	titleWidth    = coverSide * 8 / 10 // the widest a title line may be
	titleHeight   = coverSide * 6 / 10 // the tallest the title block may be
	titleCentre   = coverSide * 46 / 100
	titleMaxLines = 5
	titleMaxPx    = 168
	titleMinPx    = 44
	titleMaxRunes = 400 // twice what fits at titleMinPx: layout cuts the rest with an ellipsis
	wordmark      = "EchoGen"
	wordmarkPx    = 44
	wordmarkBase  = coverSide - 110 // the wordmark's baseline
)

// CoverPainter is the offline cover artist: it typesets the episode title,
// large, centred and word-wrapped, in the Go fonts on a diagonal
// two-colour gradient, with a small wordmark, as a 1400×1400 PNG. The
// colours come from a hash of the title, so a title always gives the same
// bytes; the prompt, model, size and quality are ignored. Letters the Go
// fonts lack (CJK, for one) are left out; a title with none left is
// "Untitled", in the colours of the real title.
//
// Make one with NewCoverPainter; it is safe for concurrent use.
type CoverPainter struct {
	bold, regular *opentype.Font
}

var _ echogen.ImageGen = (*CoverPainter)(nil)

// NewCoverPainter returns a CoverPainter.
func NewCoverPainter() *CoverPainter {
	return &CoverPainter{bold: mustParse(gobold.TTF), regular: mustParse(goregular.TTF)}
}

func mustParse(ttf []byte) *opentype.Font {
	f, err := opentype.Parse(ttf)
	if err != nil {
		panic("local: a compiled-in Go font does not parse: " + err.Error())
	}
	return f
}

// Generate implements echogen.ImageGen; it needs no key.
func (p *CoverPainter) Generate(ctx context.Context, _ string, req echogen.ImageRequest) (*echogen.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: "cover_canceled", Message: "the cover was canceled", Err: err}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, p.paint(req.Title)); err != nil {
		return nil, &echogen.Error{Kind: echogen.KindInternal, Code: "cover_failed", Message: "the cover could not be encoded", Err: err}
	}
	return &echogen.Image{Data: b.Bytes(), ContentType: "image/png"}, nil
}

// paint draws the cover of title.
func (p *CoverPainter) paint(title string) *image.RGBA {
	title = cmp.Or(strings.Join(strings.Fields(title), " "), "Untitled")
	img := background(title)
	text := p.drawable(title)
	if text == "" {
		text = "Untitled"
	}
	size, lines := p.layout(text)

	face := newFace(p.bold, size)
	defer face.Close()
	m := face.Metrics()
	lineH := fixed.Int26_6(float64(m.Ascent+m.Descent) * 1.12)
	block := lineH*fixed.Int26_6(len(lines)-1) + m.Ascent + m.Descent
	y := fixed.I(titleCentre) - block/2 + m.Ascent
	shadow := fixed.Int26_6(size * 64 / 28)
	d := font.Drawer{Dst: img, Face: face}
	for _, line := range lines {
		x := (fixed.I(coverSide) - d.MeasureString(line)) / 2
		// A soft offset shadow lifts the title off the lighter corner.
		d.Src, d.Dot = image.NewUniform(color.NRGBA{0, 0, 0, 80}), fixed.Point26_6{X: x + shadow, Y: y + shadow}
		d.DrawString(line)
		d.Src, d.Dot = image.White, fixed.Point26_6{X: x, Y: y}
		d.DrawString(line)
		y += lineH
	}

	mark := newFace(p.regular, wordmarkPx)
	defer mark.Close()
	d = font.Drawer{Dst: img, Face: mark, Src: image.NewUniform(color.NRGBA{255, 255, 255, 200})}
	w := d.MeasureString(wordmark)
	d.Dot = fixed.Point26_6{X: (fixed.I(coverSide) - w) / 2, Y: fixed.I(wordmarkBase)}
	d.DrawString(wordmark)
	rule := image.Rect(coverSide/2-60, wordmarkBase-wordmarkPx-36, coverSide/2+60, wordmarkBase-wordmarkPx-30)
	draw.Draw(img, rule, image.NewUniform(color.NRGBA{255, 255, 255, 140}), image.Point{}, draw.Over)
	return img
}

// drawable keeps the letters the title font has, spaces collapsed; ""
// when no letter or digit is left.
func (p *CoverPainter) drawable(title string) string {
	if r := []rune(title); len(r) > titleMaxRunes {
		title = string(r[:titleMaxRunes])
	}
	var buf sfnt.Buffer
	keep := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if i, err := p.bold.GlyphIndex(&buf, r); err != nil || i == 0 {
			return ' ' // a missing letter parts the words around it
		}
		return r
	}, title)
	if !strings.ContainsFunc(keep, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return ""
	}
	return strings.Join(strings.Fields(keep), " ")
}

// layout finds the largest size at which text wraps into titleMaxLines
// lines within the title box. At titleMinPx a text that still does not
// fit is cut after the last line, with an ellipsis.
func (p *CoverPainter) layout(text string) (float64, []string) {
	words := strings.Fields(text)
	for size := float64(titleMaxPx); ; size -= 4 {
		face := newFace(p.bold, size)
		lines := wrap(face, words)
		m := face.Metrics()
		height := float64(m.Ascent+m.Descent) / 64 * (1.12*float64(len(lines)-1) + 1)
		if len(lines) <= titleMaxLines && height <= titleHeight {
			face.Close()
			return size, lines
		}
		if size-4 < titleMinPx {
			lines = lines[:min(len(lines), titleMaxLines)]
			last := []rune(lines[len(lines)-1])
			for len(last) > 0 && font.MeasureString(face, string(last)+"…") > fixed.I(titleWidth) {
				last = last[:len(last)-1]
			}
			lines[len(lines)-1] = strings.TrimSpace(string(last)) + "…"
			face.Close()
			return size, lines
		}
		face.Close()
	}
}

// wrap fills lines up to titleWidth, word by word; a word wider than a
// line is cut between letters.
func wrap(face font.Face, words []string) []string {
	fits := func(s string) bool { return font.MeasureString(face, s) <= fixed.I(titleWidth) }
	var lines []string
	line := ""
	for _, w := range words {
		for !fits(w) {
			r := []rune(w)
			n := len(r) - 1
			for n > 1 && !fits(string(r[:n])) {
				n--
			}
			if line != "" {
				lines, line = append(lines, line), ""
			}
			lines, w = append(lines, string(r[:n])), string(r[n:])
		}
		switch {
		case line == "":
			line = w
		case fits(line + " " + w):
			line += " " + w
		default:
			lines, line = append(lines, line), w
		}
	}
	return append(lines, line)
}

func newFace(f *opentype.Font, px float64) font.Face {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic("local: a face of a parsed font: " + err.Error()) // only a nil font fails
	}
	return face
}

// background is the title's gradient, from the top-left corner to the
// bottom-right.
func background(title string) *image.RGBA {
	from, to := palette(title)
	// The colour depends only on x+y, so row y is the ramp of the
	// diagonals from y on.
	n := 2*coverSide - 1
	ramp := make([]uint8, 0, 4*n)
	for i := range n {
		t := float64(i) / float64(n-1)
		mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*t)) }
		ramp = append(ramp, mix(from.R, to.R), mix(from.G, to.G), mix(from.B, to.B), 255)
	}
	img := image.NewRGBA(image.Rect(0, 0, coverSide, coverSide))
	for y := range coverSide {
		copy(img.Pix[y*img.Stride:(y+1)*img.Stride], ramp[4*y:])
	}
	return img
}

// palette derives the gradient's two colours from the title: a hue from
// its hash and a neighbour 35–85° on, both dark enough for white text to
// keep a contrast of at least 4.5:1 (WCAG AA).
func palette(title string) (from, to color.RGBA) {
	h := fnv.New64a()
	h.Write([]byte(title))
	sum := h.Sum64()
	hue := float64(sum % 360)
	shift := 35 + float64(sum>>16%50)
	return readable(hue, 0.65, 0.45), readable(math.Mod(hue+shift, 360), 0.75, 0.32)
}

// readable returns the HSL colour, darkened until white on it reads at
// 4.5:1: a relative luminance of at most 0.1833.
func readable(hue, sat, light float64) color.RGBA {
	for {
		c := hsl(hue, sat, light)
		if luminance(c) <= 0.18 || light <= 0 {
			return c
		}
		light -= 0.02
	}
}

func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := l - c/2
	to8 := func(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(1, v+m)) * 255)) }
	return color.RGBA{to8(r), to8(g), to8(b), 255}
}

// luminance is sRGB relative luminance, as WCAG defines it.
func luminance(c color.RGBA) float64 {
	lin := func(v uint8) float64 {
		f := float64(v) / 255
		if f <= 0.04045 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

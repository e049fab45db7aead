package local

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/echogen/server/internal/echogen"
)

func TestCoverIsADeterministicPNG(t *testing.T) {
	t.Parallel()
	req := echogen.ImageRequest{Title: "The Deep Sea, Explained", Prompt: "ignored", Size: "512x512"}
	a, err := NewCoverPainter().Generate(context.Background(), "", req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if a.ContentType != "image/png" {
		t.Errorf("ContentType = %q, want image/png", a.ContentType)
	}
	img, err := png.Decode(bytes.NewReader(a.Data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, 1400, 1400) {
		t.Errorf("bounds = %v, want 1400×1400", got)
	}
	b, err := NewCoverPainter().Generate(context.Background(), "", echogen.ImageRequest{Title: " The Deep  Sea,\nExplained "})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !bytes.Equal(a.Data, b.Data) {
		t.Errorf("the same title painted twice gives different bytes")
	}

}

func TestCoverEmptyTitle(t *testing.T) {
	t.Parallel()
	p := NewCoverPainter()
	if !bytes.Equal(p.paint(" \n").Pix, p.paint("Untitled").Pix) {
		t.Errorf("an empty title is not painted as Untitled")
	}
}

func TestCoverColours(t *testing.T) {
	t.Parallel()
	titles := []string{"Deep Sea", "Mountain Air", "deep sea", "The History of Bread", "東京の夜", "Ἀρχιμήδης", "42", "Untitled"}
	seen := map[[2]color.RGBA]string{}
	for _, title := range titles {
		from, to := palette(title)
		for _, c := range []struct {
			name string
			l    float64
		}{{"top-left", luminance(from)}, {"bottom-right", luminance(to)}} {
			// White on it must read at 4.5:1 or better.
			if contrast := 1.05 / (c.l + 0.05); contrast < 4.5 {
				t.Errorf("%q: white on the %s colour has contrast %.2f, want ≥ 4.5", title, c.name, contrast)
			}
		}
		if from == to {
			t.Errorf("%q: the gradient is one colour %v", title, from)
		}
		key := [2]color.RGBA{from, to}
		if other, ok := seen[key]; ok {
			t.Errorf("%q and %q have the same colours", title, other)
		}
		seen[key] = title
	}

	// The painted corners are the palette's colours.
	img := NewCoverPainter().paint("Deep Sea")
	from, to := palette("Deep Sea")
	if got := img.RGBAAt(0, 0); got != from {
		t.Errorf("top-left pixel = %v, want %v", got, from)
	}
	if got := img.RGBAAt(coverSide-1, coverSide-1); got != to {
		t.Errorf("bottom-right pixel = %v, want %v", got, to)
	}
}

// inked returns the bounding box of the pixels the title and wordmark
// changed.
func inked(t *testing.T, title string) image.Rectangle {
	t.Helper()
	img := NewCoverPainter().paint(title)
	bg := background(strings.Join(strings.Fields(title), " "))
	var box image.Rectangle
	for y := range coverSide {
		row := img.Pix[y*img.Stride : (y+1)*img.Stride]
		bgRow := bg.Pix[y*bg.Stride : (y+1)*bg.Stride]
		if bytes.Equal(row, bgRow) {
			continue
		}
		for x := 0; x < coverSide; x++ {
			if !bytes.Equal(row[4*x:4*x+4], bgRow[4*x:4*x+4]) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func TestCoverTextStaysInside(t *testing.T) {
	t.Parallel()
	margin := coverSide * 5 / 100
	inner := image.Rect(margin, margin, coverSide-margin, coverSide-margin)
	for _, title := range []string{
		"AI",
		"The Surprisingly Long and Winding History of the Humble Bread Loaf Across Seven Centuries of European Baking",
		strings.Repeat("Pneumonoultramicroscopicsilicovolcanoconiosis", 3),
		strings.Repeat("words upon words ", 40),
		"WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW WWWWWWWWWWWWWW",
	} {
		box := inked(t, title)
		if box.Empty() {
			t.Errorf("%.30q: nothing was drawn", title)
			continue
		}
		if !box.In(inner) {
			t.Errorf("%.30q: text at %v reaches the outer 5%% margin (inside %v)", title, box, inner)
		}
	}
}

func TestCoverLayout(t *testing.T) {
	t.Parallel()
	p := NewCoverPainter()
	tests := []struct {
		title    string
		maxLines int
		minSize  float64
		ellipsis bool
	}{
		{"AI", 1, titleMaxPx, false},
		{"A Short Title", 2, 100, false},
		{"The Surprisingly Long and Winding History of the Humble Bread Loaf Across Seven Centuries", 5, titleMinPx, false},
		{strings.Repeat("words upon words ", 40), 5, titleMinPx, true},
	}
	for _, tt := range tests {
		size, lines := p.layout(p.drawable(tt.title))
		face := newFace(p.bold, size)
		if len(lines) == 0 || len(lines) > tt.maxLines {
			t.Errorf("%.30q: %d lines, want 1 to %d", tt.title, len(lines), tt.maxLines)
		}
		if size < tt.minSize {
			t.Errorf("%.30q: size %v, want at least %v", tt.title, size, tt.minSize)
		}
		for _, l := range lines {
			if w := font.MeasureString(face, l); w > fixed.I(titleWidth) || l == "" {
				t.Errorf("%.30q: line %q is %v wide, over %d", tt.title, l, w.Round(), titleWidth)
			}
		}
		if got := strings.HasSuffix(lines[len(lines)-1], "…"); got != tt.ellipsis {
			t.Errorf("%.30q: ellipsis = %v, want %v (%q)", tt.title, got, tt.ellipsis, lines)
		}
		face.Close()
	}
}

// TestCoverNonLatin: the Go fonts lack CJK; such letters are left out,
// and a title of nothing else is Untitled in its own colours.
func TestCoverNonLatin(t *testing.T) {
	t.Parallel()
	p := NewCoverPainter()
	for title, want := range map[string]string{
		"東京の夜":                "",
		"東京 Nights":           "Nights",
		"Москва — ночь":       "Москва — ночь",
		"Ça va? Ελληνικά!":    "Ça va? Ελληνικά!",
		"🎙️ Pod 🎧 Talk":       "Pod Talk",
		"서울" + "\u200b" + "2": "2",
	} {
		if got := p.drawable(title); got != want {
			t.Errorf("drawable(%q) = %q, want %q", title, got, want)
		}
		p.paint(title) // does not panic
	}
	if inked(t, "東京の夜") != inked(t, "Untitled") {
		t.Errorf("a title with no drawable letters is not typeset as Untitled")
	}
}

func TestCoverCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewCoverPainter().Generate(ctx, "", echogen.ImageRequest{Title: "Deep Sea"})
	if echogen.ErrorKind(err) != echogen.KindUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want a KindUnavailable wrapping context.Canceled", err)
	}
}

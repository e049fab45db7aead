package providerhttp_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/echogen/server/internal/provider/providerhttp"
)

func TestImageType(t *testing.T) {
	t.Parallel()
	var p, j bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	webp := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	tests := []struct {
		name string
		data []byte
		want string // "": not a picture a cover may be
	}{
		{"PNG", p.Bytes(), "image/png"},
		{"JPEG", j.Bytes(), "image/jpeg"},
		{"WebP", webp, "image/webp"},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00"), ""},
		{"SVG", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		got, ok := providerhttp.ImageType(tt.data)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: ImageType = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

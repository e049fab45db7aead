package gemini_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/providerhttp"
)

const (
	imageKey    = "AIzaSyTEST-image-key-123456"
	imagePrompt = `Create a professional podcast cover art for "Deep Sea". Minimalist style with good contrast.`
)

func imageSetup(t *testing.T, answer func(imagetest.Request) imagetest.Reply) (*imagetest.Server, *gemini.Client) {
	t.Helper()
	s := imagetest.New(t, imagetest.Gemini, answer)
	return s, gemini.New(gemini.Options{HTTPClient: s.Client(), BaseURL: s.URL, Timeout: 30 * time.Second})
}

func imageReply(r imagetest.Reply) func(imagetest.Request) imagetest.Reply {
	return func(imagetest.Request) imagetest.Reply { return r }
}

// imageBody is the generateContent body for imagePrompt with imageConfig
// ic (nil: none).
func imageBody(ic map[string]any) map[string]any {
	gc := map[string]any{"responseModalities": []any{"IMAGE"}}
	if ic != nil {
		gc["imageConfig"] = ic
	}
	return map[string]any{
		"contents":         []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": imagePrompt}}}},
		"generationConfig": gc,
	}
}

func TestGenerateImage(t *testing.T) {
	t.Parallel()
	small := imagetest.PNG(16, 16)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		req   echogen.ImageRequest
		rep   imagetest.Reply
		model string
		body  map[string]any
		ctype string
		w, h  int // of a PNG answer
	}{
		{
			name:  "defaults: Gemini 3.1 Flash Image, square, 1K",
			req:   echogen.ImageRequest{Prompt: imagePrompt, Title: "Deep Sea", Quality: "high"},
			model: "gemini-3.1-flash-image",
			body:  imageBody(map[string]any{"aspectRatio": "1:1"}),
			w:     1024, h: 1024,
		},
		{
			name:  "wide over 1K is 16:9 at 2K",
			req:   echogen.ImageRequest{Model: "models/gemini-3-pro-image", Prompt: imagePrompt, Size: "1792x1024"},
			rep:   imagetest.Reply{Image: small},
			model: "gemini-3-pro-image",
			body:  imageBody(map[string]any{"aspectRatio": "16:9", "imageSize": "2K"}),
			w:     16, h: 16,
		},
		{
			name:  "tall is 9:16",
			req:   echogen.ImageRequest{Prompt: imagePrompt, Size: "576x1024"},
			rep:   imagetest.Reply{Image: small},
			model: "gemini-3.1-flash-image",
			body:  imageBody(map[string]any{"aspectRatio": "9:16"}),
			w:     16, h: 16,
		},
		{
			name:  "the nearest shape, 4K",
			req:   echogen.ImageRequest{Prompt: imagePrompt, Size: "3000x2300"},
			rep:   imagetest.Reply{Image: small},
			model: "gemini-3.1-flash-image",
			body:  imageBody(map[string]any{"aspectRatio": "4:3", "imageSize": "4K"}),
			w:     16, h: 16,
		},
		{
			name:  "auto leaves the shape to the model",
			req:   echogen.ImageRequest{Prompt: imagePrompt, Size: "auto"},
			rep:   imagetest.Reply{Image: small},
			model: "gemini-3.1-flash-image",
			body:  imageBody(nil),
			w:     16, h: 16,
		},
		{
			name:  "text beside a JPEG",
			req:   echogen.ImageRequest{Prompt: imagePrompt},
			rep:   imagetest.Reply{Text: "Here is a calm, deep blue cover.", Image: jpg.Bytes()},
			model: "gemini-3.1-flash-image",
			body:  imageBody(map[string]any{"aspectRatio": "1:1"}),
			ctype: "image/jpeg",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := imageSetup(t, imageReply(tt.rep))
			img, err := c.Generate(context.Background(), imageKey, tt.req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			if reqs[0].APIKey != imageKey || reqs[0].Model != tt.model {
				t.Errorf("key, model = %q, %q; want the user's key and %q", reqs[0].APIKey, reqs[0].Model, tt.model)
			}
			if d := cmp.Diff(tt.body, reqs[0].Body); d != "" {
				t.Errorf("request body (-want +got):\n%s", d)
			}
			if tt.ctype != "" {
				if img.ContentType != tt.ctype {
					t.Errorf("ContentType = %q, want %q", img.ContentType, tt.ctype)
				}
				return
			}
			checkPNG(t, img, tt.w, tt.h)
		})
	}
}

func checkPNG(t *testing.T, img *echogen.Image, w, h int) {
	t.Helper()
	if img.ContentType != "image/png" {
		t.Errorf("ContentType = %q, want image/png", img.ContentType)
	}
	m, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := m.Bounds(); got != image.Rect(0, 0, w, h) {
		t.Errorf("bounds = %v, want %dx%d", got, w, h)
	}
}

// TestGenerateImageSkipsThoughts: Gemini 3 image models send drafts,
// marked thought, before the picture.
func TestGenerateImageSkipsThoughts(t *testing.T) {
	t.Parallel()
	part := func(pic []byte, thought bool) string {
		return fmt.Sprintf(`{"inlineData":{"mimeType":"image/png","data":%q},"thought":%t}`, base64.StdEncoding.EncodeToString(pic), thought)
	}
	raw := `{"candidates":[{"content":{"role":"model","parts":[` + part(imagetest.PNG(4, 4), true) + "," + part(imagetest.PNG(8, 8), false) +
		`]},"finishReason":"STOP"}]}`
	_, c := imageSetup(t, imageReply(imagetest.Reply{Raw: raw}))
	img, err := c.Generate(context.Background(), imageKey, echogen.ImageRequest{Prompt: imagePrompt})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	checkPNG(t, img, 8, 8)
}

type imageWant struct {
	kind       echogen.Kind
	code       string
	contains   string
	retryAfter time.Duration
}

func checkImageErr(t *testing.T, err error, want imageWant) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *echogen.Error", err, err)
	}
	if e.Kind != want.kind || e.Code != want.code {
		t.Errorf("kind, code = %v, %q, want %v, %q (%v)", e.Kind, e.Code, want.kind, want.code, err)
	}
	if !strings.Contains(e.Message, want.contains) {
		t.Errorf("message %q does not contain %q", e.Message, want.contains)
	}
	if e.RetryAfter != want.retryAfter {
		t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, want.retryAfter)
	}
	for _, s := range []string{err.Error(), e.Message, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e.Err)} {
		if strings.Contains(s, imageKey) {
			t.Errorf("the key leaks into the error: %s", s)
		}
	}
}

func TestGenerateImageErrors(t *testing.T) {
	t.Parallel()
	candidate := func(rest string) string { return `{"candidates":[{` + rest + `}]}` }
	tests := []struct {
		name string
		rep  imagetest.Reply
		want imageWant
	}{
		{"400 API key not valid, echoing the key", imagetest.Reply{Status: 400, Message: "API key not valid: " + imageKey},
			imageWant{echogen.KindUnauthenticated, providerhttp.LLMKeyRejected, "Gemini refused the API key: API key not valid: [redacted]", 0}},
		{"403", imagetest.Reply{Status: 403, Message: "Permission denied"},
			imageWant{echogen.KindUnauthenticated, providerhttp.LLMKeyRejected, "Permission denied", 0}},
		{"400 bad request", imagetest.Reply{Status: 400, Message: "Unsupported aspect ratio"},
			imageWant{echogen.KindBadRequest, providerhttp.LLMRejected, "Gemini refused the request (HTTP 400): Unsupported aspect ratio", 0}},
		{"429 with Retry-After", imagetest.Reply{Status: 429, Message: "Quota exceeded", RetryAfter: "12"},
			imageWant{echogen.KindRateLimited, providerhttp.LLMRateLimited, "Quota exceeded", 12 * time.Second}},
		{"500", imagetest.Reply{Status: 500, Message: "Internal error encountered."},
			imageWant{echogen.KindUnavailable, providerhttp.LLMUnavailable, "Gemini is unavailable (HTTP 500): Internal error encountered.", 0}},
		{"503 HTML page from a proxy", imagetest.Reply{Status: 503, Raw: "<html><body>Service Unavailable</body></html>"},
			imageWant{echogen.KindUnavailable, providerhttp.LLMUnavailable, "Gemini is unavailable (HTTP 503)", 0}},
		{"200 that is not JSON", imagetest.Reply{Raw: "{not json"},
			imageWant{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not the JSON we expect", 0}},
		{"text only", imagetest.Reply{NoImage: true, Text: "I can only describe the cover: deep blue."},
			imageWant{echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "Gemini sent no picture, only text: I can only describe the cover: deep blue.", 0}},
		{"no picture", imagetest.Reply{Raw: candidate(`"finishReason":"NO_IMAGE"`)},
			imageWant{echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "Gemini sent an empty answer (finish reason no_image)", 0}},
		{"prohibited picture", imagetest.Reply{Raw: candidate(`"finishReason":"IMAGE_PROHIBITED_CONTENT"`)},
			imageWant{echogen.KindBadRequest, providerhttp.LLMRefused, "blocked by Gemini: the picture (IMAGE_PROHIBITED_CONTENT)", 0}},
		{"unsafe picture", imagetest.Reply{Raw: candidate(`"finishReason":"IMAGE_SAFETY"`)},
			imageWant{echogen.KindBadRequest, providerhttp.LLMRefused, "blocked by Gemini: the answer (IMAGE_SAFETY)", 0}},
		{"blocked prompt", imagetest.Reply{Raw: `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}`},
			imageWant{echogen.KindBadRequest, providerhttp.LLMRefused, "blocked by Gemini: the prompt (PROHIBITED_CONTENT)", 0}},
		{"not a picture", imagetest.Reply{Raw: candidate(`"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"aGVsbG8="}}]},"finishReason":"STOP"`)},
			imageWant{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not a PNG, JPEG or WebP image", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := imageSetup(t, imageReply(tt.rep))
			img, err := c.Generate(context.Background(), imageKey, echogen.ImageRequest{Prompt: imagePrompt})
			if img != nil {
				t.Errorf("picture of %d bytes, want none", len(img.Data))
			}
			checkImageErr(t, err, tt.want)
		})
	}
}

func TestGenerateImageInvalid(t *testing.T) {
	t.Parallel()
	s, c := imageSetup(t, imageReply(imagetest.Reply{}))
	tests := []struct {
		name     string
		key      string
		req      echogen.ImageRequest
		contains string
	}{
		{"an Imagen model", imageKey, echogen.ImageRequest{Model: "imagen-4.0-generate-001", Prompt: imagePrompt}, "Imagen models are shut down; use a Gemini image model such as gemini-3.1-flash-image"},
		{"no prompt", imageKey, echogen.ImageRequest{Prompt: "\t"}, "no prompt"},
		{"malformed size", imageKey, echogen.ImageRequest{Prompt: imagePrompt, Size: "square"}, `size "square"`},
		{"a model name that is a path", imageKey, echogen.ImageRequest{Model: "../files", Prompt: imagePrompt}, "is not a Gemini model name"},
		{"no key", "", echogen.ImageRequest{Prompt: imagePrompt}, "no Gemini API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Generate(context.Background(), tt.key, tt.req)
			checkImageErr(t, err, imageWant{kind: echogen.KindBadRequest, code: providerhttp.LLMInvalidRequest, contains: tt.contains})
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestGenerateImageCanceled(t *testing.T) {
	t.Parallel()
	s, c := imageSetup(t, imageReply(imagetest.Reply{}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Generate(ctx, imageKey, echogen.ImageRequest{Prompt: imagePrompt})
	checkImageErr(t, err, imageWant{kind: echogen.KindUnavailable, code: providerhttp.LLMCanceled, contains: "canceled"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

package gemini_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/gemini"
	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
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
			if r := s.CheckRequest(t, imageKey, tt.body); r.Model != tt.model {
				t.Errorf("model = %q, want %q", r.Model, tt.model)
			}
			if tt.ctype != "" {
				if img.ContentType != tt.ctype {
					t.Errorf("ContentType = %q, want %q", img.ContentType, tt.ctype)
				}
				return
			}
			imagetest.CheckPNG(t, img, tt.w, tt.h)
		})
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
	imagetest.CheckPNG(t, img, 8, 8)
}

// checkImageErr is standin.CheckErr wanting imageKey nowhere in the error.
func checkImageErr(t *testing.T, err error, want standin.WantErr) {
	t.Helper()
	want.NotContaining = imageKey
	standin.CheckErr(t, err, want)
}

func TestGenerateImageErrors(t *testing.T) {
	t.Parallel()
	candidate := func(rest string) string { return `{"candidates":[{` + rest + `}]}` }
	tests := []struct {
		name string
		rep  imagetest.Reply
		want standin.WantErr
	}{
		{"400 API key not valid, echoing the key", imagetest.Reply{Status: 400, Message: "API key not valid: " + imageKey},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Gemini refused the API key: API key not valid: [redacted]"}},
		{"403", imagetest.Reply{Status: 403, Message: "Permission denied"},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Permission denied"}},
		{"400 bad request", imagetest.Reply{Status: 400, Message: "Unsupported aspect ratio"},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "Gemini refused the request (HTTP 400): Unsupported aspect ratio"}},
		{"429 with Retry-After", imagetest.Reply{Status: 429, Message: "Quota exceeded", RetryAfter: "12"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "Quota exceeded", RetryAfter: 12 * time.Second}},
		{"500", imagetest.Reply{Status: 500, Message: "Internal error encountered."},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "Gemini is unavailable (HTTP 500): Internal error encountered."}},
		{"503 HTML page from a proxy", imagetest.Reply{Status: 503, Raw: "<html><body>Service Unavailable</body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "Gemini is unavailable (HTTP 503)"}},
		{"200 that is not JSON", imagetest.Reply{Raw: "{not json"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not the JSON we expect"}},
		{"text only", imagetest.Reply{NoImage: true, Text: "I can only describe the cover: deep blue."},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "Gemini sent no picture, only text: I can only describe the cover: deep blue."}},
		{"no picture", imagetest.Reply{Raw: candidate(`"finishReason":"NO_IMAGE"`)},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "Gemini sent an empty answer (finish reason no_image)"}},
		{"prohibited picture", imagetest.Reply{Raw: candidate(`"finishReason":"IMAGE_PROHIBITED_CONTENT"`)},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRefused, Message: "blocked by Gemini: the picture (IMAGE_PROHIBITED_CONTENT)"}},
		{"unsafe picture", imagetest.Reply{Raw: candidate(`"finishReason":"IMAGE_SAFETY"`)},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRefused, Message: "blocked by Gemini: the answer (IMAGE_SAFETY)"}},
		{"blocked prompt", imagetest.Reply{Raw: `{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}`},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRefused, Message: "blocked by Gemini: the prompt (PROHIBITED_CONTENT)"}},
		{"not a picture", imagetest.Reply{Raw: candidate(`"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"aGVsbG8="}}]},"finishReason":"STOP"`)},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not a PNG, JPEG or WebP image"}},
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
			checkImageErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.contains})
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
	checkImageErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled, Message: "canceled"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

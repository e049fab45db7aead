package openai_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/openai"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
)

const imagePrompt = `Create a professional podcast cover art for "Deep Sea". Minimalist style with good contrast.`

func imageSetup(t *testing.T, answer func(imagetest.Request) imagetest.Reply) (*imagetest.Server, *openai.Client) {
	t.Helper()
	s := imagetest.New(t, imagetest.OpenAI, answer)
	return s, openai.New("OpenAI", s.URL, openai.Options{HTTPClient: s.Client()})
}

func imageReply(r imagetest.Reply) func(imagetest.Request) imagetest.Reply {
	return func(imagetest.Request) imagetest.Reply { return r }
}

func jpegOf(w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestGenerateImage(t *testing.T) {
	t.Parallel()
	small := imagetest.PNG(16, 16)
	tests := []struct {
		name   string
		compat bool // an OpenAI-compatible server named by the request
		req    echogen.ImageRequest
		rep    imagetest.Reply
		body   map[string]any
		ctype  string
		w, h   int // of a PNG answer
	}{
		{
			name: "defaults: GPT Image 2, square, auto quality",
			req:  echogen.ImageRequest{Prompt: imagePrompt, Title: "Deep Sea"},
			body: map[string]any{"model": "gpt-image-2", "prompt": imagePrompt, "quality": "auto", "size": "1024x1024"},
			w:    1024, h: 1024,
		},
		{
			name: "GPT image, wide and high",
			req:  echogen.ImageRequest{Model: "gpt-image-1.5", Prompt: imagePrompt, Size: "1792x1024", Quality: "high"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "gpt-image-1.5", "prompt": imagePrompt, "quality": "high", "size": "1536x1024"},
			w:    16, h: 16,
		},
		{
			name: "GPT image, tall and low",
			req:  echogen.ImageRequest{Model: "gpt-image-1-mini", Prompt: imagePrompt, Size: "512x768", Quality: "low"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "gpt-image-1-mini", "prompt": imagePrompt, "quality": "low", "size": "1024x1536"},
			w:    16, h: 16,
		},
		{
			name: "GPT image, auto size",
			req:  echogen.ImageRequest{Model: "chatgpt-image-latest", Prompt: imagePrompt, Size: "auto", Quality: "medium"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "chatgpt-image-latest", "prompt": imagePrompt, "quality": "medium", "size": "auto"},
			w:    16, h: 16,
		},
		{
			name: "dall-e-3: high is hd, base64 asked for",
			req:  echogen.ImageRequest{Model: "dall-e-3", Prompt: imagePrompt, Size: "1792x1024", Quality: "high"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "dall-e-3", "prompt": imagePrompt, "quality": "hd", "size": "1792x1024", "response_format": "b64_json"},
			w:    16, h: 16,
		},
		{
			name: "dall-e-3: anything else is standard",
			req:  echogen.ImageRequest{Model: "dall-e-3", Prompt: imagePrompt, Quality: "low"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "dall-e-3", "prompt": imagePrompt, "quality": "standard", "size": "1024x1024", "response_format": "b64_json"},
			w:    16, h: 16,
		},
		{
			name: "dall-e-2: the smallest square that covers the size",
			req:  echogen.ImageRequest{Model: "dall-e-2", Prompt: imagePrompt, Size: "300x200", Quality: "high"},
			rep:  imagetest.Reply{Image: small},
			body: map[string]any{"model": "dall-e-2", "prompt": imagePrompt, "size": "512x512", "response_format": "b64_json"},
			w:    16, h: 16,
		},
		{
			name:   "a compatible server's model: size as asked, JPEG answer",
			compat: true,
			req:    echogen.ImageRequest{Model: "sdxl-turbo", Prompt: imagePrompt, Size: "768x768", Quality: "high"},
			rep:    imagetest.Reply{Image: jpegOf(8, 8)},
			body:   map[string]any{"model": "sdxl-turbo", "prompt": imagePrompt, "size": "768x768", "response_format": "b64_json"},
			ctype:  "image/jpeg",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := imageSetup(t, imageReply(tt.rep))
			if tt.compat {
				c = openai.NewCompatible(openai.Options{HTTPClient: s.Client()})
				tt.req.BaseURL = s.URL
			}
			img, err := c.Generate(context.Background(), testKey, tt.req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			s.CheckRequest(t, testKey, tt.body)
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

func TestGenerateImageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  imagetest.Reply
		want standin.WantErr
	}{
		{"401 echoing the key", imagetest.Reply{Status: 401, Message: "Incorrect API key provided: " + testKey},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "OpenAI refused the API key: Incorrect API key provided: [redacted]"}},
		{"400 content policy", imagetest.Reply{Status: 400, Message: "Your request was rejected by the safety system."},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "OpenAI refused the request (HTTP 400): Your request was rejected by the safety system."}},
		{"429 with Retry-After", imagetest.Reply{Status: 429, Message: "Rate limit reached for images per minute", RetryAfter: "7"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "Rate limit reached for images per minute", RetryAfter: 7 * time.Second}},
		{"500", imagetest.Reply{Status: 500, Message: "The server had an error"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "OpenAI is unavailable (HTTP 500): The server had an error"}},
		{"502 HTML page from a proxy", imagetest.Reply{Status: 502, Raw: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "OpenAI is unavailable (HTTP 502)"}},
		{"200 that is not JSON", imagetest.Reply{Raw: "{not json"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not the JSON we expect"}},
		{"no picture", imagetest.Reply{Raw: `{"created":1,"data":[]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "OpenAI sent no picture"}},
		{"a URL instead of base64", imagetest.Reply{Raw: `{"created":1,"data":[{"url":"https://example.com/a.png"}]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "OpenAI sent no picture"}},
		{"not base64", imagetest.Reply{Raw: `{"created":1,"data":[{"b64_json":"***"}]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not valid base64"}},
		{"not a picture", imagetest.Reply{Image: []byte("GIF89a not quite")},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not a PNG, JPEG or WebP image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := imageSetup(t, imageReply(tt.rep))
			img, err := c.Generate(context.Background(), testKey, echogen.ImageRequest{Prompt: imagePrompt})
			if img != nil {
				t.Errorf("picture of %d bytes, want none", len(img.Data))
			}
			checkErr(t, err, tt.want)
		})
	}
}

func TestGenerateImageInvalid(t *testing.T) {
	t.Parallel()
	s, c := imageSetup(t, imageReply(imagetest.Reply{}))
	tests := []struct {
		name     string
		client   *openai.Client
		req      echogen.ImageRequest
		contains string
	}{
		{"no prompt", c, echogen.ImageRequest{Prompt: "  "}, "no prompt"},
		{"unknown quality", c, echogen.ImageRequest{Prompt: imagePrompt, Quality: "hd"}, `quality "hd"`},
		{"malformed size", c, echogen.ImageRequest{Prompt: imagePrompt, Size: "1024"}, `size "1024"`},
		{"no base URL", openai.NewCompatible(openai.Options{}), echogen.ImageRequest{Prompt: imagePrompt}, "needs a base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Generate(context.Background(), testKey, tt.req)
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.contains})
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestGenerateImageCanceledAndTimeout(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := openai.New("OpenAI", hang.URL, openai.Options{HTTPClient: hang.Client()})
	_, err := c.Generate(ctx, testKey, echogen.ImageRequest{Prompt: imagePrompt})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	c = openai.New("OpenAI", hang.URL, openai.Options{HTTPClient: hang.Client(), Timeout: 50 * time.Millisecond})
	_, err = c.Generate(context.Background(), testKey, echogen.ImageRequest{Prompt: imagePrompt})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout, Message: "did not answer in time"})
}

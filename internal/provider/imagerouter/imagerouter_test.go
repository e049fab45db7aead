package imagerouter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/imagerouter"
	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/providerhttp"
)

const key = "ir-test-SECRET-0123456789abcdef"

const prompt = `Create a professional podcast cover art for "Deep Sea".`

func connect(t *testing.T, answer func(imagetest.Request) imagetest.Reply) (*imagetest.Server, *imagerouter.Client) {
	t.Helper()
	s := imagetest.New(t, imagetest.ImageRouter, answer)
	return s, imagerouter.New(imagerouter.Options{HTTPClient: s.Client(), BaseURL: s.URL + "/", Timeout: 30 * time.Second})
}

func reply(r imagetest.Reply) func(imagetest.Request) imagetest.Reply {
	return func(imagetest.Request) imagetest.Reply { return r }
}

// decodePNG checks img is a PNG of w×h.
func decodePNG(t *testing.T, img *echogen.Image, w, h int) {
	t.Helper()
	if img.ContentType != "image/png" {
		t.Errorf("ContentType = %q, want image/png", img.ContentType)
	}
	m, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil {
		t.Fatalf("the picture is not a PNG: %v", err)
	}
	if got := m.Bounds(); got != image.Rect(0, 0, w, h) {
		t.Errorf("picture bounds = %v, want %dx%d", got, w, h)
	}
}

type wantErr struct {
	kind       echogen.Kind
	code       string
	contains   string
	retryAfter time.Duration
}

func checkErr(t *testing.T, err error, want wantErr) {
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
		if strings.Contains(s, key) {
			t.Errorf("the key leaks into the error: %s", s)
		}
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  echogen.ImageRequest
		rep  imagetest.Reply
		body map[string]any
		w, h int
	}{
		{
			name: "defaults, base64 answer",
			req:  echogen.ImageRequest{Prompt: prompt, Title: "Deep Sea"},
			body: map[string]any{"prompt": prompt, "model": "openai/gpt-image-2", "quality": "auto", "size": "1024x1024", "response_format": "b64_json"},
			w:    1024, h: 1024,
		},
		{
			name: "the caller's model, quality and size",
			req:  echogen.ImageRequest{Model: "black-forest-labs/FLUX-1-schnell", Prompt: " " + prompt + "\n", Quality: "high", Size: "512x768"},
			body: map[string]any{"prompt": prompt, "model": "black-forest-labs/FLUX-1-schnell", "quality": "high", "size": "512x768", "response_format": "b64_json"},
			w:    512, h: 768,
		},
		{
			name: "a model that only links its picture: downloaded without the key",
			req:  echogen.ImageRequest{Prompt: prompt, Size: "256x256"},
			rep:  imagetest.Reply{URL: true},
			body: map[string]any{"prompt": prompt, "model": "openai/gpt-image-2", "quality": "auto", "size": "256x256", "response_format": "b64_json"},
			w:    256, h: 256,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := connect(t, reply(tt.rep))
			img, err := c.Generate(context.Background(), key, tt.req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			decodePNG(t, img, tt.w, tt.h)
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			if reqs[0].APIKey != key {
				t.Errorf("key = %q, want the user's", reqs[0].APIKey)
			}
			if d := cmp.Diff(tt.body, reqs[0].Body); d != "" {
				t.Errorf("request body (-want +got):\n%s", d)
			}
		})
	}
}

func TestGenerateDataURL(t *testing.T) {
	t.Parallel()
	raw := `{"created":1,"data":[{"b64_json":"data:image/png;base64,` + base64.StdEncoding.EncodeToString(imagetest.PNG(8, 8)) + `"}]}`
	_, c := connect(t, reply(imagetest.Reply{Raw: raw}))
	img, err := c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	decodePNG(t, img, 8, 8)
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  imagetest.Reply
		want wantErr
	}{
		{"401 with the key echoed", imagetest.Reply{Status: 401, Message: "Invalid API key: " + key},
			wantErr{echogen.KindUnauthenticated, providerhttp.LLMKeyRejected, "ImageRouter refused the API key: Invalid API key: [redacted]", 0}},
		{"403", imagetest.Reply{Status: 403, Message: "Key disabled"},
			wantErr{echogen.KindUnauthenticated, providerhttp.LLMKeyRejected, "Key disabled", 0}},
		{"402 out of credits", imagetest.Reply{Status: 402, Message: "Insufficient credits"},
			wantErr{echogen.KindBadRequest, providerhttp.LLMRejected, "ImageRouter refused the request (HTTP 402): Insufficient credits", 0}},
		{"400 unknown model", imagetest.Reply{Status: 400, Message: "Model not found: x/y"},
			wantErr{echogen.KindBadRequest, providerhttp.LLMRejected, "Model not found: x/y", 0}},
		{"429 with Retry-After", imagetest.Reply{Status: 429, Message: "Too many requests", RetryAfter: "30"},
			wantErr{echogen.KindRateLimited, providerhttp.LLMRateLimited, "rate limited by ImageRouter, try again later: Too many requests", 30 * time.Second}},
		{"500", imagetest.Reply{Status: 500, Message: "upstream provider failed"},
			wantErr{echogen.KindUnavailable, providerhttp.LLMUnavailable, "ImageRouter is unavailable (HTTP 500): upstream provider failed", 0}},
		{"502 HTML page from a proxy", imagetest.Reply{Status: 502, Raw: "<html><body>Bad Gateway</body></html>"},
			wantErr{echogen.KindUnavailable, providerhttp.LLMUnavailable, "ImageRouter is unavailable (HTTP 502)", 0}},
		{"200 that is not JSON", imagetest.Reply{Raw: "{not json"},
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not the JSON we expect", 0}},
		{"200 HTML page", imagetest.Reply{Raw: "<html>maintenance</html>"},
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not the JSON we expect", 0}},
		{"no picture", imagetest.Reply{Raw: `{"created":1,"data":[]}`},
			wantErr{echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "ImageRouter sent no picture", 0}},
		{"not base64", imagetest.Reply{Raw: `{"data":[{"b64_json":"%%%"}]}`},
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not valid base64", 0}},
		{"not a picture", imagetest.Reply{Image: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not a PNG, JPEG or WebP image", 0}},
		{"a link that is not http", imagetest.Reply{Raw: `{"data":[{"url":"file:///etc/passwd"}]}`},
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not an http(s) URL", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := connect(t, reply(tt.rep))
			img, err := c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
			if img != nil {
				t.Errorf("picture %d bytes, want none", len(img.Data))
			}
			checkErr(t, err, tt.want)
		})
	}
}

// TestGenerateDownloadFails: the linked picture is missing, not a
// picture, or too large.
func TestGenerateDownloadFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    wantErr
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			wantErr{echogen.KindUnavailable, providerhttp.LLMUnavailable, "could not download the picture ImageRouter made (HTTP 404)", 0}},
		{"an HTML page", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<!doctype html><title>Expired</title>") },
			wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "not a PNG, JPEG or WebP image", 0}},
		{"over 20 MB", func(w http.ResponseWriter, r *http.Request) {
			w.Write(imagetest.PNG(2, 2))
			w.Write(make([]byte, imagerouter.MaxImageBytes))
		}, wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "the picture is larger than 20 MB", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					t.Errorf("the download carries an Authorization header")
				}
				tt.handler(w, r)
			}))
			t.Cleanup(files.Close)
			_, c := connect(t, reply(imagetest.Reply{Raw: `{"data":[{"url":"` + files.URL + `/a.png"}]}`}))
			_, err := c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
			checkErr(t, err, tt.want)
		})
	}
}

// TestRedirectNotFollowed: an API answer that redirects elsewhere is not
// followed, so the key cannot travel on.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(elsewhere.Close)
	api := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/v1/openai/images/generations", http.StatusTemporaryRedirect))
	t.Cleanup(api.Close)
	c := imagerouter.New(imagerouter.Options{BaseURL: api.URL})
	_, err := c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, wantErr{echogen.KindUnavailable, providerhttp.LLMBadResponse, "unexpected HTTP 307", 0})
}

func TestGenerateInvalidRequest(t *testing.T) {
	t.Parallel()
	s, c := connect(t, reply(imagetest.Reply{}))
	tests := []struct {
		name     string
		key      string
		req      echogen.ImageRequest
		contains string
	}{
		{"no key", " ", echogen.ImageRequest{Prompt: prompt}, "no ImageRouter API key"},
		{"a key with a newline", key + "\nX-Evil: 1", echogen.ImageRequest{Prompt: prompt}, "cannot be sent in a request header"},
		{"no prompt", key, echogen.ImageRequest{Prompt: " \n"}, "no prompt"},
		{"unknown quality", key, echogen.ImageRequest{Prompt: prompt, Quality: "ultra"}, `quality "ultra"`},
		{"malformed size", key, echogen.ImageRequest{Prompt: prompt, Size: "big"}, `size "big"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Generate(context.Background(), tt.key, tt.req)
			checkErr(t, err, wantErr{echogen.KindBadRequest, providerhttp.LLMInvalidRequest, tt.contains, 0})
		})
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestGenerateCanceledAndTimeout(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only once the body is read
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := imagerouter.New(imagerouter.Options{HTTPClient: hang.Client(), BaseURL: hang.URL})
	_, err := c.Generate(ctx, key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, wantErr{echogen.KindUnavailable, providerhttp.LLMCanceled, "canceled", 0})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	c = imagerouter.New(imagerouter.Options{HTTPClient: hang.Client(), BaseURL: hang.URL, Timeout: 50 * time.Millisecond})
	_, err = c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, wantErr{echogen.KindUnavailable, providerhttp.LLMTimeout, "ImageRouter did not answer in time", 0})
}

func TestGenerateUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := imagerouter.New(imagerouter.Options{BaseURL: base}).Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, wantErr{echogen.KindUnavailable, providerhttp.LLMUnavailable, "could not reach ImageRouter", 0})
}

func TestListModels(t *testing.T) {
	t.Parallel()
	s, c := connect(t, reply(imagetest.Reply{}))
	s.SetModels(imagetest.Model{ID: "openai/gpt-image-2", Type: "image"}, imagetest.Model{ID: "google/veo-3", Type: "video"},
		imagetest.Model{ID: "black-forest-labs/FLUX-1-schnell", Type: "image"}, imagetest.Model{ID: "openai/gpt-image-2", Type: "image"})
	got, err := c.ListModels(context.Background())
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	if d := cmp.Diff([]string{"black-forest-labs/FLUX-1-schnell", "openai/gpt-image-2"}, got); d != "" {
		t.Errorf("models (-want +got):\n%s", d)
	}

	s.SetModels()
	if got, err := c.ListModels(context.Background()); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty list = %#v, %v; want an empty slice", got, err)
	}
}

func TestListModelsError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"message":"down for maintenance"}}`)
	}))
	t.Cleanup(srv.Close)
	_, err := imagerouter.New(imagerouter.Options{BaseURL: srv.URL}).ListModels(context.Background())
	checkErr(t, err, wantErr{echogen.KindUnavailable, providerhttp.LLMUnavailable, "ImageRouter is unavailable (HTTP 503): down for maintenance", 5 * time.Second})
}

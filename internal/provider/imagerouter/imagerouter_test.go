package imagerouter_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/imagerouter"
	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/providerhttp"
	"github.com/echogen/server/internal/provider/standin"
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

// checkErr is standin.CheckErr wanting key nowhere in the error.
func checkErr(t *testing.T, err error, want standin.WantErr) {
	t.Helper()
	want.NotContaining = key
	standin.CheckErr(t, err, want)
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
			imagetest.CheckPNG(t, img, tt.w, tt.h)
			s.CheckRequest(t, key, tt.body)
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
	imagetest.CheckPNG(t, img, 8, 8)
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  imagetest.Reply
		want standin.WantErr
	}{
		{"401 with the key echoed", imagetest.Reply{Status: 401, Message: "Invalid API key: " + key},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "ImageRouter refused the API key: Invalid API key: [redacted]"}},
		{"403", imagetest.Reply{Status: 403, Message: "Key disabled"},
			standin.WantErr{Kind: echogen.KindUnauthenticated, Code: providerhttp.LLMKeyRejected, Message: "Key disabled"}},
		{"402 out of credits", imagetest.Reply{Status: 402, Message: "Insufficient credits"},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "ImageRouter refused the request (HTTP 402): Insufficient credits"}},
		{"400 unknown model", imagetest.Reply{Status: 400, Message: "Model not found: x/y"},
			standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMRejected, Message: "Model not found: x/y"}},
		{"429 with Retry-After", imagetest.Reply{Status: 429, Message: "Too many requests", RetryAfter: "30"},
			standin.WantErr{Kind: echogen.KindRateLimited, Code: providerhttp.LLMRateLimited, Message: "rate limited by ImageRouter, try again later: Too many requests", RetryAfter: 30 * time.Second}},
		{"500", imagetest.Reply{Status: 500, Message: "upstream provider failed"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "ImageRouter is unavailable (HTTP 500): upstream provider failed"}},
		{"502 HTML page from a proxy", imagetest.Reply{Status: 502, Raw: "<html><body>Bad Gateway</body></html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "ImageRouter is unavailable (HTTP 502)"}},
		{"200 that is not JSON", imagetest.Reply{Raw: "{not json"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not the JSON we expect"}},
		{"200 HTML page", imagetest.Reply{Raw: "<html>maintenance</html>"},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not the JSON we expect"}},
		{"no picture", imagetest.Reply{Raw: `{"created":1,"data":[]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMEmptyAnswer, Message: "ImageRouter sent no picture"}},
		{"not base64", imagetest.Reply{Raw: `{"data":[{"b64_json":"%%%"}]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not valid base64"}},
		{"not a picture", imagetest.Reply{Image: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not a PNG, JPEG or WebP image"}},
		{"a link that is not http", imagetest.Reply{Raw: `{"data":[{"url":"file:///etc/passwd"}]}`},
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not an http(s) URL"}},
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
		want    standin.WantErr
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "could not download the picture ImageRouter made (HTTP 404)"}},
		{"an HTML page", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<!doctype html><title>Expired</title>") },
			standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "not a PNG, JPEG or WebP image"}},
		{"over 20 MB", func(w http.ResponseWriter, r *http.Request) {
			w.Write(imagetest.PNG(2, 2))
			w.Write(make([]byte, imagerouter.MaxImageBytes))
		}, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "the picture is larger than 20 MB"}},
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
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse, Message: "unexpected HTTP 307"})
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
			checkErr(t, err, standin.WantErr{Kind: echogen.KindBadRequest, Code: providerhttp.LLMInvalidRequest, Message: tt.contains})
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
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMCanceled, Message: "canceled"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}

	c = imagerouter.New(imagerouter.Options{HTTPClient: hang.Client(), BaseURL: hang.URL, Timeout: 50 * time.Millisecond})
	_, err = c.Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMTimeout, Message: "ImageRouter did not answer in time"})
}

func TestGenerateUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := imagerouter.New(imagerouter.Options{BaseURL: base}).Generate(context.Background(), key, echogen.ImageRequest{Prompt: prompt})
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "could not reach ImageRouter"})
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
	checkErr(t, err, standin.WantErr{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable, Message: "ImageRouter is unavailable (HTTP 503): down for maintenance", RetryAfter: 5 * time.Second})
}

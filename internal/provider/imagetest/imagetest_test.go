package imagetest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/echogen/server/internal/provider/imagetest"
	"github.com/echogen/server/internal/provider/standin"
)

const key = "test-key-0123"

// root is the server's root URL, whatever the wire's base URL.
func root(s *imagetest.Server) string { return strings.TrimSuffix(s.URL, "/v1") }

var (
	bearer = map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + key}
	goog   = map[string]string{"Content-Type": "application/json", "x-goog-api-key": key}
)

func TestRejects(t *testing.T) {
	t.Parallel()
	gemPath := "/v1beta/models/gemini-3.1-flash-image:generateContent"
	gemOK := `{"contents":[{"role":"user","parts":[{"text":"a cover"}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`
	tests := []struct {
		name    string
		wire    imagetest.Wire
		method  string // default POST
		path    string
		header  map[string]string
		body    string
		wantErr string // in the reported error and the answer's message
	}{
		{"OpenAI unknown field", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"gpt-image-2","prompt":"p","stream":true}`, `unknown field "stream"`},
		{"OpenAI field in the wrong case", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"Model":"gpt-image-2","prompt":"p"}`, `unknown field "Model"`},
		{"OpenAI no key", imagetest.OpenAI, "", "/v1/images/generations", map[string]string{"Content-Type": "application/json"}, `{"model":"gpt-image-2","prompt":"p"}`, `Authorization = ""`},
		{"OpenAI no prompt", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"gpt-image-2"}`, `missing required field "prompt"`},
		{"OpenAI response_format to a GPT image model", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"gpt-image-2","prompt":"p","response_format":"b64_json"}`, "Unknown parameter"},
		{"OpenAI a size GPT Image 1.5 does not draw", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"gpt-image-1.5","prompt":"p","size":"1792x1024"}`, "Invalid value for 'size'"},
		{"OpenAI dall-e-3 quality", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"dall-e-3","prompt":"p","quality":"high","response_format":"b64_json"}`, "Invalid value for 'quality'"},
		{"OpenAI dall-e-3 URL answer", imagetest.OpenAI, "", "/v1/images/generations", bearer, `{"model":"dall-e-3","prompt":"p"}`, "must ask for b64_json"},
		{"OpenAI wrong method", imagetest.OpenAI, http.MethodPut, "/v1/images/generations", bearer, `{}`, "method PUT, want POST"},
		{"OpenAI wrong path", imagetest.OpenAI, "", "/v1/images/edits", bearer, `{}`, `unknown path "/v1/images/edits"`},
		{"Gemini unknown nested field", imagetest.Gemini, "", gemPath, goog, `{"contents":[{"role":"user","parts":[{"text":"a"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"outputMimeType":"image/png"}}}`, `unknown field "generationConfig.imageConfig.outputMimeType"`},
		{"Gemini nested field in the wrong case", imagetest.Gemini, "", gemPath, goog, `{"contents":[{"role":"user","parts":[{"Text":"a"}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`, `unknown field "contents[0].parts[0].Text"`},
		{"Gemini no IMAGE modality", imagetest.Gemini, "", gemPath, goog, `{"contents":[{"role":"user","parts":[{"text":"a"}]}],"generationConfig":{"responseModalities":["TEXT"]}}`, "must include IMAGE"},
		{"Gemini a text model", imagetest.Gemini, "", "/v1beta/models/gemini-2.5-flash:generateContent", goog, gemOK, "does not support the requested response modalities"},
		{"Gemini aspect ratio", imagetest.Gemini, "", gemPath, goog, `{"contents":[{"role":"user","parts":[{"text":"a"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:2"}}}`, "Invalid value for 'aspectRatio'"},
		{"Gemini key in the query", imagetest.Gemini, "", gemPath + "?key=" + key, goog, gemOK, "unexpected query"},
		{"Gemini Imagen predict", imagetest.Gemini, "", "/v1beta/models/imagen-4.0-generate-001:predict", goog, `{"instances":[{"prompt":"a"}]}`, "unknown path"},
		{"ImageRouter bad quality", imagetest.ImageRouter, "", "/v1/openai/images/generations", bearer, `{"model":"m","prompt":"p","quality":"ultra"}`, "Invalid value for 'quality'"},
		{"ImageRouter no model", imagetest.ImageRouter, "", "/v1/openai/images/generations", bearer, `{"prompt":"p"}`, `missing required field "model"`},
		{"ImageRouter key on the public model list", imagetest.ImageRouter, http.MethodGet, "/v1/models", bearer, "", "Authorization header on a public GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &standin.RecordingTB{TB: t}
			s := imagetest.New(rec, tt.wire, func(imagetest.Request) imagetest.Reply {
				t.Error("answer called for a bad request")
				return imagetest.Reply{}
			})
			status, _, body := standin.Send(t, s.Client(), tt.method, root(s)+tt.path, tt.header, tt.body)
			if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
				t.Errorf("reported %q, want one error with %q", errs, tt.wantErr)
			}
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", status)
			}
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error.Message, tt.wantErr) {
				t.Errorf("answer %s does not carry %q in error.message", body, tt.wantErr)
			}
			if n := len(s.Requests()); n != 0 {
				t.Errorf("%d requests recorded, want 0", n)
			}
		})
	}
}

// pngSize decodes a base64 PNG.
func pngSize(t *testing.T, b64 string) image.Point {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("not base64: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return image.Pt(cfg.Width, cfg.Height)
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	t.Run("OpenAI: a PNG of the size asked", func(t *testing.T) {
		t.Parallel()
		s := imagetest.New(t, imagetest.OpenAI, func(imagetest.Request) imagetest.Reply { return imagetest.Reply{} })
		_, _, body := standin.Send(t, s.Client(), http.MethodPost, s.URL+"/images/generations", bearer, `{"model":"gpt-image-2","prompt":"p","size":"256x128"}`)
		var out struct {
			Data []struct {
				B64 string `json:"b64_json"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Data) != 1 {
			t.Fatalf("answer %s", body)
		}
		if got := pngSize(t, out.Data[0].B64); got != image.Pt(256, 128) {
			t.Errorf("picture %v, want 256×128", got)
		}
		if r := s.Requests(); len(r) != 1 || r[0].APIKey != key || r[0].Model != "gpt-image-2" || r[0].Body["size"] != "256x128" {
			t.Errorf("requests %+v", r)
		}
	})
	t.Run("Gemini: a picture at the aspect ratio, after the text", func(t *testing.T) {
		t.Parallel()
		s := imagetest.New(t, imagetest.Gemini, func(imagetest.Request) imagetest.Reply { return imagetest.Reply{Text: "here"} })
		_, _, body := standin.Send(t, s.Client(), http.MethodPost, s.URL+"/v1beta/models/gemini-3.1-flash-image:generateContent", goog,
			`{"contents":[{"role":"user","parts":[{"text":"p"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"16:9"}}}`)
		var out struct {
			Candidates []struct {
				Content struct {
					Parts []struct {
						Text       string `json:"text"`
						InlineData struct {
							MimeType string `json:"mimeType"`
							Data     string `json:"data"`
						} `json:"inlineData"`
					} `json:"parts"`
				} `json:"content"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Candidates) != 1 || len(out.Candidates[0].Content.Parts) != 2 {
			t.Fatalf("answer %s", body)
		}
		parts := out.Candidates[0].Content.Parts
		if parts[0].Text != "here" || parts[1].InlineData.MimeType != "image/png" {
			t.Errorf("parts %+v", parts)
		}
		if got := pngSize(t, parts[1].InlineData.Data); got != image.Pt(1024, 576) {
			t.Errorf("picture %v, want 1024×576", got)
		}
	})
	t.Run("ImageRouter: a link to a picture served without the key", func(t *testing.T) {
		t.Parallel()
		s := imagetest.New(t, imagetest.ImageRouter, func(imagetest.Request) imagetest.Reply { return imagetest.Reply{URL: true} })
		_, _, body := standin.Send(t, s.Client(), http.MethodPost, s.URL+"/v1/openai/images/generations", bearer, `{"model":"m","prompt":"p","size":"64x64"}`)
		var out struct {
			Data []struct {
				URL string `json:"url"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Data) != 1 || out.Data[0].URL == "" {
			t.Fatalf("answer %s", body)
		}
		status, h, pic := standin.Send(t, s.Client(), http.MethodGet, out.Data[0].URL, nil, "")
		if status != 200 || h.Get("Content-Type") != "image/png" {
			t.Fatalf("download: %d %s", status, h.Get("Content-Type"))
		}
		if got := pngSize(t, base64.StdEncoding.EncodeToString(pic)); got != image.Pt(64, 64) {
			t.Errorf("picture %v, want 64×64", got)
		}
		if status, _, _ := standin.Send(t, s.Client(), http.MethodGet, root(s)+"/files/7.png", nil, ""); status != http.StatusNotFound {
			t.Errorf("a missing file answers %d, want 404", status)
		}
	})
	t.Run("error shapes", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			wire         imagetest.Wire
			path, header string
			body         string
			want         string
		}{
			{imagetest.OpenAI, "/v1/images/generations", "Authorization", `{"model":"gpt-image-2","prompt":"p"}`,
				`{"error":{"code":"rate_limit_exceeded","message":"slow down","param":null,"type":"requests"}}`},
			{imagetest.Gemini, "/v1beta/models/gemini-3.1-flash-image:generateContent", "x-goog-api-key",
				`{"contents":[{"role":"user","parts":[{"text":"p"}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`,
				`{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"9s"}],"message":"slow down","status":"RESOURCE_EXHAUSTED"}}`},
			{imagetest.ImageRouter, "/v1/openai/images/generations", "Authorization", `{"model":"m","prompt":"p"}`,
				`{"error":{"message":"slow down","type":"requests"}}`},
		} {
			s := imagetest.New(t, tt.wire, func(imagetest.Request) imagetest.Reply {
				return imagetest.Reply{Status: 429, Message: "slow down", RetryAfter: "9"}
			})
			h := map[string]string{"Content-Type": "application/json", tt.header: "Bearer " + key}
			if tt.wire == imagetest.Gemini {
				h[tt.header] = key
			}
			status, hdr, body := standin.Send(t, s.Client(), http.MethodPost, root(s)+tt.path, h, tt.body)
			if status != 429 || hdr.Get("Retry-After") != "9" || string(body) != tt.want {
				t.Errorf("%v: %d, Retry-After %q, %s; want 429, 9, %s", tt.wire, status, hdr.Get("Retry-After"), body, tt.want)
			}
		}
	})
}

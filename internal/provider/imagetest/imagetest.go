// Package imagetest is a stand-in for three image APIs, for tests: a real
// loopback HTTP server that speaks OpenAI's images/generations, Gemini's
// generateContent with image output, or ImageRouter's OpenAI-style
// generations and model list, so the real adapters (internal/provider/
// openai, gemini, imagerouter) and their SDKs run unchanged against it.
//
// It is strict, like llmtest: a request the real API would not take, or
// that the adapters are not meant to send (an unknown or wrongly cased
// field at any depth, a missing key, a wrong method or path, a size or
// quality the model does not accept), fails the test and is answered 400
// in the wire's error format. Pictures are real PNGs.
//
// Gemini's Imagen :predict endpoint is not spoken: Imagen is shut down on
// the Gemini API and the SDK refuses GenerateImages there.
package imagetest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/standin"
)

// Wire is an API format the stand-in speaks.
type Wire int

const (
	OpenAI      Wire = iota + 1 // POST /v1/images/generations
	Gemini                      // POST /v1beta/models/{model}:generateContent
	ImageRouter                 // POST /v1/openai/images/generations, GET /v1/models, GET /files/{n}
)

func (w Wire) String() string {
	if w >= OpenAI && w <= ImageRouter {
		return [...]string{"OpenAI", "Gemini", "ImageRouter"}[w-1]
	}
	return "Wire(" + strconv.Itoa(int(w)) + ")"
}

// Request is one generation request as the stand-in received it.
type Request struct {
	Wire   Wire
	Model  string
	APIKey string
	Prompt string
	Body   map[string]any // the JSON body as sent, for exact comparisons
}

// Reply is what the stand-in answers.
type Reply struct {
	Image      []byte // the picture; nil: a PNG of the size asked for
	Text       string // Gemini: a text part before the picture
	NoImage    bool   // Gemini: answer Text only, without a picture
	URL        bool   // ImageRouter: answer data[0].url, served by the stand-in, not b64_json
	Status     int    // >= 400: answer an error in the wire's error format
	Message    string // the error message for Status >= 400; default the status text
	RetryAfter string // Retry-After header value, sent with any status
	Raw        string // when set: written verbatim as the body, with Status or 200
}

// Model is an entry of ImageRouter's model list.
type Model struct {
	ID   string
	Type string // "image", "video", …
}

// Server is a running stand-in. It is safe for concurrent use.
type Server struct {
	// URL is what the adapter takes as its base URL: the server's root with
	// "/v1" for OpenAI (the SDK adds "/images/generations"), the bare root
	// for Gemini and ImageRouter.
	URL string

	t      testing.TB
	wire   Wire
	answer func(Request) Reply
	srv    *httptest.Server
	reqs   standin.Recorder[Request]

	mu     sync.Mutex
	models []Model
	files  [][]byte          // pictures served at /files/{index}
	pngs   map[[2]int][]byte // generated pictures by size
}

// New starts a stand-in for wire whose generations answer gives; it is
// closed by t.Cleanup. answer is called once per generation request,
// possibly concurrently.
func New(t testing.TB, wire Wire, answer func(Request) Reply) *Server {
	t.Helper()
	if wire < OpenAI || wire > ImageRouter {
		t.Fatalf("imagetest.New: unknown wire %v", wire)
	}
	s := &Server{t: t, wire: wire, answer: answer, pngs: map[[2]int][]byte{}, reqs: standin.Recorder[Request]{Clone: cloneRequest}}
	s.srv = standin.Start(t, s.serve)
	s.URL = s.srv.URL
	if wire == OpenAI {
		s.URL += "/v1"
	}
	return s
}

// Client returns an HTTP client for the server whose idle connections are
// closed with it.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns the generation requests received, in arrival order
// (model lists, downloads and rejected requests are not recorded).
func (s *Server) Requests() []Request { return s.reqs.All() }

// SetModels sets what ImageRouter's GET /v1/models lists (nothing at first).
func (s *Server) SetModels(models ...Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = slices.Clone(models)
}

func cloneRequest(r Request) Request {
	r.Body = clone(r.Body).(map[string]any)
	return r
}

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = clone(e)
		}
		return a
	}
	return v
}

// PNG returns a w×h PNG: a diagonal gradient, real enough for any decoder.
func PNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			t := (x + y) * 255 / max(w+h-2, 1)
			img.SetNRGBA(x, y, color.NRGBA{uint8(t), 96, uint8(255 - t), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}

// CheckRequest checks that s took one request, with key and body, and
// returns it.
func (s *Server) CheckRequest(t testing.TB, key string, body map[string]any) Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if reqs[0].APIKey != key {
		t.Errorf("key = %q, want %q", reqs[0].APIKey, key)
	}
	if d := gocmp.Diff(body, reqs[0].Body); d != "" {
		t.Errorf("request body (-want +got):\n%s", d)
	}
	return reqs[0]
}

// CheckPNG checks that img, an adapter's answer, is a PNG of w×h.
func CheckPNG(t testing.TB, img *echogen.Image, w, h int) {
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

// picture returns rep's image or a cached PNG of w×h.
func (s *Server) picture(rep Reply, w, h int) []byte {
	if rep.Image != nil {
		return rep.Image
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.pngs[[2]int{w, h}]
	if !ok {
		b = PNG(w, h)
		s.pngs[[2]int{w, h}] = b
	}
	return b
}

// serve routes, checks and answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if s.wire == ImageRouter && r.Method == http.MethodGet {
		s.serveGet(w, r)
		return
	}
	var model string
	var err error
	switch s.wire {
	case OpenAI:
		if p != "/v1/images/generations" {
			err = fmt.Errorf("unknown path %q", p)
		}
	case Gemini:
		rest, prefixed := strings.CutPrefix(p, "/v1beta/models/")
		m, suffixed := strings.CutSuffix(rest, ":generateContent")
		if !prefixed || !suffixed || m == "" || strings.Contains(m, "/") {
			err = fmt.Errorf("unknown path %q", p)
		}
		model = m
	case ImageRouter:
		if p != "/v1/openai/images/generations" {
			err = fmt.Errorf("unknown path %q", p)
		}
	}
	var key string
	if err == nil {
		key, err = s.checkHeaders(r)
	}
	var body []byte
	if err == nil {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	}
	var req Request
	if err == nil {
		req, err = s.decode(body, model)
	}
	if err != nil {
		s.reject(w, r, err)
		return
	}
	req.Wire, req.APIKey = s.wire, key
	s.reqs.Add(req)

	rep := s.answer(cloneRequest(req))
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	switch {
	case rep.Raw != "":
		standin.WriteRaw(w, rep.Status, rep.Raw)
	case rep.Status >= 400:
		standin.WriteJSON(w, rep.Status, s.errorBody(rep.Status, cmp.Or(rep.Message, http.StatusText(rep.Status)), rep.RetryAfter))
	default:
		standin.WriteJSON(w, http.StatusOK, s.success(req, rep))
	}
}

// serveGet answers ImageRouter's public model list and picture downloads,
// which must not carry the key.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("Authorization"); a != "" {
		s.reject(w, r, fmt.Errorf("an Authorization header on a public GET"))
		return
	}
	if err := standin.Query(r); err != nil {
		s.reject(w, r, err)
		return
	}
	s.mu.Lock()
	models, files := slices.Clone(s.models), slices.Clone(s.files)
	s.mu.Unlock()
	if r.URL.Path == "/v1/models" {
		data := []any{}
		for _, m := range models {
			data = append(data, map[string]any{"id": m.ID, "object": "model", "type": m.Type, "name": m.ID,
				"owned_by": strings.Split(m.ID, "/")[0], "supported_sizes": []any{"1024x1024"}, "supported_qualities": []any{"auto"}})
		}
		standin.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
		return
	}
	if n, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
		if i, err := strconv.Atoi(strings.TrimSuffix(n, ".png")); err == nil && i >= 0 && i < len(files) {
			w.Header().Set("Content-Type", http.DetectContentType(files[i]))
			w.Write(files[i])
			return
		}
		http.NotFound(w, r) // a file host answers plain 404s
		return
	}
	s.reject(w, r, fmt.Errorf("unknown path %q", r.URL.Path))
}

// reject fails the test and answers 400 as the real API answers a bad
// request.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, err error) {
	standin.Reject(s.t, w, r, "imagetest "+s.wire.String(), err, s.errorBody(http.StatusBadRequest, err.Error(), ""))
}

// checkHeaders checks the method, the query and the content type, and
// returns the key.
func (s *Server) checkHeaders(r *http.Request) (string, error) {
	if r.Method != http.MethodPost {
		return "", fmt.Errorf("method %s, want POST", r.Method)
	}
	if err := standin.Query(r); err != nil {
		return "", err
	}
	if err := standin.JSONContent(r.Header); err != nil {
		return "", err
	}
	if s.wire == Gemini {
		return standin.HeaderKey(r.Header, "x-goog-api-key")
	}
	return standin.BearerKey(r.Header)
}

// decode checks a generation request's body against the wire.
func (s *Server) decode(body []byte, model string) (Request, error) {
	var req Request
	if err := json.Unmarshal(body, &req.Body); err != nil || req.Body == nil {
		return req, fmt.Errorf("body is not a JSON object: %v", err)
	}
	switch s.wire {
	case OpenAI:
		return req, decodeOpenAI(body, &req)
	case Gemini:
		req.Model = model
		return req, decodeGemini(body, &req)
	}
	return req, decodeImageRouter(body, &req)
}

var sizeRE = regexp.MustCompile(`^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$`)

// dims reads "WxH"; "auto" and "" are 1024×1024.
func dims(size string) (w, h int, ok bool) {
	if size == "" || size == "auto" {
		return 1024, 1024, true
	}
	m := sizeRE.FindStringSubmatch(size)
	if m == nil {
		return 0, 0, false
	}
	w, _ = strconv.Atoi(m[1])
	h, _ = strconv.Atoi(m[2])
	return w, h, true
}

// oneOf reports a value outside allowed ("" is always allowed: unset).
func oneOf(field, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("Invalid value for '%s': '%s'. Supported values are: %s", field, v, strings.Join(allowed, ", "))
}

func decodeOpenAI(body []byte, req *Request) error {
	var b struct {
		Model             string `json:"model"`
		Prompt            string `json:"prompt"`
		N                 *int   `json:"n"`
		Quality           string `json:"quality"`
		Size              string `json:"size"`
		ResponseFormat    string `json:"response_format"`
		Style             string `json:"style"`
		OutputFormat      string `json:"output_format"`
		OutputCompression *int   `json:"output_compression"`
		Background        string `json:"background"`
		Moderation        string `json:"moderation"`
		User              string `json:"user"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return err
	}
	req.Model, req.Prompt = b.Model, b.Prompt
	if err := standin.Required("model", b.Model != "", "prompt", strings.TrimSpace(b.Prompt) != ""); err != nil {
		return err
	}
	if b.N != nil && *b.N != 1 {
		return fmt.Errorf("n = %d; the adapter asks for one picture", *b.N)
	}
	w, h, ok := dims(b.Size)
	if !ok {
		return fmt.Errorf("Invalid value for 'size': %q", b.Size)
	}
	switch m := b.Model; {
	case strings.HasPrefix(m, "gpt-image") || strings.HasPrefix(m, "chatgpt-image"):
		if b.ResponseFormat != "" || b.Style != "" {
			return fmt.Errorf("Unknown parameter: 'response_format' or 'style' (GPT image models always answer b64_json)")
		}
		arbitrary := strings.HasPrefix(m, "gpt-image-2") && w%16 == 0 && h%16 == 0
		if err := oneOf("size", b.Size, "1024x1024", "1536x1024", "1024x1536", "auto"); err != nil && !arbitrary {
			return err
		}
		return oneOf("quality", b.Quality, "low", "medium", "high", "auto")
	case m == "dall-e-3":
		if err := oneOf("size", b.Size, "1024x1024", "1792x1024", "1024x1792"); err != nil {
			return err
		}
		if err := oneOf("quality", b.Quality, "standard", "hd"); err != nil {
			return err
		}
	case m == "dall-e-2":
		if err := oneOf("size", b.Size, "256x256", "512x512", "1024x1024"); err != nil {
			return err
		}
		if err := oneOf("quality", b.Quality, "standard"); err != nil {
			return err
		}
	}
	if b.ResponseFormat != "b64_json" {
		// url would send the picture to a link that expires in an hour.
		return fmt.Errorf("response_format = %q; the adapter must ask for b64_json", b.ResponseFormat)
	}
	if b.OutputFormat != "" || b.Background != "" {
		return fmt.Errorf("output_format and background are GPT image parameters")
	}
	return nil
}

func decodeGemini(body []byte, req *Request) error {
	type part struct {
		Text *string `json:"text"`
	}
	var b struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []part `json:"parts"`
		} `json:"contents"`
		GenerationConfig *struct {
			ResponseModalities []string `json:"responseModalities"`
			ImageConfig        *struct {
				AspectRatio string `json:"aspectRatio"`
				ImageSize   string `json:"imageSize"`
			} `json:"imageConfig"`
		} `json:"generationConfig"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return err
	}
	if !strings.Contains(req.Model, "image") {
		return fmt.Errorf("model %q does not support the requested response modalities: image", req.Model)
	}
	if len(b.Contents) != 1 || b.Contents[0].Role != "user" || len(b.Contents[0].Parts) == 0 {
		return fmt.Errorf("contents: want one user turn with the prompt")
	}
	for i, p := range b.Contents[0].Parts {
		if p.Text == nil {
			return fmt.Errorf("contents[0].parts[%d] has no text", i)
		}
		req.Prompt += *p.Text
	}
	gc := b.GenerationConfig
	if gc == nil || !slices.Contains(gc.ResponseModalities, "IMAGE") {
		return fmt.Errorf("generationConfig.responseModalities must include IMAGE")
	}
	for _, m := range gc.ResponseModalities {
		if err := oneOf("responseModalities", m, "TEXT", "IMAGE"); err != nil {
			return err
		}
	}
	if ic := gc.ImageConfig; ic != nil {
		if err := oneOf("aspectRatio", ic.AspectRatio, "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"); err != nil {
			return err
		}
		return oneOf("imageSize", ic.ImageSize, "1K", "2K", "4K")
	}
	return nil
}

func decodeImageRouter(body []byte, req *Request) error {
	var b struct {
		Prompt         string `json:"prompt"`
		Model          string `json:"model"`
		Quality        string `json:"quality"`
		Size           string `json:"size"`
		ResponseFormat string `json:"response_format"`
		OutputFormat   string `json:"output_format"`
	}
	if err := standin.Strict(body, &b); err != nil {
		return err
	}
	req.Model, req.Prompt = b.Model, b.Prompt
	if err := standin.Required("model", b.Model != ""); err != nil {
		return err
	}
	if _, _, ok := dims(b.Size); !ok {
		return fmt.Errorf("Invalid value for 'size': %q", b.Size)
	}
	if err := oneOf("quality", b.Quality, "auto", "low", "medium", "high"); err != nil {
		return err
	}
	if err := oneOf("output_format", b.OutputFormat, "webp", "jpeg", "png"); err != nil {
		return err
	}
	return oneOf("response_format", b.ResponseFormat, "url", "b64_json", "b64_ephemeral")
}

// geminiDims is the picture size of an imageConfig: the longer side 1024
// (1K), 2048 or 4096 pixels at the aspect ratio.
func geminiDims(body map[string]any) (int, int) {
	gc, _ := body["generationConfig"].(map[string]any)
	ic, _ := gc["imageConfig"].(map[string]any)
	side := map[string]int{"2K": 2048, "4K": 4096}[fmt.Sprint(ic["imageSize"])]
	side = cmp.Or(side, 1024)
	var a, b int
	if _, err := fmt.Sscanf(fmt.Sprint(ic["aspectRatio"]), "%d:%d", &a, &b); err != nil || a <= 0 || b <= 0 {
		return side, side
	}
	if a >= b {
		return side, side * b / a
	}
	return side * a / b, side
}

// success is a generation's answer body.
func (s *Server) success(req Request, rep Reply) any {
	size, _ := req.Body["size"].(string)
	w, h, _ := dims(size)
	switch s.wire {
	case OpenAI:
		pic := base64.StdEncoding.EncodeToString(s.picture(rep, w, h))
		if strings.HasPrefix(req.Model, "dall-e") {
			return map[string]any{"created": 1700000000, "data": []any{map[string]any{"b64_json": pic, "revised_prompt": req.Prompt}}}
		}
		quality, _ := req.Body["quality"].(string)
		if quality == "" || quality == "auto" {
			quality = "medium"
		}
		in := len(strings.Fields(req.Prompt))
		return map[string]any{
			"created": 1700000000, "data": []any{map[string]any{"b64_json": pic}},
			"background": "opaque", "output_format": "png", "quality": quality, "size": fmt.Sprintf("%dx%d", w, h),
			"usage": map[string]any{"input_tokens": in, "output_tokens": 1056, "total_tokens": in + 1056,
				"input_tokens_details": map[string]any{"text_tokens": in, "image_tokens": 0}},
		}
	case Gemini:
		var parts []any
		if rep.Text != "" {
			parts = append(parts, map[string]any{"text": rep.Text})
		}
		if !rep.NoImage {
			gw, gh := geminiDims(req.Body)
			pic := s.picture(rep, gw, gh)
			parts = append(parts, map[string]any{"inlineData": map[string]any{
				"mimeType": http.DetectContentType(pic), "data": base64.StdEncoding.EncodeToString(pic)}})
		}
		in := len(strings.Fields(req.Prompt))
		return map[string]any{
			"candidates": []any{map[string]any{
				"content": map[string]any{"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0,
			}},
			"usageMetadata": map[string]any{"promptTokenCount": in, "candidatesTokenCount": 1290, "totalTokenCount": in + 1290},
			"modelVersion":  req.Model,
			"responseId":    "imagetest",
		}
	}
	pic := s.picture(rep, w, h)
	item := map[string]any{"b64_json": base64.StdEncoding.EncodeToString(pic)}
	if rep.URL {
		s.mu.Lock()
		item = map[string]any{"url": fmt.Sprintf("%s/files/%d.png", s.srv.URL, len(s.files))}
		s.files = append(s.files, pic)
		s.mu.Unlock()
	}
	return map[string]any{"created": 1700000000, "data": []any{item}, "latency": 4321, "cost": 0.04}
}

// errorBody is the wire's error answer for an HTTP status.
func (s *Server) errorBody(status int, msg, retryAfter string) any {
	if s.wire == Gemini {
		return standin.GoogleError(status, msg, "", retryAfter)
	}
	body := standin.OpenAIError(status, msg, "")
	if s.wire == ImageRouter {
		// ImageRouter's errors have OpenAI's shape without param and code.
		e := body["error"].(map[string]any)
		delete(e, "param")
		delete(e, "code")
	}
	return body
}

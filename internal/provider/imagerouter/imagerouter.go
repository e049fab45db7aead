// Package imagerouter paints cover art with ImageRouter
// (https://imagerouter.io), which routes one OpenAI-style request to many
// image models, using the user's key. Client implements echogen.ImageGen.
//
// Generate sends POST {base}/v1/openai/images/generations with
// Authorization: Bearer <key> and {"prompt","model","quality","size",
// "response_format":"b64_json"}. The answer is {"data":[{"b64_json"}]} or,
// from models that only link their output, {"data":[{"url"}]}, which is
// downloaded without the key and capped at MaxImageBytes. ListModels reads
// the public GET {base}/v1/models. Error answers carry {"error":{"message"}}.
//
// The key travels only in the Authorization header of API calls, whose
// redirects are not followed, and no returned error contains it. Errors
// carry the codes of providerhttp (LLMKeyRejected, LLMRateLimited, …).
package imagerouter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

const (
	// DefaultBaseURL is ImageRouter's API.
	DefaultBaseURL = "https://api.imagerouter.io"
	// DefaultModel is used when a request names none. The app's default,
	// openai/dall-e-3, was retired in May 2026; OpenAI's GPT Image 2 draws
	// legible titles, which a cover needs, and takes the sizes and
	// qualities below.
	DefaultModel = "openai/gpt-image-2"
	// DefaultQuality and DefaultSize are the app's defaults.
	DefaultQuality = "auto"
	DefaultSize    = "1024x1024"
	// DefaultTimeout bounds one call when Options.Timeout is zero: image
	// models take up to a couple of minutes, and a job attempt has 5.
	DefaultTimeout = 3 * time.Minute
	// MaxImageBytes caps a picture, decoded or downloaded.
	MaxImageBytes = 20 << 20

	generationsPath = "/v1/openai/images/generations"
	modelsPath      = "/v1/models"
	name            = "ImageRouter"
	// maxAnswer leaves room for a base64 picture of MaxImageBytes.
	maxAnswer = MaxImageBytes/3*4 + 64<<10
)

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests; nil means a plain &http.Client{}.
	HTTPClient *http.Client
	// BaseURL replaces DefaultBaseURL (tests, proxies).
	BaseURL string
	// Timeout bounds one call, download included; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client calls ImageRouter. It is safe for concurrent use.
type Client struct {
	api     *http.Client // API calls: redirects are not followed
	files   *http.Client // downloads of pictures, which may redirect to a CDN
	base    string
	timeout time.Duration
}

var _ echogen.ImageGen = (*Client)(nil)

// New returns a Client.
func New(opts Options) *Client {
	files := opts.HTTPClient
	if files == nil {
		files = &http.Client{}
	}
	api := *files
	api.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := cmp.Or(strings.TrimRight(strings.TrimSpace(opts.BaseURL), "/"), DefaultBaseURL)
	return &Client{api: &api, files: files, base: base, timeout: timeout}
}

// generation is the body of POST /v1/openai/images/generations.
type generation struct {
	Prompt         string `json:"prompt"`
	Model          string `json:"model"`
	Quality        string `json:"quality"`
	Size           string `json:"size"`
	ResponseFormat string `json:"response_format"`
}

var sizeRE = regexp.MustCompile(`^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$`)

// Generate implements echogen.ImageGen. req.BaseURL is ignored: the key,
// possibly the server's own, goes only to the configured base URL.
//
// Errors: KindUnauthenticated when ImageRouter refuses the key (401,
// 403); KindRateLimited, with RetryAfter, on 429; KindUnavailable on a
// 5xx, a network error, a timeout, an answer or a download that cannot be
// read or is not a PNG, JPEG or WebP picture; KindBadRequest on another
// 4xx (402 when out of credits) or a request that cannot be sent.
func (c *Client) Generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	img, err := c.generate(ctx, apiKey, req)
	return img, providerhttp.RedactError(err, apiKey)
}

func (c *Client) generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	body := generation{
		Prompt:         strings.TrimSpace(req.Prompt),
		Model:          cmp.Or(strings.TrimSpace(req.Model), DefaultModel),
		Quality:        cmp.Or(req.Quality, DefaultQuality),
		Size:           cmp.Or(req.Size, DefaultSize),
		ResponseFormat: "b64_json",
	}
	switch {
	case strings.TrimSpace(apiKey) == "":
		return nil, invalid("no %s API key", name)
	case !providerhttp.ValidHeaderValue(apiKey):
		return nil, invalid("the %s API key contains characters that cannot be sent in a request header", name)
	case body.Prompt == "":
		return nil, invalid("no prompt for the %s picture", name)
	case !slices.Contains([]string{"auto", "low", "medium", "high"}, body.Quality):
		return nil, invalid("quality %q is not auto, low, medium or high", providerhttp.Clean(body.Quality))
	case body.Size != "auto" && !sizeRE.MatchString(body.Size):
		return nil, invalid("size %q is not auto or WIDTHxHEIGHT", providerhttp.Clean(body.Size))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()

	var out struct {
		Data []struct {
			B64JSON string `json:"b64_json"`
			URL     string `json:"url"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodPost, generationsPath, apiKey, body, &out); err != nil {
		return nil, err
	}
	if len(out.Data) == 0 || out.Data[0].B64JSON == "" && out.Data[0].URL == "" {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent no picture", name)
	}
	pic, err := c.picture(ctx, out.Data[0].B64JSON, out.Data[0].URL, apiKey)
	if err != nil {
		return nil, err
	}
	ct, ok := providerhttp.ImageType(pic)
	if !ok {
		return nil, badAnswer("the picture is not a PNG, JPEG or WebP image", fmt.Errorf("sniffed %s", http.DetectContentType(pic)))
	}
	return &echogen.Image{Data: pic, ContentType: ct}, nil
}

// ListModels returns the IDs of ImageRouter's image models (type "image")
// from its public model list, sorted. Errors are those of Generate.
func (c *Client) ListModels(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, providerhttp.ErrLLMTimeout)
	defer cancel()
	var out struct {
		Data []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, modelsPath, "", nil, &out); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, m := range out.Data {
		if m.Type == "image" && m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// call sends one API request, with the key when there is one, and decodes
// a 2xx JSON answer into out.
func (c *Client) call(ctx context.Context, method, path, apiKey string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &echogen.Error{Kind: echogen.KindInternal, Code: providerhttp.LLMInvalidRequest, Message: "the " + name + " request could not be built", Err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return &echogen.Error{Kind: echogen.KindInternal, Code: providerhttp.LLMInvalidRequest, Message: "the " + name + " client is misconfigured", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return providerhttp.LLMCallError(ctx, name, err, false, apiKey)
	}
	defer resp.Body.Close()
	raw, err := providerhttp.ReadCapped(resp.Body, maxAnswer)
	switch {
	case errors.Is(err, providerhttp.ErrTooLarge):
		return badAnswer("the answer is too large", err)
	case err != nil:
		return providerhttp.LLMCallError(ctx, name, err, false, apiKey)
	case resp.StatusCode >= 400:
		return providerhttp.LLMStatusError(name, providerhttp.LLMCodeOf(resp.StatusCode), resp.StatusCode, errorMessage(raw),
			fmt.Sprintf("HTTP %d", resp.StatusCode), providerhttp.RetryAfter(resp.Header.Get("Retry-After"), time.Now()), apiKey)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return badAnswer(fmt.Sprintf("unexpected HTTP %d", resp.StatusCode), nil)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return providerhttp.LLMCallError(ctx, name, err, true, apiKey)
	}
	return nil
}

// picture decodes a base64 picture or, without one, downloads the link.
func (c *Client) picture(ctx context.Context, b64, link, apiKey string) ([]byte, error) {
	if b64 == "" {
		return c.download(ctx, link, apiKey)
	}
	if _, data, ok := strings.Cut(b64, ";base64,"); ok && strings.HasPrefix(b64, "data:") {
		b64 = data // a data: URL, as some of the routed providers send
	}
	pic, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, badAnswer("the picture is not valid base64", err)
	}
	return pic, nil
}

// download fetches a picture ImageRouter linked to, without the key.
func (c *Client) download(ctx context.Context, link, apiKey string) ([]byte, error) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, badAnswer("the picture's link is not an http(s) URL", nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, badAnswer("the picture's link is not an http(s) URL", err)
	}
	req.Header.Set("Accept", "image/*")
	resp, err := c.files.Do(req)
	if err != nil {
		return nil, providerhttp.LLMCallError(ctx, name, err, false, apiKey)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMUnavailable,
			Message: fmt.Sprintf("could not download the picture %s made (HTTP %d)", name, resp.StatusCode)}
	}
	pic, err := providerhttp.ReadCapped(resp.Body, MaxImageBytes)
	switch {
	case errors.Is(err, providerhttp.ErrTooLarge):
		return nil, badAnswer("the picture is larger than "+providerhttp.SizeText(MaxImageBytes), err)
	case err != nil:
		return nil, providerhttp.LLMCallError(ctx, name, err, false, apiKey)
	}
	return pic, nil
}

// errorMessage reads {"error":{"message":"…"}}, or {"error":"…"} and
// {"message":"…"} from proxies; "" for anything else (an HTML page).
func errorMessage(body []byte) string {
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &top) != nil {
		return ""
	}
	var e struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(top.Error, &e) == nil && e.Message != nil {
		top.Error = e.Message
	}
	return cmp.Or(providerhttp.JSONText(top.Error), providerhttp.JSONText(top.Message))
}

func invalid(format string, args ...any) error {
	return echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, format, args...)
}

func badAnswer(what string, cause error) error {
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
		Message: name + " sent an answer we cannot use: " + what, Err: cause}
}

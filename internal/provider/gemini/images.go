package gemini

import (
	"cmp"
	"context"
	"math"
	"strconv"
	"strings"

	"google.golang.org/genai"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

// DefaultImageModel is the model Generate uses when a request names none:
// Gemini 3.1 Flash Image, generally available since May 2026. Imagen was
// shut down on the Gemini API in 2026 and gemini-2.5-flash-image in
// October.
const DefaultImageModel = "gemini-3.1-flash-image"

// aspectRatios are the shapes Gemini's image models draw, as width/height.
var aspectRatios = []struct {
	name  string
	ratio float64
}{{"1:1", 1}, {"2:3", 2.0 / 3}, {"3:2", 1.5}, {"3:4", 0.75}, {"4:3", 4.0 / 3}, {"9:16", 9.0 / 16}, {"16:9", 16.0 / 9}, {"21:9", 21.0 / 9}}

// imageWithheld are the finish reasons of a picture Gemini would not draw
// that blockedFinish, the chat's list, lacks.
var imageWithheld = map[genai.FinishReason]bool{
	genai.FinishReasonImageProhibitedContent: true,
	genai.FinishReasonImageRecitation:        true,
}

var _ echogen.ImageGen = (*Client)(nil)

// Generate implements echogen.ImageGen with generateContent on a Gemini
// image model, asking for an image-only answer. Size (default 1024x1024)
// becomes the nearest aspect ratio Gemini draws and, by its longer side,
// 1K (the default, not sent), 2K or 4K; "auto" leaves both to the model.
// Quality is ignored: the models have no such setting. Imagen models are
// refused before any call: the SDK no longer offers them on the Gemini
// API.
//
// Errors are those of Complete; an answer without a PNG, JPEG or WebP
// picture is KindUnavailable, or KindBadRequest when Gemini withheld it.
func (c *Client) Generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	img, err := c.generate(ctx, apiKey, req)
	return img, providerhttp.RedactError(err, apiKey)
}

func (c *Client) generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	invalid := func(format string, args ...any) error {
		return echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, format, args...)
	}
	requested := cmp.Or(strings.TrimSpace(req.Model), DefaultImageModel)
	if strings.HasPrefix(strings.TrimPrefix(requested, "models/"), "imagen") {
		return nil, invalid("%s's Imagen models are shut down; use a Gemini image model such as %s", name, DefaultImageModel)
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, invalid("no prompt for the %s picture", name)
	}
	ic, ok := imageConfig(cmp.Or(req.Size, "1024x1024"))
	if !ok {
		return nil, invalid("size %q is not auto or WIDTHxHEIGHT", providerhttp.Clean(req.Size))
	}
	// params checks the model name and builds the one user turn.
	model, contents, cfg, err := params(echogen.LLMRequest{Model: requested,
		Messages: []echogen.LLMMessage{{Role: "user", Content: strings.TrimSpace(req.Prompt)}}})
	if err != nil {
		return nil, err
	}
	cfg.ResponseModalities = []string{string(genai.ModalityImage)}
	cfg.ImageConfig = ic
	cl, rec, err := c.sdk(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	out, err := c.generateContent(ctx, cl, rec, apiKey, model, contents, cfg)
	if err != nil {
		return nil, err
	}
	if pic := firstImage(out); pic != nil {
		ct, ok := providerhttp.ImageType(pic.Data)
		if !ok {
			return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse,
				"%s sent a picture that is not a PNG, JPEG or WebP image (%q)", name, providerhttp.Clean(pic.MIMEType))
		}
		return &echogen.Image{Data: pic.Data, ContentType: ct}, nil
	}
	// No picture: answer tells a withheld prompt or answer from an empty one.
	if out != nil && len(out.Candidates) > 0 && out.Candidates[0] != nil && imageWithheld[out.Candidates[0].FinishReason] {
		return nil, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMRefused, "blocked by %s: the picture (%s)", name, out.Candidates[0].FinishReason)
	}
	text, err := answer(out, model, apiKey)
	if err != nil {
		return nil, err
	}
	return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent no picture, only text: %s",
		name, providerhttp.Clean(providerhttp.Scrub(text.Text, apiKey)))
}

// imageConfig maps a size to Gemini's aspect ratio and image size; ok is
// false for a size that is not "auto" or "WIDTHxHEIGHT".
func imageConfig(size string) (ic *genai.ImageConfig, ok bool) {
	if size == "auto" {
		return nil, true
	}
	ws, hs, _ := strings.Cut(size, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if errW != nil || errH != nil || w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return nil, false
	}
	ic = &genai.ImageConfig{}
	best := math.Inf(1)
	for _, a := range aspectRatios {
		if d := math.Abs(math.Log(float64(w) / float64(h) / a.ratio)); d < best {
			best, ic.AspectRatio = d, a.name
		}
	}
	switch side := max(w, h); {
	case side > 2048:
		ic.ImageSize = "4K"
	case side > 1024:
		ic.ImageSize = "2K"
	}
	return ic, true
}

// firstImage returns the answer's first picture, skipping the drafts
// Gemini 3 image models draw while thinking.
func firstImage(out *genai.GenerateContentResponse) *genai.Blob {
	if out == nil || len(out.Candidates) == 0 || out.Candidates[0] == nil || out.Candidates[0].Content == nil {
		return nil
	}
	for _, p := range out.Candidates[0].Content.Parts {
		if p != nil && !p.Thought && p.InlineData != nil && len(p.InlineData.Data) > 0 && strings.HasPrefix(p.InlineData.MIMEType, "image/") {
			return p.InlineData
		}
	}
	return nil
}

package openai

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	"github.com/openai/openai-go/v3"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/provider/providerhttp"
)

// DefaultImageModel is the model Generate uses when a request names none.
// GPT Image 1 was shut down in October 2026 and DALL·E 3 in May; GPT
// Image 2, generally available since April 2026, draws legible titles,
// which a cover needs.
const DefaultImageModel = openai.ImageModelGPTImage2

var _ echogen.ImageGen = (*Client)(nil)

// Generate implements echogen.ImageGen with POST {base}/images/generations,
// asking for one picture as base64. Size (default 1024x1024) and Quality
// (auto, low, medium, high; default auto) are mapped to what the model
// takes:
//
//   - GPT image models (gpt-image-*, chatgpt-image-*): 1024x1024, 1536x1024
//     or 1024x1536, whichever has the requested shape, or auto; the
//     quality as asked. They always answer base64.
//   - dall-e-3: 1024x1024, 1792x1024 or 1024x1792 by shape; quality high
//     is "hd", any other "standard".
//   - dall-e-2: the smallest of the 256, 512 and 1024 squares that covers
//     the size; no quality.
//   - Any other model (an OpenAI-compatible server's): the size as asked,
//     no quality.
//
// Errors are those of Complete; an answer without a PNG, JPEG or WebP
// picture is KindUnavailable.
func (c *Client) Generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	img, err := c.generate(ctx, apiKey, req)
	return img, providerhttp.RedactError(err, apiKey)
}

func (c *Client) generate(ctx context.Context, apiKey string, req echogen.ImageRequest) (*echogen.Image, error) {
	params, err := c.imageParams(req)
	if err != nil {
		return nil, err
	}
	base, err := c.baseURL(req.BaseURL)
	if err != nil {
		return nil, err
	}
	svc := openai.NewImageService()
	res, err := send(ctx, c, apiKey, base, svc.Generate, params)
	if err != nil {
		return nil, err
	}
	if res == nil || len(res.Data) == 0 || res.Data[0].B64JSON == "" {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMEmptyAnswer, "%s sent no picture", c.name)
	}
	pic, err := base64.StdEncoding.DecodeString(res.Data[0].B64JSON)
	if err != nil {
		return nil, &echogen.Error{Kind: echogen.KindUnavailable, Code: providerhttp.LLMBadResponse,
			Message: c.name + " sent a picture that is not valid base64", Err: err}
	}
	ct, ok := providerhttp.ImageType(pic)
	if !ok {
		return nil, echogen.Errorf(echogen.KindUnavailable, providerhttp.LLMBadResponse,
			"%s sent a picture that is not a PNG, JPEG or WebP image", c.name)
	}
	return &echogen.Image{Data: pic, ContentType: ct}, nil
}

// imageParams maps an ImageRequest to the SDK's request body.
func (c *Client) imageParams(req echogen.ImageRequest) (openai.ImageGenerateParams, error) {
	invalid := func(format string, args ...any) (openai.ImageGenerateParams, error) {
		return openai.ImageGenerateParams{}, echogen.Errorf(echogen.KindBadRequest, providerhttp.LLMInvalidRequest, format, args...)
	}
	p := openai.ImageGenerateParams{
		Prompt: strings.TrimSpace(req.Prompt),
		Model:  cmp.Or(strings.TrimSpace(req.Model), DefaultImageModel),
	}
	quality := cmp.Or(req.Quality, "auto")
	size := cmp.Or(req.Size, "1024x1024")
	w, h, ok := imageDims(size)
	switch {
	case p.Prompt == "":
		return invalid("no prompt for the %s picture", c.name)
	case !slices.Contains([]string{"auto", "low", "medium", "high"}, quality):
		return invalid("quality %q is not auto, low, medium or high", providerhttp.Clean(quality))
	case !ok:
		return invalid("size %q is not auto or WIDTHxHEIGHT", providerhttp.Clean(size))
	}
	// shaped picks the size of the requested shape; auto is square.
	shaped := func(square, wide, tall string) openai.ImageGenerateParamsSize {
		switch {
		case w > h:
			return openai.ImageGenerateParamsSize(wide)
		case w < h:
			return openai.ImageGenerateParamsSize(tall)
		}
		return openai.ImageGenerateParamsSize(square)
	}
	b64 := openai.ImageGenerateParamsResponseFormatB64JSON
	switch m := p.Model; {
	case strings.HasPrefix(m, "gpt-image") || strings.HasPrefix(m, "chatgpt-image"):
		p.Size, p.Quality = shaped("1024x1024", "1536x1024", "1024x1536"), openai.ImageGenerateParamsQuality(quality)
		if size == "auto" {
			p.Size = openai.ImageGenerateParamsSizeAuto
		}
	case m == openai.ImageModelDallE3:
		p.Size, p.Quality, p.ResponseFormat = shaped("1024x1024", "1792x1024", "1024x1792"), openai.ImageGenerateParamsQualityStandard, b64
		if quality == "high" {
			p.Quality = openai.ImageGenerateParamsQualityHD
		}
	case m == openai.ImageModelDallE2:
		side := 1024
		for _, s := range []int{512, 256} {
			if w > 0 && max(w, h) <= s {
				side = s
			}
		}
		p.Size, p.ResponseFormat = openai.ImageGenerateParamsSize(strconv.Itoa(side)+"x"+strconv.Itoa(side)), b64
	default:
		p.ResponseFormat = b64
		if size != "auto" {
			p.Size = openai.ImageGenerateParamsSize(size)
		}
	}
	return p, nil
}

// imageDims reads "WIDTHxHEIGHT"; "auto" is 0×0.
func imageDims(size string) (w, h int, ok bool) {
	if size == "auto" {
		return 0, 0, true
	}
	ws, hs, _ := strings.Cut(size, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	return w, h, errW == nil && errH == nil && w > 0 && h > 0 && w <= 16384 && h <= 16384
}

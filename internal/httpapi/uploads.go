package httpapi

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/echogen/server/internal/echogen"
)

// uploadReadTimeout replaces the server's read timeout for an upload: a
// 200 MB file on a phone connection takes minutes.
const uploadReadTimeout = 30 * time.Minute

// uploadInput takes the raw request: the body is streamed part by part,
// never buffered whole, so huma must not read it.
type uploadInput struct {
	Kind string `query:"kind" enum:"audio,image,document" doc:"May be sent here or as a form field before the file."`
	req  *http.Request
	w    http.ResponseWriter
}

// Resolve keeps the request for the handler.
func (in *uploadInput) Resolve(ctx huma.Context) []error {
	in.req, in.w = humachi.Unwrap(ctx)
	return nil
}

type uploadResponse struct {
	StoragePath string `json:"storage_path" doc:"Use it as audio_storage_path or cover_art_storage_path, or to ingest a document."`
	Bucket      string `json:"bucket"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type" doc:"Sniffed from the bytes."`
	SHA256      string `json:"sha256"`
}

// uploadRequestBody documents the multipart body. It is added to the
// OpenAPI document after registering: declared on the operation, it would
// make huma read and parse the whole body itself.
var uploadRequestBody = huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
	"multipart/form-data": {Schema: &huma.Schema{
		Type:     "object",
		Required: []string{"file"},
		Properties: map[string]*huma.Schema{
			"kind": {Type: "string", Enum: []any{"audio", "image", "document"}},
			"file": {Type: "string", Format: "binary"},
		},
	}},
}}

func (s *Server) registerUploads(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "upload", Method: http.MethodPost, Path: s.path("/uploads"), Tags: []string{"uploads"},
		Summary:  "Upload audio, an image or a document",
		Security: bearerAuth, DefaultStatus: http.StatusCreated,
		Description: "multipart/form-data with `kind` (audio, image or document) and then `file`. The type is sniffed " +
			"from the bytes and must fit the kind; size caps per kind (defaults: audio 200 MB, image 10 MB, document 50 MB) answer 413.",
	}, func(ctx context.Context, in *uploadInput) (*struct{ Body uploadResponse }, error) {
		// A large upload outlasts the server's read and write timeouts,
		// and its answer comes only after the last byte.
		rc := http.NewResponseController(in.w)
		_ = rc.SetReadDeadline(time.Now().Add(uploadReadTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(uploadReadTimeout + time.Minute))
		mr, err := in.req.MultipartReader()
		if err != nil {
			return nil, echogen.Invalid([]string{"body"}, "value_error", "send multipart/form-data with the fields kind and file")
		}
		kind := in.Kind
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, echogen.Invalid([]string{"body", "file"}, "missing", "Field required")
			}
			if err != nil {
				return nil, echogen.Invalid([]string{"body"}, "value_error", "malformed multipart body")
			}
			switch part.FormName() {
			case "kind":
				if kind, err = readField(part); err != nil {
					return nil, err
				}
			case "file":
				if kind == "" {
					return nil, echogen.Invalid([]string{"body", "kind"}, "missing", "send kind (audio, image or document) before file, or as ?kind=")
				}
				file := &uploadPart{part: part}
				obj, err := s.library.Upload(ctx, principalFrom(ctx), echogen.UploadKind(kind), part.FileName(), file)
				if file.err != nil {
					// The body broke off or lost its boundary: the client's
					// malformed request, however the object store reported it.
					return nil, echogen.Invalid([]string{"body", "file"}, "value_error", "malformed multipart body: the file part ends without its closing boundary")
				}
				if err != nil {
					return nil, err
				}
				return &struct{ Body uploadResponse }{Body: uploadResponse{
					StoragePath: obj.StoragePath, Bucket: obj.Bucket, Size: obj.Size, ContentType: obj.ContentType, SHA256: obj.SHA256,
				}}, nil
			}
			part.Close()
		}
	})
	body := uploadRequestBody
	api.OpenAPI().Paths[s.path("/uploads")].Post.RequestBody = &body
}

// uploadPart reads the file part of an upload and keeps its first read
// error: a body cut short is the client's fault, not the server's.
type uploadPart struct {
	part *multipart.Part
	err  error
}

func (u *uploadPart) Read(p []byte) (int, error) {
	n, err := u.part.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && u.err == nil {
		u.err = err
	}
	return n, err
}

// readField reads a small form field.
func readField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, 65))
	if err != nil || len(b) > 64 {
		return "", echogen.Invalid([]string{"body", p.FormName()}, "value_error", "field too long")
	}
	return strings.TrimSpace(string(b)), nil
}

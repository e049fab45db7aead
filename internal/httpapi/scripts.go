package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// segment is one turn: start_time and end_time are always present (null
// until the audio is rendered), as the original server returned them.
type segment struct {
	Speaker   string   `json:"speaker" maxLength:"100"`
	Content   string   `json:"content" maxLength:"10000"`
	StartTime *float64 `json:"start_time,omitempty" nullable:"true" doc:"Seconds from the start."`
	EndTime   *float64 `json:"end_time,omitempty" nullable:"true"`
	Tone      string   `json:"tone,omitempty" maxLength:"100" doc:"How the line is said; never spoken."`
}

// segmentResponse is a segment as the API returns it.
type segmentResponse struct {
	Speaker   string   `json:"speaker"`
	Content   string   `json:"content"`
	StartTime *float64 `json:"start_time"`
	EndTime   *float64 `json:"end_time"`
	Tone      string   `json:"tone,omitempty"`
}

func toSegments(in []segment) []echogen.Segment {
	out := make([]echogen.Segment, len(in))
	for i, s := range in {
		out[i] = echogen.Segment{Speaker: s.Speaker, Content: s.Content, StartTime: s.StartTime, EndTime: s.EndTime, Tone: s.Tone}
	}
	return out
}

// scriptResponse is the client's Script.
type scriptResponse struct {
	ID              string            `json:"id"`
	UserID          string            `json:"user_id"`
	SourceContentID *string           `json:"source_content_id"`
	Title           string            `json:"title"`
	Prompt          string            `json:"prompt"`
	Model           string            `json:"model"`
	Language        string            `json:"language"`
	Segments        []segmentResponse `json:"segments"`
	Metadata        map[string]any    `json:"metadata"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

func toScriptResponse(sc *echogen.Script) scriptResponse {
	segs := make([]segmentResponse, len(sc.Segments))
	for i, s := range sc.Segments {
		segs[i] = segmentResponse(s)
	}
	return scriptResponse{
		ID: sc.ID, UserID: sc.UserID, SourceContentID: sc.SourceContentID, Title: sc.Title, Prompt: sc.Prompt, Model: sc.Model,
		Language: sc.Language, Segments: segs, Metadata: orEmptyMap(sc.Metadata), CreatedAt: ts(sc.CreatedAt), UpdatedAt: ts(sc.UpdatedAt),
	}
}

type scriptCreateRequest struct {
	SourceContentID *string        `json:"source_content_id,omitempty" nullable:"true" doc:"One of your content items."`
	Title           string         `json:"title,omitempty" maxLength:"500"`
	Prompt          string         `json:"prompt" maxLength:"100000"`
	Model           string         `json:"model" maxLength:"200"`
	Language        string         `json:"language,omitempty" default:"en" maxLength:"35"`
	Segments        []segment      `json:"segments" maxItems:"2000"`
	Metadata        map[string]any `json:"metadata,omitempty" nullable:"true"`
}

type scriptUpdateRequest struct {
	Title    optional[string]         `json:"title,omitempty"`
	Segments optional[[]segment]      `json:"segments,omitempty"`
	Metadata optional[map[string]any] `json:"metadata,omitempty"`
}

type scriptOutput struct {
	Body scriptResponse
}

type scriptIDInput struct {
	ScriptID string `path:"script_id"`
}

func (s *Server) registerScripts(api huma.API) {
	tags := []string{"scripts"}
	huma.Register(api, huma.Operation{
		OperationID: "create_script", Method: http.MethodPost, Path: s.path("/scripts"), Tags: tags,
		Summary: "Save a script", Security: bearerAuth, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct{ Body scriptCreateRequest }) (*scriptOutput, error) {
		sc, err := s.library.CreateScript(ctx, principalFrom(ctx), echogen.ScriptInput{
			SourceContentID: in.Body.SourceContentID, Title: in.Body.Title, Prompt: in.Body.Prompt, Model: in.Body.Model,
			Language: in.Body.Language, Segments: toSegments(in.Body.Segments), Metadata: in.Body.Metadata,
		})
		if err != nil {
			return nil, err
		}
		return &scriptOutput{Body: toScriptResponse(sc)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_scripts", Method: http.MethodGet, Path: s.path("/scripts"), Tags: tags,
		Summary: "List scripts, newest first", Security: bearerAuth,
	}, func(ctx context.Context, in *pageInput) (*struct{ Body []scriptResponse }, error) {
		scripts, err := s.library.ListScripts(ctx, principalFrom(ctx), in.page())
		if err != nil {
			return nil, err
		}
		out := make([]scriptResponse, len(scripts))
		for i := range scripts {
			out[i] = toScriptResponse(&scripts[i])
		}
		return &struct{ Body []scriptResponse }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_script", Method: http.MethodGet, Path: s.path("/scripts/{script_id}"), Tags: tags,
		Summary: "One script", Security: bearerAuth,
	}, func(ctx context.Context, in *scriptIDInput) (*scriptOutput, error) {
		sc, err := s.library.Script(ctx, principalFrom(ctx), in.ScriptID)
		if err != nil {
			return nil, err
		}
		return &scriptOutput{Body: toScriptResponse(sc)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update_script", Method: http.MethodPatch, Path: s.path("/scripts/{script_id}"), Tags: tags,
		Summary: "Change a script's title, segments or metadata", Security: bearerAuth,
	}, func(ctx context.Context, in *struct {
		ScriptID string `path:"script_id"`
		Body     scriptUpdateRequest
	}) (*scriptOutput, error) {
		patch := echogen.ScriptPatch{Title: in.Body.Title.Patch, Metadata: in.Body.Metadata.Patch}
		if in.Body.Segments.Set {
			if in.Body.Segments.Null {
				return nil, echogen.Invalid([]string{"body", "segments"}, "value_error", "segments cannot be null")
			}
			patch.Segments = echogen.Patch[[]echogen.Segment]{Set: true, Value: toSegments(in.Body.Segments.Value)}
		}
		sc, err := s.library.UpdateScript(ctx, principalFrom(ctx), in.ScriptID, patch)
		if err != nil {
			return nil, err
		}
		return &scriptOutput{Body: toScriptResponse(sc)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete_script", Method: http.MethodDelete, Path: s.path("/scripts/{script_id}"), Tags: tags,
		Summary: "Delete a script and its podcasts", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *scriptIDInput) (*struct{}, error) {
		return nil, s.library.DeleteScript(ctx, principalFrom(ctx), in.ScriptID)
	})
}

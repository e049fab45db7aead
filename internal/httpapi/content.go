package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// contentResponse is the client's ContentItem.
type contentResponse struct {
	ID        string         `json:"id"`
	UserID    string         `json:"user_id"`
	URL       string         `json:"url" doc:"Empty for pasted text and uploaded documents."`
	Title     string         `json:"title"`
	Markdown  string         `json:"markdown"`
	Provider  string         `json:"provider"`
	Metadata  map[string]any `json:"metadata"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

func toContentResponse(c *echogen.Content) contentResponse {
	return contentResponse{
		ID: c.ID, UserID: c.UserID, URL: c.URL, Title: c.Title, Markdown: c.Markdown, Provider: c.Provider,
		Metadata: orEmptyMap(c.Metadata), CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt),
	}
}

type contentCreateRequest struct {
	URL      *string        `json:"url,omitempty" nullable:"true" maxLength:"2083" doc:"An http(s) URL; leave it out for pasted text."`
	Title    string         `json:"title" maxLength:"500"`
	Markdown string         `json:"markdown"`
	Provider string         `json:"provider" maxLength:"100"`
	Metadata map[string]any `json:"metadata,omitempty" nullable:"true"`
}

type contentUpdateRequest struct {
	URL      optional[string]         `json:"url,omitempty"`
	Title    optional[string]         `json:"title,omitempty"`
	Markdown optional[string]         `json:"markdown,omitempty"`
	Metadata optional[map[string]any] `json:"metadata,omitempty"`
}

type contentList struct {
	Items []contentResponse `json:"items"`
	Total int               `json:"total" doc:"All of the caller's matching items, not just this page."`
}

// pageInput is the pagination every list takes. (huma cannot fill the
// fields of an embedded unexported struct, so inputs that add to it repeat
// its fields.)
type pageInput struct {
	Limit  int `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Offset int `query:"offset" minimum:"0" default:"0"`
}

func (p pageInput) page() echogen.Page { return echogen.Page{Limit: p.Limit, Offset: p.Offset} }

type contentOutput struct {
	Body contentResponse
}

type contentIDInput struct {
	ContentID string `path:"content_id"`
}

func (s *Server) registerContent(api huma.API) {
	tags := []string{"content"}
	huma.Register(api, huma.Operation{
		OperationID: "create_content", Method: http.MethodPost, Path: s.path("/content"), Tags: tags,
		Summary: "Save content", Security: bearerAuth, DefaultStatus: http.StatusCreated,
	}, func(ctx context.Context, in *struct{ Body contentCreateRequest }) (*contentOutput, error) {
		c, err := s.library.CreateContent(ctx, principalFrom(ctx), echogen.ContentInput{
			URL: in.Body.URL, Title: in.Body.Title, Markdown: in.Body.Markdown, Provider: in.Body.Provider, Metadata: in.Body.Metadata,
		})
		if err != nil {
			return nil, err
		}
		return &contentOutput{Body: toContentResponse(c)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_content", Method: http.MethodGet, Path: s.path("/content"), Tags: tags,
		Summary: "List content, newest first", Security: bearerAuth,
	}, func(ctx context.Context, in *struct {
		Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
		Offset int    `query:"offset" minimum:"0" default:"0"`
		Query  string `query:"q" maxLength:"200" doc:"Only items whose title or URL contains this, ignoring case."`
	}) (*struct{ Body contentList }, error) {
		page := echogen.Page{Limit: in.Limit, Offset: in.Offset, Query: in.Query}
		items, total, err := s.library.ListContent(ctx, principalFrom(ctx), page)
		if err != nil {
			return nil, err
		}
		out := contentList{Items: make([]contentResponse, len(items)), Total: total}
		for i := range items {
			out.Items[i] = toContentResponse(&items[i])
		}
		return &struct{ Body contentList }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_content", Method: http.MethodGet, Path: s.path("/content/{content_id}"), Tags: tags,
		Summary: "One content item", Security: bearerAuth,
	}, func(ctx context.Context, in *contentIDInput) (*contentOutput, error) {
		c, err := s.library.Content(ctx, principalFrom(ctx), in.ContentID)
		if err != nil {
			return nil, err
		}
		return &contentOutput{Body: toContentResponse(c)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update_content", Method: http.MethodPatch, Path: s.path("/content/{content_id}"), Tags: tags,
		Summary: "Change content", Security: bearerAuth, Description: "Absent keys stay; a null url removes it.",
	}, func(ctx context.Context, in *struct {
		ContentID string `path:"content_id"`
		Body      contentUpdateRequest
	}) (*contentOutput, error) {
		c, err := s.library.UpdateContent(ctx, principalFrom(ctx), in.ContentID, echogen.ContentPatch{
			URL: in.Body.URL.Patch, Title: in.Body.Title.Patch, Markdown: in.Body.Markdown.Patch, Metadata: in.Body.Metadata.Patch,
		})
		if err != nil {
			return nil, err
		}
		return &contentOutput{Body: toContentResponse(c)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete_content", Method: http.MethodDelete, Path: s.path("/content/{content_id}"), Tags: tags,
		Summary: "Delete content", Security: bearerAuth, DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *contentIDInput) (*struct{}, error) {
		return nil, s.library.DeleteContent(ctx, principalFrom(ctx), in.ContentID)
	})
}

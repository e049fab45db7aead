package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// errorResponse is every error body of the API, in the FastAPI shape the
// mobile client parses: detail is a string, or for validation errors a list
// of {loc, msg, type}. code is stable for programs; request_id ties the
// answer to our logs.
type errorResponse struct {
	status    int
	headers   http.Header
	Detail    any    `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

func (e *errorResponse) Error() string  { return fmt.Sprintf("%d %s: %v", e.status, e.Code, e.Detail) }
func (e *errorResponse) GetStatus() int { return e.status }

// validationItem is one entry of a 422 detail list.
type validationItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// statusOf maps an error kind to its HTTP status. This is the only place the
// server decides status codes for errors.
func statusOf(k echogen.Kind) int {
	switch k {
	case echogen.KindInvalid:
		return http.StatusUnprocessableEntity
	case echogen.KindBadRequest:
		return http.StatusBadRequest
	case echogen.KindUnauthenticated:
		return http.StatusUnauthorized
	case echogen.KindPermissionDenied:
		return http.StatusForbidden
	case echogen.KindNotFound:
		return http.StatusNotFound
	case echogen.KindConflict:
		return http.StatusConflict
	case echogen.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case echogen.KindRateLimited:
		return http.StatusTooManyRequests
	case echogen.KindNotImplemented:
		return http.StatusNotImplemented
	case echogen.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// statusClientClosedRequest is nginx's status for a request whose client
// left before the answer; metrics count it apart from server errors.
const statusClientClosedRequest = 499

// toErrorResponse turns any error into the response the client sees. A
// non-domain error is an internal one: it is logged with its cause, and the
// client gets a generic message.
func toErrorResponse(info *requestInfo, err error) *errorResponse {
	var resp *errorResponse
	if errors.As(err, &resp) {
		return resp
	}
	if errors.Is(err, context.Canceled) {
		// The client went away (a server shutdown waits for requests
		// instead of cancelling them): nobody reads this answer, and it is
		// not the server's failure, so it is neither a 500 nor an error log.
		info.log.Info("client closed the request", "error", err.Error())
		return &errorResponse{status: statusClientClosedRequest, Detail: "Client Closed Request", Code: "client_closed_request", RequestID: info.id}
	}
	var de *echogen.Error
	if !errors.As(err, &de) {
		info.log.Error("internal error", "error", err.Error())
		return &errorResponse{status: http.StatusInternalServerError, Detail: "Internal Server Error", Code: "internal_error", RequestID: info.id}
	}
	resp = &errorResponse{status: statusOf(de.Kind), Detail: de.Message, Code: de.Code, RequestID: info.id}
	if resp.status == http.StatusInternalServerError {
		info.log.Error("internal error", "error", de.Error())
		resp.Detail = "Internal Server Error"
	}
	if len(de.Fields) > 0 {
		items := make([]validationItem, len(de.Fields))
		for i, f := range de.Fields {
			loc := make([]any, len(f.Loc))
			for j, l := range f.Loc {
				if n, err := strconv.Atoi(l); err == nil {
					loc[j] = n
				} else {
					loc[j] = l
				}
			}
			items[i] = validationItem{Loc: loc, Msg: f.Msg, Type: f.Type}
		}
		resp.Detail = items
	}
	switch de.Kind {
	case echogen.KindUnauthenticated:
		resp.headers = http.Header{"Www-Authenticate": {bearerChallenge(de.Code)}}
	case echogen.KindRateLimited, echogen.KindUnavailable:
		if de.Kind == echogen.KindRateLimited || de.RetryAfter > 0 {
			secs := max(int(math.Ceil(de.RetryAfter.Seconds())), 1)
			resp.headers = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		}
	}
	return resp
}

func bearerChallenge(code string) string {
	if code == "missing_token" {
		return `Bearer realm="echogen"`
	}
	return `Bearer realm="echogen", error="invalid_token"`
}

// humaError adapts huma's own errors (validation, body size, parse errors)
// and the errors our handlers return to errorResponse. It is installed as
// huma.NewErrorWithContext, so every error huma writes has our shape.
func humaError(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
	reqCtx := context.Background()
	if ctx != nil {
		reqCtx = ctx.Context()
	}
	info := requestInfoFrom(reqCtx)
	for _, err := range errs {
		var de *echogen.Error
		if errors.As(err, &de) {
			resp := toErrorResponse(info, de)
			for k, v := range resp.headers {
				if ctx != nil {
					ctx.SetHeader(k, v[0])
				}
			}
			return resp
		}
	}
	if status >= 500 {
		var cause error = errors.New(msg)
		if len(errs) > 0 && errs[0] != nil {
			cause = errs[0]
		}
		return toErrorResponse(info, cause)
	}
	resp := &errorResponse{status: status, Detail: humaMessage(msg), Code: codeForStatus(status), RequestID: info.id}
	if status == http.StatusUnprocessableEntity || status == http.StatusBadRequest {
		var items []validationItem
		for _, err := range errs {
			var d *huma.ErrorDetail
			if errors.As(err, &d) {
				items = append(items, validationFromHuma(d))
			}
		}
		if len(items) > 0 {
			resp.status = http.StatusUnprocessableEntity
			resp.Code = "validation_error"
			resp.Detail = items
		}
	}
	return resp
}

func humaMessage(msg string) string {
	if msg == "" {
		return "Request failed"
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnprocessableEntity:
		return "validation_error"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	}
	return strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

var requiredProperty = regexp.MustCompile(`^expected required property (\S+) to be present$`)

// validationFromHuma turns huma's "body.responses[0].question" locations
// into FastAPI's ["body", "responses", 0, "question"].
func validationFromHuma(d *huma.ErrorDetail) validationItem {
	var loc []any
	for _, part := range strings.Split(d.Location, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			loc = append(loc, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(idx); err == nil {
				loc = append(loc, n)
			} else if idx != "" {
				loc = append(loc, idx)
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	item := validationItem{Loc: loc, Msg: d.Message, Type: "value_error"}
	if m := requiredProperty.FindStringSubmatch(d.Message); m != nil {
		item.Loc = append(item.Loc, m[1])
		item.Msg = "Field required"
		item.Type = "missing"
	}
	if item.Loc == nil {
		item.Loc = []any{"body"}
	}
	return item
}

// writeError writes err outside huma (router fallbacks, panics, middleware).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	resp := toErrorResponse(requestInfoFrom(r.Context()), err)
	writeErrorResponse(w, resp)
}

func writeErrorResponse(w http.ResponseWriter, resp *errorResponse) {
	for k, v := range resp.headers {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_ = json.NewEncoder(w).Encode(resp)
}

func init() {
	// huma builds every error body through these package-level hooks. Setting
	// them once, before any server exists, gives all of its errors our shape
	// without racing servers created concurrently in tests.
	huma.NewErrorWithContext = humaError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return humaError(nil, status, msg, errs...)
	}
}

package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/echogen/server/internal/echogen"
)

// jobResponse is the client's Job (JobStatus) plus progress and attempts.
type jobResponse struct {
	ID          string           `json:"id"`
	JobType     string           `json:"job_type"`
	Status      string           `json:"status" enum:"queued,running,succeeded,failed,cancelled"`
	Payload     map[string]any   `json:"payload"`
	Result      map[string]any   `json:"result"`
	Error       *string          `json:"error"`
	Progress    echogen.Progress `json:"progress"`
	Attempt     int              `json:"attempt"`
	MaxAttempts int              `json:"max_attempts"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	StartedAt   *time.Time       `json:"started_at"`
	FinishedAt  *time.Time       `json:"finished_at"`
}

func toJobResponse(j *echogen.Job) jobResponse {
	return jobResponse{
		ID: j.ID, JobType: j.Type, Status: string(j.Status), Payload: orEmptyMap(j.Payload), Result: j.Result, Error: j.Error,
		Progress: j.Progress, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		CreatedAt: ts(j.CreatedAt), UpdatedAt: ts(j.UpdatedAt), StartedAt: tsPtr(j.StartedAt), FinishedAt: tsPtr(j.FinishedAt),
	}
}

type jobCreateRequest struct {
	JobType string         `json:"job_type" maxLength:"64"`
	Payload map[string]any `json:"payload,omitempty" nullable:"true"`
}

type acceptedJobOutput struct {
	JobID string `header:"X-Job-ID"`
	Body  jobResponse
}

type jobOutput struct {
	Body jobResponse
}

type jobIDInput struct {
	JobID string `path:"job_id"`
}

// progressEvent and statusEvent are the SSE events of a job stream.
type progressEvent struct {
	JobID    string           `json:"job_id"`
	Status   string           `json:"status"`
	Progress echogen.Progress `json:"progress"`
}

// sseRecheck is how often a stream rereads its job when nothing in this
// process said it changed: the worker may be another process.
const sseRecheck = 2 * time.Second

// sseKeepAlive is how long a stream may stay silent before it sends a
// comment, so that proxies do not close it as idle.
const sseKeepAlive = 15 * time.Second

// Drain ends every open event stream; the server calls it when it begins
// shutting down, so that streams, which would otherwise last until their
// job ends, do not hold the shutdown until its deadline.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

func (s *Server) accepted(j *echogen.Job) *acceptedJobOutput {
	return &acceptedJobOutput{JobID: j.ID, Body: toJobResponse(j)}
}

func (s *Server) registerJobs(api huma.API) {
	tags := []string{"jobs"}
	huma.Register(api, huma.Operation{
		OperationID: "enqueue_job", Method: http.MethodPost, Path: s.path("/jobs"), Tags: tags,
		Summary: "Start a background job", Security: bearerAuth, DefaultStatus: http.StatusAccepted,
		Description: "Answers 202 with the queued job and its id in X-Job-ID. Unknown job types are 400 and list the valid ones; a bad payload is 422.",
	}, func(ctx context.Context, in *struct{ Body jobCreateRequest }) (*acceptedJobOutput, error) {
		j, err := s.jobs.Enqueue(ctx, principalFrom(ctx), in.Body.JobType, in.Body.Payload)
		if err != nil {
			return nil, err
		}
		return s.accepted(j), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list_jobs", Method: http.MethodGet, Path: s.path("/jobs"), Tags: tags,
		Summary: "List jobs, newest first", Security: bearerAuth,
	}, func(ctx context.Context, in *struct {
		Limit   int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
		Offset  int    `query:"offset" minimum:"0" default:"0"`
		Status  string `query:"status" enum:"queued,running,succeeded,failed,cancelled"`
		JobType string `query:"job_type" maxLength:"64"`
	}) (*struct{ Body []jobResponse }, error) {
		list, err := s.jobs.List(ctx, principalFrom(ctx), echogen.JobFilter{Status: echogen.JobStatus(in.Status), Type: in.JobType},
			echogen.Page{Limit: in.Limit, Offset: in.Offset})
		if err != nil {
			return nil, err
		}
		out := make([]jobResponse, len(list))
		for i := range list {
			out[i] = toJobResponse(&list[i])
		}
		return &struct{ Body []jobResponse }{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get_job", Method: http.MethodGet, Path: s.path("/jobs/{job_id}"), Tags: tags,
		Summary: "One job", Security: bearerAuth,
	}, func(ctx context.Context, in *jobIDInput) (*jobOutput, error) {
		j, err := s.jobs.Job(ctx, principalFrom(ctx), in.JobID)
		if err != nil {
			return nil, err
		}
		return &jobOutput{Body: toJobResponse(j)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "cancel_job", Method: http.MethodPost, Path: s.path("/jobs/{job_id}/cancel"), Tags: tags,
		Summary: "Cancel a job", Security: bearerAuth,
		Description: "A running job's work is stopped, its provider calls included. A finished job is returned unchanged.",
	}, func(ctx context.Context, in *jobIDInput) (*jobOutput, error) {
		j, err := s.jobs.Cancel(ctx, principalFrom(ctx), in.JobID)
		if err != nil {
			return nil, err
		}
		return &jobOutput{Body: toJobResponse(j)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "job_events", Method: http.MethodGet, Path: s.path("/jobs/{job_id}/events"), Tags: tags,
		Summary: "Follow a job as server-sent events", Security: bearerAuth,
		Description: "`status` events carry the whole job, `progress` events its progress; each event's id is the job's version. " +
			"The stream ends after the job finishes. Reconnect with Last-Event-ID to skip what you saw.",
		Responses: map[string]*huma.Response{"200": {
			Description: "An event stream.",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}},
		}},
	}, func(ctx context.Context, in *struct {
		JobID       string `path:"job_id"`
		LastEventID string `header:"Last-Event-ID"`
	}) (*huma.StreamResponse, error) {
		// Look the job up before answering, so a stranger's or a missing
		// job is a plain 404, not an empty stream.
		j, changed, stop, err := s.jobs.Watch(ctx, principalFrom(ctx), in.JobID)
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer stop()
			hctx.SetHeader("Content-Type", "text/event-stream")
			hctx.SetHeader("Cache-Control", "no-store")
			hctx.SetHeader("X-Accel-Buffering", "no") // tell nginx not to hold events back
			hctx.SetStatus(http.StatusOK)
			s.observer.Streams(1)
			defer s.observer.Streams(-1)
			s.streamJob(hctx.Context(), j, changed, in.LastEventID, newEventWriter(hctx.BodyWriter()))
		}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "ingest_content", Method: http.MethodPost, Path: s.path("/content/ingest"), Tags: []string{"content", "jobs"},
		Summary: "Turn a URL, text or an uploaded document into content", Security: bearerAuth, DefaultStatus: http.StatusAccepted,
		Description: "Starts a content_ingest job: `{url}`, `{text, title}` or `{storage_path}` (from POST /uploads, kind document), " +
			"with `provider` builtin (default), firecrawl or hyperbrowser (your key for it, from /api-keys). The job's result is `{content_id}`.",
	}, func(ctx context.Context, in *struct{ Body map[string]any }) (*acceptedJobOutput, error) {
		j, err := s.jobs.Enqueue(ctx, principalFrom(ctx), echogen.ContentIngestType, in.Body)
		if err != nil {
			return nil, err
		}
		return s.accepted(j), nil
	})
}

// streamJob sends the job's state whenever it changes, until it finishes
// or the client goes away. Events already seen (by Last-Event-ID, the
// job's version) are not sent again.
func (s *Server) streamJob(ctx context.Context, j *echogen.Job, changed <-chan struct{}, lastEventID string, w *eventWriter) {
	p := principalFrom(ctx)
	seen, _ := strconv.ParseInt(lastEventID, 10, 64)
	lastStatus := echogen.JobStatus("")
	if seen > 0 && seen >= j.Version {
		lastStatus = j.Status
	}
	recheck := time.NewTicker(sseRecheck)
	defer recheck.Stop()
	for {
		if j.Version > seen {
			if j.Status != lastStatus {
				if w.send(j.Version, "status", toJobResponse(j)) != nil {
					return
				}
				lastStatus = j.Status
			}
			if w.send(j.Version, "progress", progressEvent{JobID: j.ID, Status: string(j.Status), Progress: j.Progress}) != nil {
				return
			}
			seen = j.Version
		}
		if j.Status.Terminal() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.draining:
			return // the client reconnects with Last-Event-ID, to another process
		case <-changed:
		case <-recheck.C:
			if time.Since(w.lastWrite) >= sseKeepAlive && w.comment("keep-alive") != nil {
				return
			}
		}
		next, err := s.jobs.Job(ctx, p, j.ID)
		if err != nil {
			return
		}
		j = next
	}
}

// eventWriter writes server-sent events and flushes each one.
type eventWriter struct {
	w         io.Writer
	rc        *http.ResponseController
	lastWrite time.Time
}

func newEventWriter(w io.Writer) *eventWriter {
	ew := &eventWriter{w: w, lastWrite: time.Now()}
	if rw, ok := w.(http.ResponseWriter); ok {
		ew.rc = http.NewResponseController(rw)
		_ = ew.rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	}
	return ew
}

func (e *eventWriter) send(id int64, event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return e.write(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, event, b))
}

// comment sends an SSE comment, which clients ignore.
func (e *eventWriter) comment(text string) error { return e.write(": " + text + "\n\n") }

func (e *eventWriter) write(chunk string) error {
	e.lastWrite = time.Now()
	if _, err := io.WriteString(e.w, chunk); err != nil {
		return err
	}
	if e.rc != nil {
		return e.rc.Flush()
	}
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

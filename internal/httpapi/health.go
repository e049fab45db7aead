package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type healthResponse struct {
	Status      string `json:"status"`
	Service     string `json:"service"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// readyTimeout bounds each readiness check so a hung dependency cannot hang
// the load balancer's probe.
const readyTimeout = 2 * time.Second

func (s *Server) registerHealth(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/health",
		Summary: "Liveness", Description: "The original body; checks no dependency.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body healthResponse }, error) {
		return &struct{ Body healthResponse }{Body: healthResponse{
			Status: "healthy", Service: s.opts.ProjectName, Version: Version, Environment: s.opts.Environment,
		}}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "ready", Method: http.MethodGet, Path: "/ready",
		Summary: "Readiness", Description: "200 when every dependency answers, 503 otherwise, naming each check.",
	}, func(ctx context.Context, _ *struct{}) (*struct {
		Status int
		Body   readyResponse
	}, error) {
		out := &struct {
			Status int
			Body   readyResponse
		}{Status: http.StatusOK, Body: readyResponse{Status: "ready", Checks: map[string]string{}}}
		for _, c := range s.ready {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			err := c.Check(cctx)
			cancel()
			if err != nil {
				requestInfoFrom(ctx).log.Warn("readiness check failed", "check", c.Name, "error", err.Error())
				out.Status = http.StatusServiceUnavailable
				out.Body.Status = "unavailable"
				out.Body.Checks[c.Name] = "unavailable"
				continue
			}
			out.Body.Checks[c.Name] = "ok"
		}
		return out, nil
	})
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/metrics"
)

func TestMetricsAreServed(t *testing.T) {
	m := metrics.New()
	m.Request("GET", "/api/v1/auth/me", 200, 3*time.Millisecond)
	m.Request("GET", "", 404, time.Millisecond) // unmatched: one label for all
	m.Request("GET", "", 404, time.Millisecond)
	m.JobAttempt("audio_render", "retried", 2*time.Second)
	m.JobAttempt("audio_render", "succeeded", 3*time.Second)
	m.ProviderCall(echogen.ProviderOpenAI, echogen.KindName(nil), 800*time.Millisecond)
	m.ProviderCall(echogen.ProviderOpenAI, echogen.KindName(echogen.Errorf(echogen.KindRateLimited, "x", "slow down")), time.Millisecond)
	m.Streams(1)
	m.Streams(1)
	m.Streams(-1)
	m.WatchQueue(func(context.Context) (map[string]int64, error) {
		return map[string]int64{"available": 7, "running": 2}, nil
	})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`echogen_http_requests_total{method="GET",route="/api/v1/auth/me",status="200"} 1`,
		`echogen_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`echogen_http_request_duration_seconds_bucket{method="GET",route="/api/v1/auth/me",le="0.005"} 1`,
		`echogen_job_attempts_total{job_type="audio_render",outcome="retried"} 1`,
		`echogen_job_attempt_duration_seconds_count{job_type="audio_render"} 2`,
		`echogen_provider_calls_total{outcome="ok",provider="openai"} 1`,
		`echogen_provider_calls_total{outcome="rate_limited",provider="openai"} 1`,
		`echogen_event_streams_open 1`,
		`echogen_queue_jobs{state="available"} 7`,
		`echogen_queue_jobs{state="running"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestQueueDepthFailureIsReported(t *testing.T) {
	m := metrics.New()
	m.WatchQueue(func(context.Context) (map[string]int64, error) { return nil, errors.New("database is down") })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "go_goroutines") || strings.Contains(body, "echogen_queue_jobs{") {
		t.Errorf("status %d, body %q: the other metrics must still be served, and no made-up queue depth", rec.Code, body)
	}
}

package metrics_test

import (
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
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

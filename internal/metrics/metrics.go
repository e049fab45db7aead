// Package metrics exposes the server's counters to Prometheus: it
// implements echogen.Observer on a private registry and serves it.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/echogen/server/internal/echogen"
)

// Metrics is an echogen.Observer that Prometheus scrapes.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	streams      prometheus.Gauge
}

var _ echogen.Observer = (*Metrics)(nil)

// New returns Metrics with the Go runtime's and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echogen_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "echogen_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echogen_job_attempts_total", Help: "Job attempts by job type and outcome (succeeded, failed, retried, cancelled, interrupted).",
		}, []string{"job_type", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "echogen_job_attempt_duration_seconds", Help: "Job attempt duration by job type.",
			Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600},
		}, []string{"job_type"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echogen_provider_calls_total", Help: "Calls to AI and scraping providers by provider and outcome (ok or the error's kind).",
		}, []string{"provider", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "echogen_provider_call_duration_seconds", Help: "Provider call latency by provider.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"provider"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "echogen_event_streams_open", Help: "Job event streams (server-sent events) open now.",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.jobs, m.jobDuration, m.calls, m.callDuration, m.streams,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format. A collector that
// fails (the queue depth while the database is down) is left out rather
// than failing the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Request implements echogen.Observer. Unmatched routes share one label,
// so scanners cannot grow the series without bound.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// JobAttempt implements echogen.Observer.
func (m *Metrics) JobAttempt(jobType, outcome string, d time.Duration) {
	m.jobs.WithLabelValues(jobType, outcome).Inc()
	m.jobDuration.WithLabelValues(jobType).Observe(d.Seconds())
}

// ProviderCall implements echogen.Observer.
func (m *Metrics) ProviderCall(provider echogen.Provider, outcome string, d time.Duration) {
	m.calls.WithLabelValues(string(provider), outcome).Inc()
	m.callDuration.WithLabelValues(string(provider)).Observe(d.Seconds())
}

// Streams implements echogen.Observer.
func (m *Metrics) Streams(delta int) { m.streams.Add(float64(delta)) }

// QueueDepth reports the job queue's unfinished entries by state.
type QueueDepth func(ctx context.Context) (map[string]int64, error)

// WatchQueue exports the queue's depth, read from the database at each
// scrape (so every process reports the whole cluster's queue).
func (m *Metrics) WatchQueue(depth QueueDepth) {
	m.registry.MustRegister(&queueCollector{depth: depth, desc: prometheus.NewDesc("echogen_queue_jobs",
		"Unfinished job queue entries by state (available, scheduled, retryable, running), across all processes.", []string{"state"}, nil)})
}

type queueCollector struct {
	depth QueueDepth
	desc  *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depth, err := c.depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range depth {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
}

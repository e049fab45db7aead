// Package tracing sends OpenTelemetry traces of HTTP requests and River jobs
// to a collector over OTLP/HTTP, when one is configured. Without one it
// costs nothing: the middleware is the handler itself and no goroutine
// starts.
//
// It sets no OpenTelemetry globals: the tracer provider and the W3C trace
// context propagator are handed to the instrumentation explicitly.
package tracing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// tracesPath is what OTLP/HTTP appends to a collector's base URL for
// traces.
const tracesPath = "/v1/traces"

// RoleKey is the resource attribute that tells an API process from a
// worker.
const RoleKey = attribute.Key("echogen.role")

// Options say where traces go and which service they describe.
type Options struct {
	// Endpoint is the full URL spans are posted to, used as it is:
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, such as
	// http://collector:4318/v1/traces.
	Endpoint string
	// BaseEndpoint is the collector's base URL, OTEL_EXPORTER_OTLP_ENDPOINT:
	// spans go to it plus /v1/traces, as the OpenTelemetry specification
	// says. Endpoint wins when both are set. With neither, tracing is off.
	BaseEndpoint string
	// ServiceName is service.name; empty means "echogen". The
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES variables override it.
	ServiceName string
	// ServiceVersion is service.version.
	ServiceVersion string
	// Role is this process's part (api, worker, all), as echogen.role.
	Role string
	// Untraced are request paths that get no span, such as the health
	// checks and /metrics that probes and scrapers call all day.
	Untraced []string
}

// Tracing is the process's tracer provider and the instrumentation built
// on it. A nil *Tracing is off, like the one Setup returns without an
// endpoint.
type Tracing struct {
	provider   *sdktrace.TracerProvider // nil when off
	propagator propagation.TextMapPropagator
	untraced   map[string]bool
}

// Setup starts tracing as opts say: an OTLP/HTTP exporter behind a batch
// span processor. The exporter also reads the standard
// OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression,
// certificates) from the process environment, and the SDK reads
// OTEL_TRACES_SAMPLER and OTEL_BSP_*. Nothing is sent to the collector
// until there is a span, so Setup succeeds while it is down; export
// failures go to OpenTelemetry's error handler. Call Shutdown when done.
func Setup(ctx context.Context, opts Options) (*Tracing, error) {
	endpoint, err := tracesURL(opts)
	if err != nil {
		return nil, err
	}
	if endpoint == "" {
		return &Tracing{}, nil
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: create exporter: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(cmp.Or(opts.ServiceName, "echogen"))}
	if opts.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(opts.ServiceVersion))
	}
	if opts.Role != "" {
		attrs = append(attrs, RoleKey.String(opts.Role))
	}
	// Later detectors win: the operator's OTEL_* variables over ours.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: describe the service: %w", err)
	}
	untraced := map[string]bool{}
	for _, p := range opts.Untraced {
		untraced[p] = true
	}
	return &Tracing{
		provider:   sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)),
		propagator: propagation.TraceContext{},
		untraced:   untraced,
	}, nil
}

// tracesURL is the URL spans are posted to, or "" when tracing is off.
func tracesURL(opts Options) (string, error) {
	raw, name := opts.Endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if raw == "" && opts.BaseEndpoint != "" {
		raw, name = strings.TrimRight(opts.BaseEndpoint, "/")+tracesPath, "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	if raw == "" {
		return "", nil
	}
	// The exporter silently keeps its default (localhost) on a bad URL.
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: %s must be an http(s) URL", name)
	}
	return raw, nil
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// TracerProvider is the provider spans start from; a no-op one when
// tracing is off.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if !t.Enabled() {
		return tracenoop.NewTracerProvider()
	}
	return t.provider
}

// Middleware traces each request: it continues a trace the caller passed in
// a W3C traceparent header, and names the span after the method and chi
// route pattern that served the request ("GET /api/v1/content/{id}"),
// known once routing is done. Requests for Options.Untraced paths pass
// through untraced. Off, it returns next.
//
// Routing must use the chi routing context this middleware puts in the
// request (chi does when it finds one; so must middleware in between).
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routing := chi.RouteContext(r.Context())
		if routing == nil {
			routing = chi.NewRouteContext()
			r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, routing))
		}
		next.ServeHTTP(w, r)
		if route := routing.RoutePattern(); route != "" {
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + route) // chi routes standard methods only
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	})
	return otelhttp.NewHandler(named, "http.server",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics are Prometheus's
		otelhttp.WithFilter(func(r *http.Request) bool { return !t.untraced[r.URL.Path] }),
	)
}

// RiverMiddleware traces River jobs: a span per insert and per attempt,
// with the job's kind, id, queue and attempt. The trace context of the
// code that enqueued a job travels in the job's metadata, and its work
// span links back to it. Off, it returns nil. Give it to every client
// that inserts or works jobs (jobs.Options.Middleware).
func (t *Tracing) RiverMiddleware() []rivertype.Middleware {
	if !t.Enabled() {
		return nil
	}
	return []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
		TracerProvider:              t.provider,
		MeterProvider:               metricnoop.NewMeterProvider(),
		EnableTracePropagation:      true,
		EnableWorkSpanJobKindSuffix: true,
	})}
}

// ForceFlush exports the spans that have ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.provider.ForceFlush(ctx); err != nil {
		return fmt.Errorf("tracing: flush: %w", err)
	}
	return nil
}

// Shutdown exports the spans that have ended and stops exporting, until
// ctx ends. Spans started after it are dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shut down: %w", err)
	}
	return nil
}

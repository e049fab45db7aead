package tracing_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/httpapi"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/storetest"
	"github.com/echogen/server/internal/tracing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql and pgx keep connection openers alive until Close,
		// which the River test's cleanups do after goleak's check of each test.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
	)
}

var quiet = slog.New(slog.DiscardHandler)

// receiver is an OTLP/HTTP trace collector on loopback: it decodes the
// exporter's protobuf requests and keeps their spans.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string // the URL path of each export
	got   []received
}

type received struct {
	resource map[string]any
	span     *tracepb.Span
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST", http.StatusUnsupportedMediaType)
		return
	}
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.paths = append(rc.paths, r.URL.Path)
	for _, rs := range req.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				rc.got = append(rc.got, received{resource: res, span: sp})
			}
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// take returns the spans received so far and forgets them.
func (rc *receiver) take() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := rc.got
	rc.got = nil
	return got
}

func (rc *receiver) exportPaths() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.paths...)
}

// only returns the one span named name.
func only(t *testing.T, got []received, name string) received {
	t.Helper()
	var match []received
	var names []string
	for _, g := range got {
		names = append(names, g.span.GetName())
		if g.span.GetName() == name {
			match = append(match, g)
		}
	}
	if len(match) != 1 {
		t.Fatalf("want one span named %q, got spans %q", name, names)
	}
	return match[0]
}

func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = v.BoolValue
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = v.DoubleValue
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

func setup(t *testing.T, opts tracing.Options) *tracing.Tracing {
	t.Helper()
	tr, err := tracing.Setup(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return tr
}

func flush(t *testing.T, tr *tracing.Tracing) {
	t.Helper()
	if err := tr.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type okHandler struct{}

func (okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func TestOffWithoutEndpoint(t *testing.T) {
	tr, err := tracing.Setup(t.Context(), tracing.Options{ServiceName: "echogen"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Error("enabled without an endpoint")
	}
	var h http.Handler = okHandler{}
	if got := tr.Middleware(h); got != h {
		t.Errorf("Middleware wrapped the handler: %T", got)
	}
	if mw := tr.RiverMiddleware(); mw != nil {
		t.Errorf("RiverMiddleware = %v, want none", mw)
	}
	_, span := tr.TracerProvider().Tracer("test").Start(t.Context(), "nothing")
	if span.SpanContext().IsValid() {
		t.Error("a span was recorded")
	}
	span.End()
	if err := tr.ForceFlush(t.Context()); err != nil {
		t.Error(err)
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
	var none *tracing.Tracing // nil is off too
	if none.Enabled() || none.Middleware(h) != h || none.Shutdown(t.Context()) != nil {
		t.Error("a nil *Tracing is not off")
	}
}

func TestSetupRefusesBadEndpoints(t *testing.T) {
	for _, opts := range []tracing.Options{
		{Endpoint: "collector:4318"},
		{Endpoint: "ftp://collector/v1/traces"},
		{Endpoint: "http://"},
		{BaseEndpoint: "grpc://collector:4317"},
		{Endpoint: "http://%zz"},
	} {
		if tr, err := tracing.Setup(t.Context(), opts); err == nil {
			tr.Shutdown(t.Context())
			t.Errorf("Setup(%+v) succeeded", opts)
		}
	}
}

// TestEndpoints checks where spans go: a traces endpoint as it is, a base
// endpoint plus /v1/traces.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(base string) tracing.Options
		wantPath string
	}{
		{"traces endpoint as is", func(u string) tracing.Options { return tracing.Options{Endpoint: u + "/custom/traces"} }, "/custom/traces"},
		{"base endpoint", func(u string) tracing.Options { return tracing.Options{BaseEndpoint: u} }, "/v1/traces"},
		{"base endpoint with a path", func(u string) tracing.Options { return tracing.Options{BaseEndpoint: u + "/otlp/"} }, "/otlp/v1/traces"},
		{"traces endpoint wins", func(u string) tracing.Options {
			return tracing.Options{Endpoint: u + "/signal", BaseEndpoint: u + "/base"}
		}, "/signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t)
			tr := setup(t, tt.opts(rc.srv.URL))
			_, span := tr.TracerProvider().Tracer("test").Start(t.Context(), "one")
			span.End()
			flush(t, tr)
			if diff := cmp.Diff([]string{tt.wantPath}, rc.exportPaths()); diff != "" {
				t.Errorf("export paths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMiddleware serves the real API behind the middleware: each request
// is a span named after its route pattern, with its status, in the trace
// the caller passed.
func TestMiddleware(t *testing.T) {
	rc := newReceiver(t)
	tr := setup(t, tracing.Options{BaseEndpoint: rc.srv.URL, ServiceName: "echogen-test", ServiceVersion: "1.2.3", Role: "api",
		Untraced: []string{"/ready", "/metrics"}})
	api := httpapi.NewServer(httpapi.Deps{Clock: echogen.SystemClock{}, Log: quiet}, httpapi.Options{ProjectName: "EchoGen.ai API"})
	srv := httptest.NewServer(tr.Middleware(api))
	t.Cleanup(srv.Close)

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name        string
		method      string
		path        string
		traceparent string
		wantName    string
		wantStatus  int64
		wantRoute   string // "" for none
	}{
		{name: "route pattern", method: "GET", path: "/api/v1/content/" + echogen.NewID(),
			wantName: "GET /api/v1/content/{content_id}", wantStatus: 401, wantRoute: "/api/v1/content/{content_id}"},
		{name: "caller's trace", method: "GET", path: "/health", traceparent: "00-" + callerTrace + "-" + callerSpan + "-01",
			wantName: "GET /health", wantStatus: 200, wantRoute: "/health"},
		{name: "post", method: "POST", path: "/api/v1/content",
			wantName: "POST /api/v1/content", wantStatus: 401, wantRoute: "/api/v1/content"},
		{name: "no route", method: "GET", path: "/no/such/thing", wantName: "GET", wantStatus: 404},
		{name: "made-up method", method: "BREW", path: "/docs", wantName: "HTTP", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.traceparent != "" {
				req.Header.Set("traceparent", tt.traceparent)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if int64(res.StatusCode) != tt.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			flush(t, tr)
			got := only(t, rc.take(), tt.wantName)
			if got.span.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("kind %v, want server", got.span.GetKind())
			}
			attrs := attrMap(got.span.GetAttributes())
			if attrs["http.response.status_code"] != tt.wantStatus {
				t.Errorf("http.response.status_code = %v, want %d (attributes %v)", attrs["http.response.status_code"], tt.wantStatus, attrs)
			}
			if route, _ := attrs["http.route"].(string); route != tt.wantRoute {
				t.Errorf("http.route = %q, want %q", route, tt.wantRoute)
			}
			traceID, parent := hex.EncodeToString(got.span.GetTraceId()), hex.EncodeToString(got.span.GetParentSpanId())
			if tt.traceparent != "" {
				if traceID != callerTrace || parent != callerSpan {
					t.Errorf("trace %s parent %s, want the caller's %s %s", traceID, parent, callerTrace, callerSpan)
				}
			} else if traceID == callerTrace || parent != "" {
				t.Errorf("trace %s parent %q: want a new root", traceID, parent)
			}
			wantResource := map[string]any{"service.name": "echogen-test", "service.version": "1.2.3", "echogen.role": "api"}
			for k, v := range wantResource {
				if got.resource[k] != v {
					t.Errorf("resource %s = %v, want %v", k, got.resource[k], v)
				}
			}
		})
	}

	t.Run("untraced paths", func(t *testing.T) {
		res, err := srv.Client().Get(srv.URL + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /ready: %d", res.StatusCode)
		}
		flush(t, tr)
		if got := rc.take(); len(got) != 0 {
			t.Errorf("GET /ready was traced: %d spans, first %q", len(got), got[0].span.GetName())
		}
	})
}

// TestRiverMiddleware runs a real queue with the River middleware: the
// insert is a span in the enqueuing trace, and the attempt's span links
// back to it.
func TestRiverMiddleware(t *testing.T) {
	backends := []struct {
		name     string
		newQueue func(t *testing.T, m echogen.Mailer, opts jobs.Options) (*jobs.Queue, error)
	}{
		{"sqlite", func(t *testing.T, m echogen.Mailer, opts jobs.Options) (*jobs.Queue, error) {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "echogen.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return jobs.NewSQLite(db.Write, nil, m, plainSealer{}, quiet, opts)
		}},
		{"postgres", func(t *testing.T, m echogen.Mailer, opts jobs.Options) (*jobs.Queue, error) {
			db := storetest.OpenPostgres(t)
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return jobs.NewPostgres(db.Pool, db.SQL, nil, m, plainSealer{}, quiet, opts)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			rc := newReceiver(t)
			tr := setup(t, tracing.Options{Endpoint: rc.srv.URL + "/v1/traces", Role: "worker"})
			sent := make(chan echogen.Mail, 1)
			mailer := mailerFunc(func(_ context.Context, m echogen.Mail) error { sent <- m; return nil })
			q, err := b.newQueue(t, mailer, jobs.Options{PollInterval: 100 * time.Millisecond, Middleware: tr.RiverMiddleware()})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			var stopOnce sync.Once
			stop := func() {
				stopOnce.Do(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := q.Stop(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			t.Cleanup(stop)

			ctx, parent := tr.TracerProvider().Tracer("test").Start(t.Context(), "sign-up")
			if err := q.EnqueueMail(ctx, echogen.Mail{To: "a@example.com", Subject: "Hello", Text: "Hi"}); err != nil {
				t.Fatal(err)
			}
			parent.End()
			select {
			case <-sent:
			case <-t.Context().Done():
				t.Fatal("the mail was not sent")
			}
			stop() // the attempt's span ends before Stop returns
			flush(t, tr)

			got := rc.take()
			root := only(t, got, "sign-up").span
			insert := only(t, got, "river.insert_many").span
			work := only(t, got, "river.work/send_email").span
			if !bytes.Equal(insert.GetTraceId(), root.GetTraceId()) || !bytes.Equal(insert.GetParentSpanId(), root.GetSpanId()) {
				t.Error("the insert span is not a child of the enqueuing span")
			}
			if len(work.GetLinks()) != 1 {
				t.Fatalf("work span has %d links, want 1 back to the enqueuing trace", len(work.GetLinks()))
			}
			if link := work.GetLinks()[0]; !bytes.Equal(link.GetTraceId(), root.GetTraceId()) {
				t.Errorf("work span links to trace %x, want %x", link.GetTraceId(), root.GetTraceId())
			}
			attrs := attrMap(work.GetAttributes())
			if diff := cmp.Diff(map[string]any{"kind": "send_email", "status": "ok", "attempt": int64(1)},
				map[string]any{"kind": attrs["kind"], "status": attrs["status"], "attempt": attrs["attempt"]}); diff != "" {
				t.Errorf("work span attributes (-want +got):\n%s", diff)
			}
		})
	}
}

type mailerFunc func(context.Context, echogen.Mail) error

func (f mailerFunc) Send(ctx context.Context, m echogen.Mail) error { return f(ctx, m) }

// plainSealer leaves mail readable: this test is not about sealing.
type plainSealer struct{}

func (plainSealer) Seal(p, _ []byte) ([]byte, error) { return p, nil }
func (plainSealer) Open(s, _ []byte) ([]byte, error) { return s, nil }

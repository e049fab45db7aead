// Package httpapi serves the EchoGen.ai v1 API over HTTP: routes, request
// and response shapes, authentication, rate limits and the mapping of
// domain errors to statuses. Handlers call domain services only.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"
	"github.com/rs/cors"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/ratelimit"
	"github.com/echogen/server/internal/swaggerui"
)

// Version is the API version reported by /health and the OpenAPI document.
// It stays at the original server's value: clients and health checks
// compare against it.
const Version = "0.1.0"

// maxRateLimitKeys bounds the memory of each rate limiter.
const maxRateLimitKeys = 100_000

// Options are the HTTP layer's settings.
type Options struct {
	ProjectName                   string
	Environment                   string
	APIPrefix                     string
	CORSOrigins                   []string
	TrustProxyHeaders             bool
	APIRateLimitPerMinute         int
	AuthRateLimitPerMinute        int // per client IP and auth endpoint
	AuthAccountRateLimitPerMinute int // per account and auth endpoint
	// PublicURL is the server's public base URL for signed media links;
	// empty means the URL each request came in on.
	PublicURL string
}

// Deps are the services and handlers the API is built on.
type Deps struct {
	Accounts  *echogen.AccountService
	Library   *echogen.LibraryService
	Jobs      *echogen.JobService
	Catalogue *echogen.Catalogue
	// Media serves signed local media URLs under /media/; nil when media
	// lives in S3 and signed URLs point there.
	Media http.Handler
	// Observer counts requests and event streams; nil counts nothing.
	Observer echogen.Observer
	// Metrics, when set, is served at /metrics (Prometheus).
	Metrics http.Handler
	Ready   []ReadinessCheck
	Clock   echogen.Clock
	Log     *slog.Logger
	// Admin, when set, is the job dashboard (River UI) built for
	// AdminJobsPath. It is served there to AdminEmails only, with a login
	// page at /admin/login.
	Admin http.Handler
	// AdminEmails are the administrators' email addresses.
	AdminEmails []string
}

// ReadinessCheck is one dependency /ready checks.
type ReadinessCheck struct {
	Name  string
	Check func(context.Context) error
}

// Server is the HTTP API.
type Server struct {
	accounts  *echogen.AccountService
	library   *echogen.LibraryService
	jobs      *echogen.JobService
	catalogue *echogen.Catalogue
	ready     []ReadinessCheck
	clock     echogen.Clock
	log       *slog.Logger
	observer  echogen.Observer
	opts      Options

	apiLimit      *ratelimit.Limiter
	authIPLimit   *ratelimit.Limiter
	authAcctLimit *ratelimit.Limiter

	handler http.Handler

	draining  chan struct{} // closed by Drain
	drainOnce sync.Once
}

// NewServer returns the API as an http.Handler.
func NewServer(d Deps, opts Options) *Server {
	if opts.APIPrefix == "" {
		opts.APIPrefix = "/api/v1"
	}
	clock := d.Clock
	if d.Observer == nil {
		d.Observer = echogen.NopObserver{}
	}
	s := &Server{
		draining:      make(chan struct{}),
		accounts:      d.Accounts,
		library:       d.Library,
		jobs:          d.Jobs,
		catalogue:     d.Catalogue,
		ready:         d.Ready,
		observer:      d.Observer,
		clock:         clock,
		log:           d.Log,
		opts:          opts,
		apiLimit:      ratelimit.New(clock, opts.APIRateLimitPerMinute, opts.APIRateLimitPerMinute, maxRateLimitKeys),
		authIPLimit:   ratelimit.New(clock, opts.AuthRateLimitPerMinute, opts.AuthRateLimitPerMinute, maxRateLimitKeys),
		authAcctLimit: ratelimit.New(clock, opts.AuthAccountRateLimitPerMinute, opts.AuthAccountRateLimitPerMinute, maxRateLimitKeys),
	}

	router := chi.NewRouter()
	router.NotFound(notFound)
	router.MethodNotAllowed(methodNotAllowed)

	config := huma.DefaultConfig(opts.ProjectName, Version)
	config.OpenAPIPath = "/openapi"
	config.DocsPath = "" // served below from embedded assets, not a CDN
	config.SchemasPath = ""
	config.CreateHooks = nil // no "$schema" keys in bodies: the client's shapes are exact
	config.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	config.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT"},
	}
	api := humachi.New(router, config)
	api.UseMiddleware(s.authenticate)

	s.registerHealth(api)
	s.registerAuth(api)
	s.registerProfile(api)
	s.registerAccount(api)
	s.registerAPIKeys(api)
	s.registerContent(api)
	s.registerScripts(api)
	s.registerPodcasts(api)
	s.registerEstimates(api)
	s.registerUploads(api)
	s.registerJobs(api)
	s.registerUsage(api)
	s.registerProviders(api)
	if d.Media != nil {
		router.Handle("/media/*", d.Media)
	}
	if d.Metrics != nil {
		router.Handle("/metrics", d.Metrics)
	}
	if d.Admin != nil {
		s.registerAdmin(router, d.Admin, d.AdminEmails)
	}

	docs := swaggerui.Handler("/docs", "/openapi.json")
	router.Handle("/docs", docs)
	router.Handle("/docs/*", docs)

	corsHandler := cors.New(cors.Options{
		AllowedOrigins:   opts.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, http.MethodOptions},
		AllowedHeaders:   []string{"*"},
		ExposedHeaders:   []string{"X-Request-ID", "X-Job-ID", "Retry-After"},
		AllowCredentials: !containsWildcard(opts.CORSOrigins),
		MaxAge:           600,
	})
	s.handler = s.observe(corsHandler.Handler(router))
	return s
}

// maxJSONDepth bounds how deeply a JSON request body may nest arrays and
// objects. No request needs more than a few levels, while free-form fields
// (metadata, preferences, payloads) would otherwise take anything: SQLite's
// json_valid() refuses documents nested past 1000 levels, which made such
// a body a 500, and every recursive walk of a value pays for the depth.
const maxJSONDepth = 64

// jsonFormat is huma's JSON format, refusing before decoding (a 422 on
// "body") what no request needs and the databases cannot store: nesting
// deeper than maxJSONDepth, and NUL characters in strings, which
// PostgreSQL's text and jsonb refuse (they made such a body a 500 there).
var jsonFormat = huma.Format{
	Marshal: huma.DefaultJSONFormat.Marshal,
	Unmarshal: func(data []byte, v any) error {
		if err := checkJSONBody(data, maxJSONDepth); err != nil {
			return err
		}
		return json.Unmarshal(data, v)
	},
}

// checkJSONBody fails when data opens more than maxDepth arrays and objects
// inside one another or holds a \u0000 escape in a string. It reads only
// brackets and strings: whether the rest is valid JSON is the decoder's
// business (a raw NUL byte, for one, is not).
func checkJSONBody(data []byte, maxDepth int) error {
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			if bytes.HasPrefix(data[i+1:], []byte("u0000")) {
				return errors.New("strings must not contain NUL characters (\\u0000)")
			}
			i++ // the escaped character cannot end the string
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

func containsWildcard(origins []string) bool {
	for _, o := range origins {
		if o == "*" {
			return true
		}
	}
	return false
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// path joins the API prefix and a route.
func (s *Server) path(route string) string { return s.opts.APIPrefix + route }

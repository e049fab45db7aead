package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/echogen/server/internal/echogen"
)

// requestInfo travels with each request: its id, the caller once known,
// and a logger that carries both.
type requestInfo struct {
	id      string
	ip      string
	baseURL string // scheme://host the request came in on
	userID  string
	log     *slog.Logger
}

type requestInfoKey struct{}

// requestInfoFrom returns the request's info; outside a request (tests of
// pieces) it returns a usable stand-in.
func requestInfoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{log: slog.New(slog.DiscardHandler)}
}

const maxRequestIDLength = 128

// validRequestID accepts caller-chosen ids that are safe to echo and log.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// observe gives each request an id (X-Request-ID, kept when the caller sent
// a sane one), recovers panics into a JSON 500, and logs one line per
// request with method, route, status, latency and user id.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // latency is measured, not business time: no injected clock
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = echogen.NewID()
		}
		info := &requestInfo{id: id, ip: s.clientIP(r), baseURL: s.baseURL(r)}
		info.log = s.log.With("request_id", id)
		w.Header().Set("X-Request-ID", id)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		// chi fills in the route pattern of a routing context it finds in
		// the request, so make one here where the log line can read it;
		// an unused one from further out (tracing names spans after the
		// route) is shared.
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		routing := chi.RouteContext(ctx)
		if routing == nil || len(routing.RoutePatterns) > 0 {
			routing = chi.NewRouteContext()
			ctx = context.WithValue(ctx, chi.RouteCtxKey, routing)
		}
		r = r.WithContext(ctx)

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				info.log.Error("panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if ww.Status() == 0 {
					writeError(ww, r, errors.New("panic"))
				}
			}
			route := routing.RoutePattern()
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			s.observer.Request(r.Method, route, status, time.Since(start))
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			info.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int("bytes", ww.BytesWritten()),
				slog.String("user_id", info.userID),
				slog.String("ip", info.ip),
			)
		}()
		next.ServeHTTP(ww, r)
	})
}

// clientIP is the peer address or, when the operator says a trusted proxy
// is in front, the address that proxy appended to X-Forwarded-For: the
// last one. The earlier ones are whatever the client sent, so trusting
// them would let a client choose its own rate-limit key.
func (s *Server) clientIP(r *http.Request) string {
	if s.opts.TrustProxyHeaders {
		if fwd := strings.Join(r.Header.Values("X-Forwarded-For"), ","); fwd != "" {
			last := fwd[strings.LastIndex(fwd, ",")+1:]
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// baseURL is scheme://host of the request, from the proxy's
// X-Forwarded-Proto and X-Forwarded-Host when they are trusted.
func (s *Server) baseURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.opts.TrustProxyHeaders {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/\\ @") {
			host = h
		}
	}
	return scheme + "://" + host
}

// notFound and methodNotAllowed answer unknown routes in the API's shape.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeErrorResponse(w, &errorResponse{status: http.StatusNotFound, Detail: "Not Found", Code: "not_found", RequestID: requestInfoFrom(r.Context()).id})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeErrorResponse(w, &errorResponse{status: http.StatusMethodNotAllowed, Detail: "Method Not Allowed", Code: "method_not_allowed", RequestID: requestInfoFrom(r.Context()).id})
}

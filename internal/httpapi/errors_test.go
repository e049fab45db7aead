package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

func TestErrorResponseStatusesAndLogs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantLevel  string // of the log line; "" for none
		wantRetry  string // the Retry-After header
	}{
		{"domain error", echogen.Errorf(echogen.KindNotFound, "not_found", "Content not found"), 404, "not_found", "", ""},
		{"unexpected error", errors.New("disk on fire"), 500, "internal_error", "ERROR", ""},
		{"domain internal error", echogen.Errorf(echogen.KindInternal, "boom", "boom"), 500, "boom", "ERROR", ""},
		{"client went away", fmt.Errorf("list content: %w", context.Canceled), 499, "client_closed_request", "INFO", ""},
		{"rate limited", &echogen.Error{Kind: echogen.KindRateLimited, Code: "rate_limited", Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited", "", "2"},
		{"busy, come back", fmt.Errorf("sign in: %w", &echogen.Error{Kind: echogen.KindUnavailable, Code: "server_busy", Message: "busy", RetryAfter: 5 * time.Second}), 503, "server_busy", "", "5"},
		{"unavailable, no hint", echogen.Errorf(echogen.KindUnavailable, "storage_unavailable", "down"), 503, "storage_unavailable", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			info := &requestInfo{id: "req-1", log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			resp := toErrorResponse(info, tc.err)
			if resp.status != tc.wantStatus || resp.Code != tc.wantCode || resp.RequestID != "req-1" {
				t.Errorf("got %d %s (request %q), want %d %s", resp.status, resp.Code, resp.RequestID, tc.wantStatus, tc.wantCode)
			}
			if got := resp.headers.Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			switch line := logs.String(); {
			case tc.wantLevel == "" && line != "":
				t.Errorf("logged %q", line)
			case tc.wantLevel != "" && !strings.Contains(line, "level="+tc.wantLevel):
				t.Errorf("log %q, want level %s", line, tc.wantLevel)
			}
		})
	}
}

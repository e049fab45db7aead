package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/apptest"
	"github.com/echogen/server/internal/testenv"
)

// mixRoutes are the routes a run must exercise: setup's and the load mix's.
var mixRoutes = []string{
	routeSignUp, routeUpload, routeCreateScript, routeCreatePodcast,
	routeSignIn, routeMe, routeListContent, routeCreateContent, routeGetContent, routeListScripts,
	routeListPodcasts, routeGetPodcast, routeEnqueueJob, routeGetJob, routeMediaRange,
}

func TestLoadSQLite(t *testing.T) { testLoad(t, "") }

func TestLoadPostgres(t *testing.T) { testLoad(t, testenv.PostgresURL(t)) }

// testLoad runs the tool against the in-process server: 16 clients for
// 2 s, and again bounded by a request count only.
func testLoad(t *testing.T, databaseURL string) {
	const clients = 16
	tests := []struct {
		name        string
		duration    string
		maxRequests int
		allRoutes   bool // the run is long enough to exercise every route
	}{
		// Bounded in time (a 2 s run sends well under the limit).
		{name: "time", duration: "2s", maxRequests: 100_000, allRoutes: true},
		// Bounded in count: without the limit the test would time out.
		{name: "count", duration: "1h", maxRequests: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--clients", "16", "--duration", tt.duration, "--max-requests", strconv.Itoa(tt.maxRequests)}
			if databaseURL != "" {
				args = append(args, "--database-url", databaseURL)
			}
			rep := runTool(t, args)
			if !rep.Passed || rep.Interrupted {
				t.Errorf("passed %v, interrupted %v; want a passing run", rep.Passed, rep.Interrupted)
			}
			phases := map[string]phaseReport{}
			for _, p := range rep.Phases {
				phases[p.Name] = p
				if p.ServerErrors != 0 || p.TransportErrors != 0 || p.Failures != 0 || p.RateLimited != 0 {
					t.Errorf("%s: %d 5xx, %d transport errors, %d failures, %d rate limited; want none: %q",
						p.Name, p.ServerErrors, p.TransportErrors, p.Failures, p.RateLimited, p.FailureSamples)
				}
			}
			if got := slices.Sorted(maps.Keys(phases)); !slices.Equal(got, []string{"load", "setup", "verify"}) {
				t.Fatalf("phases %q, want setup, load and verify", got)
			}
			load := phases["load"]
			if load.Requests == 0 || load.Requests > tt.maxRequests {
				t.Errorf("load phase sent %d requests, want 1 to %d", load.Requests, tt.maxRequests)
			}
			if tt.name == "count" && load.Requests != tt.maxRequests {
				t.Errorf("load phase sent %d requests, want exactly --max-requests %d", load.Requests, tt.maxRequests)
			}
			if setup := phases["setup"]; setup.Requests != 4*clients {
				t.Errorf("setup sent %d requests, want 4 for each of %d clients", setup.Requests, clients)
			}
			checked := phases["verify"].Checked
			for _, kind := range []string{"scripts", "podcasts", "audio files"} {
				if checked[kind] != clients {
					t.Errorf("verified %d %s, want %d", checked[kind], kind, clients)
				}
			}
			if rep.JobTurnaround.Jobs != checked["jobs"] {
				t.Errorf("turnaround of %d jobs, want one for each of the %d verified", rep.JobTurnaround.Jobs, checked["jobs"])
			}
			if tt.allRoutes {
				exercised := map[string]bool{}
				for _, name := range []string{"setup", "load"} {
					for _, r := range phases[name].Routes {
						exercised[r.Route] = r.Count > 0
					}
				}
				if diff := cmp.Diff(slices.Sorted(slices.Values(mixRoutes)), slices.Sorted(maps.Keys(exercised))); diff != "" {
					t.Errorf("routes exercised (-want +got):\n%s", diff)
				}
				if checked["content"] == 0 || checked["jobs"] == 0 {
					t.Errorf("verified %d content and %d jobs; want some of each", checked["content"], checked["jobs"])
				}
			}
		})
	}
}

// TestInterrupt cancels the run in the middle of its load phase, as Ctrl-C
// does: it stops at once, counts no aborted request as a failure, and
// still prints and writes what it measured.
func TestInterrupt(t *testing.T) {
	// The server logs the requests the interrupt aborts as errors.
	srv, err := apptest.Start(t.Context(), apptest.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Setup sends 4 requests per client; the 200th request is well into
	// the load phase.
	var seen atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // the requests the interrupt aborts
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 200 {
			cancel()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	out := filepath.Join(t.TempDir(), "load.json")
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"--targets", front.URL, "--clients", "8", "--duration", "1h", "--json", out}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "INTERRUPTED") {
		t.Errorf("run = %v, want the interrupted error\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	for _, want := range []string{"setup: ", "load: ", "GET /api/v1/auth/me", "INTERRUPTED"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, &stdout)
		}
	}
	rep := readReport(t, out)
	if !rep.Interrupted || rep.Passed {
		t.Errorf("interrupted %v, passed %v; want an interrupted run that did not pass", rep.Interrupted, rep.Passed)
	}
	for _, p := range rep.Phases {
		if p.Failures != 0 {
			t.Errorf("%s: %d failures, want none: %q", p.Name, p.Failures, p.FailureSamples)
		}
		if p.Name == "verify" {
			t.Errorf("verification ran after the interrupt")
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample, p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample, p99", ms(7), 99, 7 * time.Millisecond},
		{"two samples, p50 is the lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two samples, p51 is the upper", ms(1, 2), 51, 2 * time.Millisecond},
		{"ten, p50", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond},
		{"ten, p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"ten, p99 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten, p1 is the min", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1, 1 * time.Millisecond},
		{"hundred, p99", ms(oneToHundred...), 99, 99 * time.Millisecond},
		{"hundred, p100 is the max", ms(oneToHundred...), 100, 100 * time.Millisecond},
		{"ties", ms(1, 1, 1, 5, 5), 60, 1 * time.Millisecond},
		{"ties, above them", ms(1, 1, 1, 5, 5), 61, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

// runTool runs the tool with args, writing JSON, and returns its report.
func runTool(t *testing.T, args []string) report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "load.json")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append(args, "--json", out), &stdout, &stderr)
	if err != nil || t.Failed() {
		t.Errorf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	} else if testing.Verbose() {
		t.Logf("stdout:\n%s", &stdout)
	}
	return readReport(t, out)
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// Command echogen-load puts many simulated users on the API at once, for
// a time, and then checks that nothing they wrote was lost.
//
//	go run ./cmd/echogen-load                                  # in-process server, SQLite, 200 clients, 60 s
//	go run ./cmd/echogen-load --database-url postgres://…      # the same on PostgreSQL, in a schema of its own
//	go run ./cmd/echogen-load --targets http://a:8000,http://b:8000 --clients 500 --duration 1h
//
// A run has three phases. Setup: every client signs up an account of its
// own (load-<run>-<n>@example.com; --signup-concurrency at a time), uploads
// a small audio file and records a script and a podcast for it. Load: for --duration (and at most
// --max-requests requests) each client loops over a weighted mix of real
// API calls: reading its profile, listing and creating content and reading
// it back, enqueueing content_ingest jobs and polling them, reading its
// podcast and random byte ranges of its audio (checked against the upload),
// and now and then signing in again. Verify: every client reads back,
// through another target when there are several, every row it made: each
// job must finish (within --verify-timeout) and succeed, each content item
// read back as written and be listed, the script, podcast and audio file
// be intact.
//
// Every route's count, statuses and exact p50/p90/p99/max latency are
// printed per phase, with the load phase's throughput. Any 5xx, transport
// error, unexpected answer or verification failure makes the run fail
// (exit status 1). A 429 means the server's rate limits are on; such runs
// measure the limiter, and say so loudly. Ctrl-C stops the run at once and
// still prints what was measured.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/echogen/server/internal/apptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "echogen-load:", err)
		os.Exit(1)
	}
}

// report is a run's results, as written to --json.
type report struct {
	Run         string        `json:"run"`
	Seed        uint64        `json:"seed"`
	Server      string        `json:"server"`
	Targets     []string      `json:"targets"`
	Clients     int           `json:"clients"`
	Duration    string        `json:"duration"`
	MaxRequests int64         `json:"max_requests"`
	GoVersion   string        `json:"go_version"`
	GOMAXPROCS  int           `json:"gomaxprocs"`
	StartedAt   time.Time     `json:"started_at"`
	Interrupted bool          `json:"interrupted"`
	Passed      bool          `json:"passed"`
	Phases      []phaseReport `json:"phases"`
	// JobTurnaround is, over the jobs seen succeeded, the time from the
	// enqueue's answer to the poll that saw the job succeeded. Polls back
	// off to one a second, so each is up to that much late.
	JobTurnaround turnaround `json:"job_turnaround"`
}

type turnaround struct {
	Jobs int `json:"jobs"`
	latencies
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("echogen-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetList := fs.String("targets", "", "comma-separated base URLs of running API processes (http://host:port); clients are spread over them round-robin. Empty: start the server in-process, rate limits off")
	databaseURL := fs.String("database-url", "", "in-process server only: run it on this PostgreSQL database, in a new schema dropped afterwards; empty: SQLite in a temporary folder")
	clients := fs.Int("clients", 200, "simulated users, each with an account of its own")
	duration := fs.Duration("duration", 60*time.Second, "how long the load phase runs")
	maxRequests := fs.Int64("max-requests", 0, "end the load phase after this many requests even before --duration (0: no limit)")
	verifyTimeout := fs.Duration("verify-timeout", 60*time.Second, "how long verification waits for the jobs to finish")
	requestTimeout := fs.Duration("request-timeout", 30*time.Second, "how long one request may take before it counts as a transport error")
	signups := fs.Int("signup-concurrency", 8, "sign-ups in flight at once during setup (0: all at once). Each hashes a password, which the server does a few at a time: "+
		"all at once, the later ones wait behind the others and can time out on a busy machine")
	password := fs.String("password", "load-test-password", "the password of every account the run signs up")
	jsonPath := fs.String("json", "", "also write the results as JSON to this file")
	seed := fs.Uint64("seed", 0, "seed of the clients' random choices (0: from the clock)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load phase to this file (with the in-process server, it is mostly the server's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case *clients < 1:
		return errors.New("--clients must be at least 1")
	case *duration <= 0 || *verifyTimeout <= 0 || *requestTimeout <= 0:
		return errors.New("--duration, --verify-timeout and --request-timeout must be positive")
	case *maxRequests < 0 || *signups < 0:
		return errors.New("--max-requests and --signup-concurrency must not be negative")
	case len(*password) < 8:
		return errors.New("--password must have at least 8 characters")
	case *targetList != "" && *databaseURL != "":
		return errors.New("--database-url is for the in-process server: leave it out with --targets")
	}
	targets, err := parseTargets(*targetList)
	if err != nil {
		return err
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	rep := report{
		Run: strconv.FormatInt(time.Now().UnixNano(), 36), Seed: *seed, Clients: *clients, Duration: duration.String(),
		MaxRequests: *maxRequests, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), StartedAt: time.Now().UTC(),
	}
	if len(targets) == 0 {
		srv, err := apptest.Start(ctx, apptest.Options{
			DatabaseURL: *databaseURL,
			Log:         slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		})
		if err != nil {
			return fmt.Errorf("start the server: %w", err)
		}
		defer srv.Close()
		targets = []string{srv.URL}
		rep.Server = "in-process, " + srv.Database
	} else {
		rep.Server = "targets"
	}
	rep.Targets = targets

	transport := http.DefaultTransport.(*http.Transport).Clone()
	// A client has one request in flight at a time: one connection each
	// is kept, so the run measures requests, not TCP handshakes.
	transport.MaxIdleConns = *clients + len(targets)
	transport.MaxIdleConnsPerHost = *clients
	defer transport.CloseIdleConnections()
	hc := &http.Client{
		Transport:     transport,
		Timeout:       *requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var signupSlots chan struct{}
	if *signups > 0 {
		signupSlots = make(chan struct{}, *signups)
	}
	cs := make([]*client, *clients)
	for n := range cs {
		// Rows are verified through the next target: with several, each is
		// read from a process other than the one that wrote it.
		cs[n] = newClient(n, rep.Run, *password, *seed, hc, targets[n%len(targets)], targets[(n+1)%len(targets)])
		cs[n].signups = signupSlots
	}
	limit := "no request limit"
	if *maxRequests > 0 {
		limit = fmt.Sprintf("at most %d requests", *maxRequests)
	}
	fmt.Fprintf(stdout, "# echogen-load: %d clients for %s (%s) on %s %s; %s, GOMAXPROCS=%d, %s; run %s, seed %d\n",
		*clients, duration, limit, rep.Server, strings.Join(targets, ","), rep.GoVersion, rep.GOMAXPROCS,
		rep.StartedAt.Format(time.RFC3339), rep.Run, rep.Seed)
	var mix []string
	for _, a := range loadMix() {
		mix = append(mix, fmt.Sprintf("%s %d", a.name, a.weight))
	}
	fmt.Fprintf(stdout, "# load mix (relative weights): %s\n", strings.Join(mix, ", "))

	rec, elapsed := runPhase(ctx, ctx, nil, cs, (*client).setup)
	rep.Phases = append(rep.Phases, rec.report("setup", elapsed))
	if ctx.Err() == nil {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		loadCtx, cancel := context.WithTimeout(ctx, *duration)
		rec, elapsed := runPhase(ctx, loadCtx, &budget{max: *maxRequests, stop: cancel}, cs, (*client).load)
		cancel()
		stopProfile()
		rep.Phases = append(rep.Phases, rec.report("load", elapsed))
	}
	if ctx.Err() == nil {
		jobsBy, cancel := context.WithTimeout(ctx, *verifyTimeout)
		rec, elapsed := runPhase(ctx, ctx, nil, cs, func(c *client, p *phase) { c.verifyRows(p, jobsBy) })
		cancel()
		rep.Phases = append(rep.Phases, rec.report("verify", elapsed))
	}
	rep.Interrupted = ctx.Err() != nil
	var took []time.Duration
	for _, c := range cs {
		for _, j := range c.jobs {
			if j.took > 0 {
				took = append(took, j.took)
			}
		}
	}
	slices.Sort(took)
	rep.JobTurnaround = turnaround{Jobs: len(took), latencies: latenciesOf(took)}
	verdict := summarize(stdout, &rep)
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return verdict
}

// startCPUProfile starts writing a CPU profile to path, if path is set, and
// returns the function that ends it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// parseTargets splits --targets into base URLs without a trailing slash.
func parseTargets(list string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimRight(strings.TrimSpace(t), "/"); t == "" {
			continue
		}
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--targets: %q is not an http(s) base URL such as http://127.0.0.1:8000", t)
		}
		out = append(out, t)
	}
	return out, nil
}

// runPhase runs fn for every client at once, each with a recorder of its
// own, and merges them when all are done. Requests run in ctx; once stop
// is done no request starts; b bounds the requests (nil: unbounded).
func runPhase(ctx, stop context.Context, b *budget, cs []*client, fn func(*client, *phase)) (*recorder, time.Duration) {
	recs := make([]*recorder, len(cs))
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range cs {
		recs[i] = newRecorder()
		p := &phase{ctx: ctx, stop: stop, budget: b, rec: recs[i]}
		wg.Go(func() { fn(c, p) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := newRecorder()
	for _, r := range recs {
		all.merge(r)
	}
	return all, elapsed
}

// summarize prints the phases' tables and the verdict, sets rep.Passed,
// and returns the run's error: nil when it passed.
func summarize(w io.Writer, rep *report) error {
	var serverErrors, transportErrors, failures, rateLimited int
	var samples []string
	checked := map[string]int{}
	verified := false
	for _, p := range rep.Phases {
		p.print(w)
		serverErrors += p.ServerErrors
		transportErrors += p.TransportErrors
		failures += p.Failures
		rateLimited += p.RateLimited
		samples = append(samples, p.FailureSamples...)
		for k, n := range p.Checked {
			checked[k] += n
		}
		if p.Name == "verify" {
			// A refused read is a row not verified.
			verified = p.Failures == 0 && p.RateLimited == 0
		}
	}
	fmt.Fprintln(w)
	if len(checked) > 0 {
		var parts []string
		for _, k := range []string{"content", "jobs", "scripts", "podcasts", "audio files"} {
			parts = append(parts, fmt.Sprintf("%d %s", checked[k], k))
		}
		fmt.Fprintf(w, "verified, as their owners see them: %s\n", strings.Join(parts, ", "))
	}
	if t := rep.JobTurnaround; t.Jobs > 0 {
		fmt.Fprintf(w, "jobs, enqueued to seen succeeded (polled, so up to 1 s late): %d jobs, p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
			t.Jobs, t.P50, t.P90, t.P99, t.Max)
	}
	if rateLimited > 0 {
		fmt.Fprintf(w, "\n!!! WARNING: %d requests were refused with 429 Too Many Requests: the server's rate limits are on,\n"+
			"!!! so this run measured the limiter, not the server. Set API_RATE_LIMIT_PER_MINUTE=0,\n"+
			"!!! AUTH_RATE_LIMIT_PER_MINUTE=0 and AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE=0 on the targets.\n\n", rateLimited)
	}
	if len(samples) > 0 {
		fmt.Fprintf(w, "first failures:\n")
		for _, s := range samples[:min(len(samples), maxFailureSamples)] {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	switch {
	case failures > 0:
		err := fmt.Errorf("FAIL: %d failures: %d 5xx answers, %d transport errors, %d unexpected answers or verification failures",
			failures, serverErrors, transportErrors, failures-serverErrors-transportErrors)
		fmt.Fprintln(w, err)
		return err
	case rep.Interrupted:
		err := errors.New("INTERRUPTED: no failures so far, but the run did not finish its verification")
		fmt.Fprintln(w, err)
		return err
	case !verified:
		err := errors.New("FAIL: verification was refused (429) and is incomplete")
		fmt.Fprintln(w, err)
		return err
	}
	rep.Passed = true
	fmt.Fprintln(w, "PASS: no 5xx, no transport errors, every row verified")
	return nil
}

package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxFailureSamples bounds the failure messages kept for the summary.
const maxFailureSamples = 20

// recorder is one client's record of one phase; a phase's recorders are
// merged when it ends, so recording takes no lock.
type recorder struct {
	routes   map[string]*routeStats
	failures int      // everything that makes the run fail
	samples  []string // the first failure messages
	checked  map[string]int
}

// routeStats is what happened to the requests of one route.
type routeStats struct {
	statuses        map[int]int
	transportErrors int
	latencies       []time.Duration // answered requests only
}

func newRecorder() *recorder {
	return &recorder{routes: map[string]*routeStats{}, checked: map[string]int{}}
}

func (r *recorder) route(name string) *routeStats {
	s := r.routes[name]
	if s == nil {
		s = &routeStats{statuses: map[int]int{}}
		r.routes[name] = s
	}
	return s
}

// answered records a response.
func (r *recorder) answered(route string, status int, d time.Duration) {
	s := r.route(route)
	s.statuses[status]++
	s.latencies = append(s.latencies, d)
}

// transportError records a request that got no response, and fails the run.
func (r *recorder) transportError(route string, err error) {
	r.route(route).transportErrors++
	r.fail("%s: %v", route, err)
}

// fail records something that makes the run fail.
func (r *recorder) fail(format string, args ...any) {
	r.failures++
	if len(r.samples) < maxFailureSamples {
		r.samples = append(r.samples, fmt.Sprintf(format, args...))
	}
}

// check counts one verified row of a kind.
func (r *recorder) check(kind string) { r.checked[kind]++ }

func (r *recorder) merge(o *recorder) {
	for name, os := range o.routes {
		s := r.route(name)
		for status, n := range os.statuses {
			s.statuses[status] += n
		}
		s.transportErrors += os.transportErrors
		s.latencies = append(s.latencies, os.latencies...)
	}
	r.failures += o.failures
	r.samples = append(r.samples, o.samples[:min(len(o.samples), maxFailureSamples-len(r.samples))]...)
	for k, n := range o.checked {
		r.checked[k] += n
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest sample with at least p % of the samples at or
// below it. It is 0 when there are no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// phaseReport is one phase's results, as printed and as written to --json.
type phaseReport struct {
	Name              string         `json:"name"`
	Requests          int            `json:"requests"`
	ElapsedSeconds    float64        `json:"elapsed_seconds"`
	RequestsPerSecond float64        `json:"requests_per_second"`
	RateLimited       int            `json:"rate_limited"`
	ServerErrors      int            `json:"server_errors"`
	TransportErrors   int            `json:"transport_errors"`
	Failures          int            `json:"failures"`
	FailureSamples    []string       `json:"failure_samples,omitempty"`
	Checked           map[string]int `json:"checked,omitempty"`
	Routes            []routeReport  `json:"routes"`
	All               latencies      `json:"all"`
}

type routeReport struct {
	Route           string         `json:"route"`
	Count           int            `json:"count"`
	Statuses        map[string]int `json:"statuses"`
	TransportErrors int            `json:"transport_errors"`
	latencies
}

// latencies are in milliseconds.
type latencies struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func latenciesOf(sorted []time.Duration) latencies {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latencies{
		P50: ms(percentile(sorted, 50)), P90: ms(percentile(sorted, 90)),
		P99: ms(percentile(sorted, 99)), Max: ms(percentile(sorted, 100)),
	}
}

func (r *recorder) report(name string, elapsed time.Duration) phaseReport {
	p := phaseReport{Name: name, ElapsedSeconds: elapsed.Seconds(), Failures: r.failures, FailureSamples: r.samples, Routes: []routeReport{}}
	if len(r.checked) > 0 {
		p.Checked = r.checked
	}
	var all []time.Duration
	for route, s := range r.routes {
		slices.Sort(s.latencies)
		all = append(all, s.latencies...)
		rr := routeReport{Route: route, Count: s.transportErrors, Statuses: map[string]int{}, TransportErrors: s.transportErrors, latencies: latenciesOf(s.latencies)}
		for status, n := range s.statuses {
			rr.Count += n
			rr.Statuses[strconv.Itoa(status)] = n
			switch {
			case status == 429:
				p.RateLimited += n
			case status >= 500:
				p.ServerErrors += n
			}
		}
		p.Requests += rr.Count
		p.TransportErrors += s.transportErrors
		p.Routes = append(p.Routes, rr)
	}
	slices.Sort(all)
	p.All = latenciesOf(all)
	if elapsed > 0 {
		p.RequestsPerSecond = float64(p.Requests) / elapsed.Seconds()
	}
	// By path, then method: a resource's routes stay together.
	slices.SortFunc(p.Routes, func(a, b routeReport) int {
		am, ap, _ := strings.Cut(a.Route, " ")
		bm, bp, _ := strings.Cut(b.Route, " ")
		return cmp.Or(cmp.Compare(ap, bp), cmp.Compare(am, bm))
	})
	return p
}

// print writes the phase as a table.
func (p phaseReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s: %d requests in %.1f s, %.1f req/s\n", p.Name, p.Requests, p.ElapsedSeconds, p.RequestsPerSecond)
	width := len("route")
	for _, r := range p.Routes {
		width = max(width, len(r.Route))
	}
	fmt.Fprintf(w, "%-*s %8s %9s %9s %9s %9s  %s\n", width, "route", "count", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses")
	row := func(route string, count int, l latencies, statuses string) {
		line := fmt.Sprintf("%-*s %8d %9.2f %9.2f %9.2f %9.2f  %s", width, route, count, l.P50, l.P90, l.P99, l.Max, statuses)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	for _, r := range p.Routes {
		var st []string
		for _, k := range slices.Sorted(maps.Keys(r.Statuses)) {
			st = append(st, fmt.Sprintf("%s:%d", k, r.Statuses[k]))
		}
		if r.TransportErrors > 0 {
			st = append(st, fmt.Sprintf("transport-error:%d", r.TransportErrors))
		}
		row(r.Route, r.Count, r.latencies, strings.Join(st, " "))
	}
	row("all", p.Requests, p.All, "")
}

package ratelimit

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen/echogentest"
)

// call is one Allow call and what it must return, after moving the clock.
type call struct {
	advance time.Duration
	key     string
	ok      bool
	retry   time.Duration
}

func run(t *testing.T, clock *echogentest.Clock, l *Limiter, calls []call) {
	t.Helper()
	for i, c := range calls {
		clock.Advance(c.advance)
		ok, retry := l.Allow(c.key)
		if ok != c.ok || retry != c.retry {
			t.Fatalf("call %d: +%v Allow(%q) = %v, %v; want %v, %v", i, c.advance, c.key, ok, retry, c.ok, c.retry)
		}
	}
}

func TestAllow(t *testing.T) {
	tests := []struct {
		name      string
		perMinute int
		burst     int
		calls     []call
	}{
		{
			name: "burst then limited", perMinute: 60, burst: 3,
			calls: []call{
				{0, "a", true, 0},
				{0, "a", true, 0},
				{0, "a", true, 0},
				{0, "a", false, time.Second},
				{0, "a", false, time.Second},
			},
		},
		{
			name: "refill over time", perMinute: 60, burst: 2,
			calls: []call{
				{0, "a", true, 0},
				{0, "a", true, 0},
				{0, "a", false, time.Second},
				{400 * time.Millisecond, "a", false, 600 * time.Millisecond},
				{600 * time.Millisecond, "a", true, 0},
				{0, "a", false, time.Second},
				{time.Hour, "a", true, 0}, // refills to burst, no more
				{0, "a", true, 0},
				{0, "a", false, time.Second},
			},
		},
		{
			name: "keys are independent", perMinute: 60, burst: 1,
			calls: []call{
				{0, "a", true, 0},
				{0, "a", false, time.Second},
				{0, "b", true, 0},
				{0, "b", false, time.Second},
				{time.Second, "a", true, 0},
				{0, "b", true, 0},
			},
		},
		{
			name: "slow rate", perMinute: 1, burst: 1,
			calls: []call{
				{0, "a", true, 0},
				{0, "a", false, time.Minute},
				{59 * time.Second, "a", false, time.Second},
				{time.Second, "a", true, 0},
			},
		},
		{
			name: "burst below one means one", perMinute: 120, burst: 0,
			calls: []call{
				{0, "a", true, 0},
				{0, "a", false, 500 * time.Millisecond},
			},
		},
		{
			name: "clock going back refills nothing", perMinute: 60, burst: 1,
			calls: []call{
				{0, "a", true, 0},
				{-time.Hour, "a", false, time.Second},
				{time.Hour, "a", false, time.Second},
				{time.Second, "a", true, 0},
			},
		},
		{
			name: "disabled", perMinute: 0, burst: 1,
			calls: []call{{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}},
		},
		{
			name: "negative rate disables", perMinute: -5, burst: 0,
			calls: []call{{0, "a", true, 0}, {0, "a", true, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			run(t, clock, New(clock, tt.perMinute, tt.burst, 100), tt.calls)
		})
	}
}

// TestRetryAfterIsExact checks that waiting retryAfter is enough and a
// microsecond less is not, including rates whose token interval is no whole
// number of nanoseconds. (x/time/rate truncates waits under a nanosecond,
// so one nanosecond early may pass.)
func TestRetryAfterIsExact(t *testing.T) {
	for _, perMinute := range []int{1, 7, 13, 60, 61, 97, 600, 1000, 3600, 7919, 100_000} {
		t.Run(fmt.Sprint(perMinute), func(t *testing.T) {
			clock := newFakeClock()
			l := New(clock, perMinute, 1, 10)
			for round := range 5 {
				if ok, _ := l.Allow("k"); !ok {
					t.Fatalf("round %d: first call denied", round)
				}
				ok, retry := l.Allow("k")
				if ok || retry <= 0 || retry > time.Minute {
					t.Fatalf("round %d: Allow = %v, %v; want denied within a minute", round, ok, retry)
				}
				clock.Advance(retry - time.Microsecond)
				if ok, _ := l.Allow("k"); ok {
					t.Fatalf("round %d: allowed 1µs before retryAfter %v", round, retry)
				}
				clock.Advance(time.Microsecond)
				if ok, again := l.Allow("k"); !ok {
					t.Fatalf("round %d: denied after waiting retryAfter %v (now %v)", round, retry, again)
				}
				clock.Advance(time.Minute) // refill for the next round
			}
		})
	}
}

func TestNilLimiterAllows(t *testing.T) {
	var l *Limiter
	if ok, retry := l.Allow("a"); !ok || retry != 0 {
		t.Errorf("nil Allow = %v, %v", ok, retry)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("nil Len = %d", n)
	}
}

func TestDisabledKeepsNoBuckets(t *testing.T) {
	l := New(nil, 0, 1, 10) // a disabled limiter needs no clock
	for i := range 100 {
		l.Allow(fmt.Sprint(i))
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestShards(t *testing.T) {
	tests := []struct {
		maxKeys    int
		wantShards int
	}{
		{1, 1}, {64, 1}, {127, 1}, {128, 2}, {1000, 8}, {2048, 32}, {1_000_000, 32}, {0, 32}, {-1, 32},
	}
	for _, tt := range tests {
		l := New(newFakeClock(), 60, 1, tt.maxKeys)
		total := 0
		for i := range l.shards {
			if c := l.shards[i].capacity; c < 1 {
				t.Errorf("maxKeys %d: shard %d has capacity %d", tt.maxKeys, i, c)
			}
			total += l.shards[i].capacity
		}
		wantTotal := tt.maxKeys
		if wantTotal <= 0 {
			wantTotal = DefaultMaxKeys
		}
		if len(l.shards) != tt.wantShards || total != wantTotal {
			t.Errorf("maxKeys %d: %d shards holding %d, want %d holding %d", tt.maxKeys, len(l.shards), total, tt.wantShards, wantTotal)
		}
	}
}

// keys lists the buckets of a one-shard limiter, most recently used first.
func keys(t *testing.T, l *Limiter) []string {
	t.Helper()
	if len(l.shards) != 1 {
		t.Fatalf("limiter has %d shards, want 1", len(l.shards))
	}
	s := &l.shards[0]
	var out []string
	for b := s.head; b != nil; b = b.next {
		out = append(out, b.key)
	}
	if len(out) != len(s.buckets) {
		t.Fatalf("LRU list has %d buckets, map %d", len(out), len(s.buckets))
	}
	return out
}

func TestEviction(t *testing.T) {
	// 60/min, burst 2: a bucket used once is full again after 1s, one
	// used twice after 2s.
	tests := []struct {
		name  string
		calls []call // ok and retry unchecked
		want  []string
	}{
		{
			name:  "under the cap nothing goes",
			calls: []call{{0, "a", true, 0}, {0, "b", true, 0}, {0, "c", true, 0}},
			want:  []string{"c", "b", "a"},
		},
		{
			name:  "least recently used goes when none is idle",
			calls: []call{{0, "a", true, 0}, {0, "b", true, 0}, {0, "c", true, 0}, {0, "a", true, 0}, {0, "d", true, 0}},
			want:  []string{"d", "a", "c"},
		},
		{
			name: "idle buckets go before the least recently used",
			calls: []call{
				{0, "a", true, 0}, {0, "a", true, 0}, // a: full at 2s
				{0, "b", true, 0}, {0, "c", true, 0}, // b, c: full at 1s
				{time.Second, "d", true, 0},
			},
			want: []string{"d", "a"},
		},
		{
			name: "a refilled bucket is idle whatever its age",
			calls: []call{
				{0, "a", true, 0}, // full at 1s
				{0, "b", true, 0}, {0, "b", true, 0},
				{time.Second, "c", true, 0}, // b (2s) and c (2s) busy, a idle
				{0, "d", true, 0},
			},
			want: []string{"d", "c", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			l := New(clock, 60, 2, 3)
			for _, c := range tt.calls {
				clock.Advance(c.advance)
				l.Allow(c.key)
			}
			if diff := cmp.Diff(tt.want, keys(t, l)); diff != "" {
				t.Errorf("buckets, most recent first (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvictionKeepsState(t *testing.T) {
	clock := newFakeClock()
	l := New(clock, 60, 2, 2)
	run(t, clock, l, []call{
		{0, "busy", true, 0},
		{0, "busy", true, 0},
		{0, "busy", false, time.Second},
		{0, "idle", true, 0},
		// idle is full again, busy is not: a new key drops idle only.
		{time.Second, "new", true, 0},
		{0, "busy", true, 0},
		{0, "busy", false, time.Second},
	})
	if diff := cmp.Diff([]string{"busy", "new"}, keys(t, l)); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
}

func TestEvictionBounded(t *testing.T) {
	for _, maxKeys := range []int{1, 3, 100, 1000} {
		clock := newFakeClock()
		l := New(clock, 60, 5, maxKeys)
		// Clock still: nothing goes idle, so the least recently used goes.
		// One shard fills exactly; several each fill on their own.
		for i := range 3 * maxKeys {
			l.Allow(fmt.Sprint("still-", i))
			got := l.Len()
			if want := min(i+1, maxKeys); got > want || len(l.shards) == 1 && got != want {
				t.Fatalf("maxKeys %d: Len = %d after %d keys, want %d", maxKeys, got, i+1, want)
			}
		}
		if got := l.Len(); got != maxKeys {
			t.Fatalf("maxKeys %d: Len = %d after %d keys, want full", maxKeys, got, 3*maxKeys)
		}
		// Clock moving: buckets go idle and are swept; never over the cap.
		for i := range 5000 {
			l.Allow(fmt.Sprint("moving-", i))
			if i%7 == 0 {
				clock.Advance(100 * time.Millisecond)
			}
			if n := l.Len(); n > maxKeys {
				t.Fatalf("maxKeys %d: %d buckets after %d keys", maxKeys, n, i+1)
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	const (
		goroutines = 8
		perG       = 500
		burst      = 50
		nKeys      = 20
	)
	clock := newFakeClock()
	// A day's rate per minute would refill mid-test; keep the clock still so
	// each key allows exactly burst calls, whatever the interleaving.
	l := New(clock, 60, burst, 1000)
	allowed := make([][]int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		allowed[g] = make([]int, nKeys)
		wg.Go(func() {
			for i := range perG {
				k := (i + g) % nKeys
				if ok, _ := l.Allow(fmt.Sprint("key-", k)); ok {
					allowed[g][k]++
				}
			}
		})
	}
	wg.Wait()
	for k := range nKeys {
		sum := 0
		for g := range goroutines {
			sum += allowed[g][k]
		}
		if sum != burst {
			t.Errorf("key-%d: %d calls allowed, want %d", k, sum, burst)
		}
	}
	if n := l.Len(); n != nKeys {
		t.Errorf("Len = %d, want %d", n, nKeys)
	}
}

func TestConcurrentEviction(t *testing.T) {
	clock := newFakeClock()
	l := New(clock, 600, 3, 256)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				l.Allow(fmt.Sprint(g, "-", i%400))
				if i%50 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 256 {
		t.Fatalf("Len = %d, want <= 256", n)
	}
	for i := range l.shards {
		s := &l.shards[i]
		var listed []string
		for b := s.head; b != nil; b = b.next {
			listed = append(listed, b.key)
		}
		var mapped []string
		for k := range s.buckets {
			mapped = append(mapped, k)
		}
		slices.Sort(listed)
		slices.Sort(mapped)
		if diff := cmp.Diff(mapped, listed); diff != "" {
			t.Fatalf("shard %d: LRU list and map disagree (-map +list):\n%s", i, diff)
		}
	}
}

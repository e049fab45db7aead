// Package ratelimit limits requests per key (a client IP, a user id) with
// token buckets, in bounded memory.
package ratelimit

import (
	"hash/maphash"
	"math"
	"time"

	"github.com/echogen/server/internal/echogen"
	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the bucket cap New uses when given maxKeys <= 0.
const DefaultMaxKeys = 10_000

const (
	// maxShards bounds lock contention; more shards buy little on the small
	// machines this server runs on.
	maxShards = 32
	// minShardKeys keeps shards big enough that per-shard LRU stays a fair
	// stand-in for a global one; small limiters get one shard.
	minShardKeys = 64
)

// Limiter is a keyed token-bucket limiter: each key may make burst requests
// at once, refilled at perMinute per minute. It is safe for concurrent use.
// A nil *Limiter allows everything.
type Limiter struct {
	clock    echogen.Clock
	limit    rate.Limit
	burst    int
	disabled bool
	seed     maphash.Seed
	shards   []shard
}

// New returns a Limiter that allows each key perMinute requests a minute,
// with bursts of up to burst (at least 1), reading time from clock. It keeps
// at most maxKeys buckets (DefaultMaxKeys if maxKeys <= 0): when full it
// first drops buckets that have refilled, as forgetting them loses nothing,
// and failing that the least recently used. perMinute <= 0 disables the
// limiter: it then allows everything.
func New(clock echogen.Clock, perMinute, burst, maxKeys int) *Limiter {
	if perMinute <= 0 {
		return &Limiter{disabled: true}
	}
	if clock == nil {
		panic("ratelimit: nil clock")
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	n := 1
	for n*2 <= maxShards && n*2*minShardKeys <= maxKeys {
		n *= 2
	}
	l := &Limiter{
		clock:  clock,
		limit:  rate.Limit(float64(perMinute) / 60),
		burst:  max(burst, 1),
		seed:   maphash.MakeSeed(),
		shards: make([]shard, n),
	}
	for i := range l.shards {
		// Spread the remainder so the caps add up to maxKeys exactly.
		capacity := maxKeys / n
		if i < maxKeys%n {
			capacity++
		}
		l.shards[i].init(capacity)
	}
	return l
}

// Allow takes a token for key. When none is left it returns false and how
// long until one is: the exact duration, for the caller to round up into a
// Retry-After header.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.disabled {
		return true, 0
	}
	now := l.clock.Now()
	s := &l.shards[maphash.String(l.seed, key)&uint64(len(l.shards)-1)]
	s.mu.Lock()
	defer s.mu.Unlock()

	b := s.get(key, now, l.newBucket)
	// A wall clock stepped back must not hand out tokens when it catches
	// up again; so a bucket's time never runs backwards.
	if now.Before(b.last) {
		now = b.last
	}
	b.last = now
	// Reserve rather than AllowN: a reservation that must wait says how
	// long, in the limiter's own arithmetic, and cancelling it hands the
	// token back. The shard lock keeps the two steps atomic.
	r := b.lim.ReserveN(now, 1)
	retryAfter = r.DelayFrom(now)
	if retryAfter > 0 {
		r.CancelAt(now)
	}
	s.touched(b, now.Add(l.timeFor(float64(l.burst)-b.lim.TokensAt(now))))
	return retryAfter == 0, retryAfter
}

func (l *Limiter) newBucket() *rate.Limiter { return rate.NewLimiter(l.limit, l.burst) }

// timeFor returns how long a bucket takes to gain tokens, rounded up so
// that a bucket is never called idle early.
func (l *Limiter) timeFor(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	d := math.Ceil(tokens / float64(l.limit) * float64(time.Second))
	if d >= math.MaxInt64 { // a huge burst at a tiny rate: years
		return math.MaxInt64
	}
	return time.Duration(d)
}

// Len returns the number of buckets held, for metrics and tests.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

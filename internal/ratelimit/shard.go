package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// shard holds some of the buckets, with its own lock, map and LRU list.
type shard struct {
	mu       sync.Mutex
	buckets  map[string]*bucket
	capacity int
	// head is the most recently used bucket, tail the least.
	head, tail *bucket
	// idleFrom is a lower bound on every bucket's fullAt: until then no
	// bucket can be idle, so a full shard skips the sweep and drops its
	// least recently used bucket at once. This keeps a flood of new keys
	// from costing a full scan on every request.
	idleFrom time.Time
	// Keep neighbouring shards' locks off one cache line.
	_ [64]byte
}

type bucket struct {
	key string
	lim *rate.Limiter
	// last is the latest time the bucket was used at.
	last time.Time
	// fullAt is when the bucket has refilled to burst, so that dropping it
	// is the same as keeping it.
	fullAt     time.Time
	prev, next *bucket
}

func (s *shard) init(capacity int) {
	s.capacity = capacity
	s.buckets = make(map[string]*bucket, min(capacity, 1024))
}

// get returns key's bucket, making room for and creating it if need be, and
// marks it most recently used.
func (s *shard) get(key string, now time.Time, newLimiter func() *rate.Limiter) *bucket {
	if b, ok := s.buckets[key]; ok {
		s.unlink(b)
		s.pushFront(b)
		return b
	}
	if len(s.buckets) >= s.capacity {
		s.makeRoom(now)
	}
	b := &bucket{key: key, lim: newLimiter()}
	s.buckets[key] = b
	s.pushFront(b)
	return b
}

// touched records when b, just used, will be full again.
func (s *shard) touched(b *bucket, fullAt time.Time) {
	b.fullAt = fullAt
	if fullAt.Before(s.idleFrom) {
		s.idleFrom = fullAt
	}
}

// makeRoom drops every idle bucket or, if none is idle, the least
// recently used one.
func (s *shard) makeRoom(now time.Time) {
	if !now.Before(s.idleFrom) {
		s.sweep(now)
	}
	if len(s.buckets) >= s.capacity && s.tail != nil {
		s.remove(s.tail)
	}
}

// sweep drops the buckets that are full at now and resets idleFrom to the
// earliest fullAt of the rest.
func (s *shard) sweep(now time.Time) {
	var next time.Time
	for b := s.head; b != nil; {
		following := b.next
		if !b.fullAt.After(now) {
			s.remove(b)
		} else if next.IsZero() || b.fullAt.Before(next) {
			next = b.fullAt
		}
		b = following
	}
	if next.IsZero() {
		next = now // empty: the next bucket added lowers it anyway
	}
	s.idleFrom = next
}

func (s *shard) remove(b *bucket) {
	s.unlink(b)
	delete(s.buckets, b.key)
}

func (s *shard) pushFront(b *bucket) {
	b.prev, b.next = nil, s.head
	if s.head != nil {
		s.head.prev = b
	}
	s.head = b
	if s.tail == nil {
		s.tail = b
	}
}

func (s *shard) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		s.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		s.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

package echogen

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults of CallOptions.
const (
	DefaultProviderCalls = 4 // concurrent calls per provider, per process
	DefaultMaxRetryWait  = 30 * time.Second
	callAttempts         = 3 // per call, before the job's own retry
	serverErrorBackoff   = 2 * time.Second
)

// CallOptions tune the calls jobs make to providers.
type CallOptions struct {
	// PerProvider bounds concurrent calls to each provider from this
	// process; zero means DefaultProviderCalls.
	PerProvider int
	// MaxRetryWait is the longest Retry-After waited inside a job; a
	// longer one ends the attempt and the queue retries after it. Zero
	// means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// Wait pauses between retries; nil waits on a timer. Tests pass one
	// that returns at once.
	Wait func(ctx context.Context, d time.Duration) error
	// Observer counts every call; nil counts nothing.
	Observer Observer
}

// ProviderCalls bounds and retries the calls of every job handler in a
// process, so one provider's limit holds across job types.
type ProviderCalls struct {
	opts  CallOptions
	mu    sync.Mutex
	slots map[Provider]chan struct{}
}

// NewProviderCalls returns a ProviderCalls.
func NewProviderCalls(opts CallOptions) *ProviderCalls {
	if opts.PerProvider <= 0 {
		opts.PerProvider = DefaultProviderCalls
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = DefaultMaxRetryWait
	}
	if opts.Wait == nil {
		opts.Wait = waitTimer
	}
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}
	return &ProviderCalls{opts: opts, slots: map[Provider]chan struct{}{}}
}

func waitTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *ProviderCalls) slot(p Provider) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.slots[p]
	if !ok {
		s = make(chan struct{}, c.opts.PerProvider)
		c.slots[p] = s
	}
	return s
}

// Do runs call in one of provider's slots. A rate limit whose Retry-After
// is short enough is waited out and the call made again, as is a server
// error after a growing pause, up to three tries; other errors, and a
// long Retry-After, are returned for the job to fail or be retried.
func (c *ProviderCalls) Do(ctx context.Context, provider Provider, call func(ctx context.Context) error) error {
	slots := c.slot(provider)
	for attempt := 1; ; attempt++ {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		start := time.Now()
		err := call(ctx)
		<-slots
		c.opts.Observer.ProviderCall(provider, KindName(err), time.Since(start))
		if err == nil || attempt == callAttempts || ctx.Err() != nil {
			return err
		}
		delay, ok := c.retryDelay(err, attempt)
		if !ok {
			return err
		}
		if werr := c.opts.Wait(ctx, delay); werr != nil {
			return werr
		}
	}
}

// retryDelay says whether a failed call is worth retrying in the job, and
// after how long.
func (c *ProviderCalls) retryDelay(err error, attempt int) (time.Duration, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Code == CodeInvalidScript {
		return 0, false
	}
	switch e.Kind {
	case KindRateLimited:
		d := e.RetryAfter
		if d <= 0 {
			d = serverErrorBackoff * time.Duration(attempt)
		}
		return d, d <= c.opts.MaxRetryWait
	case KindUnavailable:
		return serverErrorBackoff * time.Duration(1<<(attempt-1)), true
	}
	return 0, false
}

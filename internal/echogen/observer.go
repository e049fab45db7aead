package echogen

import "time"

// Observer counts what the server does, for monitoring (Prometheus in
// production). Its methods are called on hot paths: they must be cheap
// and safe for concurrent use.
type Observer interface {
	// Request is one HTTP request, by route pattern ("" when none matched).
	Request(method, route string, status int, d time.Duration)
	// JobAttempt is one attempt of a job: outcome is "succeeded",
	// "failed", "retried" or "cancelled".
	JobAttempt(jobType, outcome string, d time.Duration)
	// ProviderCall is one call to an AI or scraping provider: outcome is
	// "ok" or the error's kind ("rate_limited", "unavailable", …).
	ProviderCall(provider Provider, outcome string, d time.Duration)
	// Streams moves the count of open event streams by delta.
	Streams(delta int)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Request(string, string, int, time.Duration)   {}
func (NopObserver) JobAttempt(string, string, time.Duration)     {}
func (NopObserver) ProviderCall(Provider, string, time.Duration) {}
func (NopObserver) Streams(int)                                  {}

// KindName names an error's kind for metrics: "ok" for nil.
func KindName(err error) string {
	if err == nil {
		return "ok"
	}
	switch ErrorKind(err) {
	case KindInvalid:
		return "invalid"
	case KindBadRequest:
		return "bad_request"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindPermissionDenied:
		return "permission_denied"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindTooLarge:
		return "too_large"
	case KindRateLimited:
		return "rate_limited"
	case KindNotImplemented:
		return "not_implemented"
	case KindUnavailable:
		return "unavailable"
	}
	return "internal"
}

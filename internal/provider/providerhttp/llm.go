package providerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// Error codes of the language-model adapters (openai, gemini, anthropic).
const (
	LLMInvalidRequest = "llm_invalid_request" // the LLMRequest cannot be sent (no key, no model, bad role)
	LLMKeyRejected    = "llm_key_rejected"    // 401, 403, or the provider's own "bad key" answer
	LLMRateLimited    = "llm_rate_limited"    // 429 or the provider's quota answer
	LLMTimeout        = "llm_timeout"         // 408, 504, or no answer in time
	LLMUnavailable    = "llm_unavailable"     // 5xx or a network error
	LLMBadResponse    = "llm_bad_response"    // an answer we cannot read
	LLMRejected       = "llm_rejected"        // another 4xx
	LLMEmptyAnswer    = "llm_empty_answer"    // no content, or no text
	LLMRefused        = "llm_refused"         // the model refused or was blocked
	LLMCanceled       = "llm_canceled"        // the caller's context ended
)

// ErrLLMTimeout is the cause an adapter gives its own per-call deadline
// (context.WithTimeoutCause), so LLMCallError can tell it from the caller's.
var ErrLLMTimeout = fmt.Errorf("LLM call timed out: %w", context.DeadlineExceeded)

// LLMCallError maps a model call that failed without a readable error
// answer: the context ended, the answer was not the JSON expected
// (answered), or the provider could not be reached.
func LLMCallError(ctx context.Context, provider string, err error, answered bool, apiKey string) error {
	switch {
	case context.Cause(ctx) == ErrLLMTimeout:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: LLMTimeout,
			Message: provider + " did not answer in time", Err: ErrLLMTimeout}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: LLMTimeout,
			Message: provider + " did not answer in time", Err: context.Cause(ctx)}
	case ctx.Err() != nil:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: LLMCanceled,
			Message: "the call to " + provider + " was canceled", Err: context.Cause(ctx)}
	case answered:
		return &echogen.Error{Kind: echogen.KindUnavailable, Code: LLMBadResponse,
			Message: provider + " sent an answer that is not the JSON we expect",
			Err:     errors.New(Scrub(err.Error(), apiKey))}
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is not the caller's business
	}
	return &echogen.Error{Kind: echogen.KindUnavailable, Code: LLMUnavailable,
		Message: Clean(Scrub("could not reach "+provider+": "+cause.Error(), apiKey)),
		Err:     errors.New(Scrub(err.Error(), apiKey))}
}

// LLMCodeOf classifies an HTTP error status the way every model API
// means it; adapters override it for their own answers (Gemini's 400 for
// a bad key, for one).
func LLMCodeOf(status int) string {
	switch {
	case status == 401 || status == 403:
		return LLMKeyRejected
	case status == 429:
		return LLMRateLimited
	case status == 408 || status == 504:
		return LLMTimeout
	case status >= 500:
		return LLMUnavailable
	}
	return LLMRejected
}

// LLMStatusError builds the error of an HTTP error answer classified as
// code. said is the provider's own message, cause what to keep for logs;
// the key is scrubbed from both.
func LLMStatusError(provider, code string, status int, said, cause string, retryAfter time.Duration, apiKey string) error {
	said = Clean(Scrub(said, apiKey))
	with := func(msg string) string {
		if said != "" {
			return msg + ": " + said
		}
		return msg
	}
	e := &echogen.Error{Code: code, Err: errors.New(Clean(Scrub(cause, apiKey)))}
	switch code {
	case LLMKeyRejected:
		e.Kind, e.Message = echogen.KindUnauthenticated, with(provider+" refused the API key")
	case LLMRateLimited:
		e.Kind, e.Message, e.RetryAfter = echogen.KindRateLimited, with("rate limited by "+provider+", try again later"), retryAfter
	case LLMTimeout:
		e.Kind, e.Message, e.RetryAfter = echogen.KindUnavailable, with(provider+" timed out"), retryAfter
	case LLMUnavailable:
		e.Kind, e.Message, e.RetryAfter = echogen.KindUnavailable, with(fmt.Sprintf("%s is unavailable (HTTP %d)", provider, status)), retryAfter
	default:
		e.Kind, e.Message = echogen.KindBadRequest, with(fmt.Sprintf("%s refused the request (HTTP %d)", provider, status))
	}
	return e
}

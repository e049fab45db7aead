package echogen

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an Error. The HTTP layer maps each kind to one status code
// in one place; nothing else in the server decides status codes.
type Kind int

const (
	KindInternal         Kind = iota // a bug or an outage; the message is never shown
	KindInvalid                      // the caller sent something we cannot accept (422)
	KindBadRequest                   // a well-formed request we refuse as asked (400)
	KindUnauthenticated              // no valid credentials (401)
	KindPermissionDenied             // authenticated, but not allowed (403)
	KindNotFound                     // does not exist, or is not the caller's (404)
	KindConflict                     // clashes with existing state (409)
	KindTooLarge                     // over a size cap (413)
	KindRateLimited                  // slow down (429)
	KindNotImplemented               // a feature we do not offer yet (501)
	KindUnavailable                  // a dependency is down (503)
)

// Error is the one coded error type of the server. Message is safe to show
// to the caller; Err is the cause, for logs only.
type Error struct {
	Kind    Kind
	Code    string // stable, machine-readable: "invalid_credentials"
	Message string
	// Fields lists the inputs that failed validation (KindInvalid).
	Fields []FieldError
	// RetryAfter tells a rate-limited caller when to try again.
	RetryAfter time.Duration
	Err        error
}

// FieldError names one invalid input the way FastAPI does: a location such as
// ["body", "email"], a message and a type.
type FieldError struct {
	Loc  []string
	Msg  string
	Type string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error for one field.
func Invalid(loc []string, typ, msg string) *Error {
	return &Error{
		Kind:    KindInvalid,
		Code:    "validation_error",
		Message: msg,
		Fields:  []FieldError{{Loc: loc, Msg: msg, Type: typ}},
	}
}

// NotFound returns the error for a missing (or not owned) resource, with the
// detail text the original API used, such as "Content not found".
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: what + " not found"}
}

// ErrorKind returns the kind of err, KindInternal when it is not an *Error.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of err, "internal_error" when it is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal_error"
}

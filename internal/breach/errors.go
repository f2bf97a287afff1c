package breach

import (
	"errors"
	"fmt"
)

// Code classifies a domain error; the HTTP layer maps codes to statuses in one
// place and the CLI maps ErrInvalid to exit status 2.
type Code string

const (
	ErrInvalid   Code = "invalid"   // bad input: 400, exit 2
	ErrNotFound  Code = "not_found" // 404
	ErrForbidden Code = "forbidden" // 403
	// ErrUnauthenticated: no valid credentials (401).
	ErrUnauthenticated Code = "unauthenticated"
	ErrConflict        Code = "conflict" // 409: stale version, already done
	ErrInternal        Code = "internal" // 500
)

// Error is a domain error. Field names the input field at fault, when there is
// one. Message never carries personal data: it names fields, not their values.
type Error struct {
	Code    Code   `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errorf builds a domain error of the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or ErrInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}

// Errors is every problem found in one input, in the order of its fields.
// errors.As(err, &e) with e a *Error finds the first one, so code that wants a
// single field keeps working; code that wants all of them asks for Errors.
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	s := es[0].Error()
	for _, e := range es[1:] {
		s += "; " + e.Error()
	}
	return s
}

// Unwrap exposes each *Error to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns nil when es is empty and es otherwise, so that a function can
// collect problems and end with `return es.Err()`.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

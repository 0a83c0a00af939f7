package egress

import (
	"errors"
	"fmt"
)

// ErrInvalid matches (with errors.Is) every *ParseError: any input that a
// parser or validator of this package rejected. Callers map it to a usage
// error.
var ErrInvalid = errors.New("invalid input")

// ErrNoProject is wrapped by the *ParseError returned when a short name needs
// a default project and none was given.
var ErrNoProject = errors.New("no project given")

// ErrNoRegion is wrapped by the *ParseError returned when a short name needs
// a default region and none was given.
var ErrNoRegion = errors.New("no region given")

// ParseError reports input that was rejected. Its message names what was
// being parsed, quotes the input, says what is wrong and, when known, lists
// the valid forms or values, for example:
//
//	invalid workload "job/": empty name (valid forms: NAME, job/NAME, ...)
type ParseError struct {
	// What names the thing being parsed: "workload", "connector",
	// "subnetwork", "mode", "--canary", ...
	What string
	// Input is the rejected text.
	Input string
	// Reason says what is wrong with Input.
	Reason string
	// Valid lists the valid forms or values; it may be empty.
	Valid string
	// Err is an underlying cause (ErrNoProject, ErrNoRegion, a parse
	// error), or nil.
	Err error
}

// Error returns the message described on ParseError.
func (e *ParseError) Error() string {
	s := fmt.Sprintf("invalid %s %q: %s", e.What, e.Input, e.Reason)
	if e.Valid != "" {
		s += " (" + e.Valid + ")"
	}
	return s
}

// Unwrap returns the underlying cause, if any.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid, so that errors.Is(err,
// ErrInvalid) holds for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrInvalid }

func parseErr(what, input, valid, format string, args ...any) *ParseError {
	return &ParseError{What: what, Input: input, Reason: fmt.Sprintf(format, args...), Valid: valid}
}

// nest wraps err, the *ParseError of one part of input, in a *ParseError
// about the whole input.
func nest(what, input, valid string, err error) error {
	pe, ok := err.(*ParseError)
	if !ok {
		return &ParseError{What: what, Input: input, Reason: err.Error(), Valid: valid, Err: err}
	}
	reason := fmt.Sprintf("%s %q: %s", pe.What, pe.Input, pe.Reason)
	if pe.Valid != "" {
		reason += " (" + pe.Valid + ")"
	}
	return &ParseError{What: what, Input: input, Reason: reason, Valid: valid, Err: pe.Err}
}

// Package exitcode defines runnet's process exit codes and maps errors to
// them.
//
// Commands return errors; cli.Execute turns the error into an exit code with
// FromError. A command chooses a code explicitly by wrapping its error with
// Wrap (or Usagef for bad input); errors from the Google APIs are mapped from
// their gRPC status code or HTTP status by the Classifier internal/cloud
// provides (this package imports no Google library).
package exitcode

import (
	"errors"
	"fmt"
)

// Exit codes, as documented in DESIGN.md section 2 and in `runnet --help`.
const (
	// OK: success, or nothing to do (for example migrating a workload to the
	// mode it already has).
	OK = 0
	// Failure: any error that has no more specific code.
	Failure = 1
	// Usage: bad usage or bad input (unknown flag, wrong arguments, invalid
	// value, missing project or region).
	Usage = 2
	// Preflight: a preflight check failed; nothing was changed.
	Preflight = 3
	// Permission: authentication or permission failure.
	Permission = 4
	// Conflict: a concurrent change (stale etag, resource already exists).
	Conflict = 5
	// RolledBack: an apply failed and runnet restored the previous state.
	RolledBack = 6
)

// Entry documents one exit code.
type Entry struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
}

// Table lists every exit code runnet uses, in order. It is the single source
// for help text and documentation.
var Table = []Entry{
	{OK, "ok", "success, or nothing to do"},
	{Failure, "error", "an error with no more specific code"},
	{Usage, "usage", "bad usage or input: unknown flag, wrong arguments, invalid value, no project or region"},
	{Preflight, "preflight", "a preflight check failed; nothing was changed"},
	{Permission, "permission", "not authenticated, or permission denied"},
	{Conflict, "conflict", "concurrent change: stale etag, or the resource already exists"},
	{RolledBack, "rolled-back", "an apply failed and the previous state was restored"},
}

// Name returns the short name of code from Table, or "" if it is unknown.
func Name(code int) string {
	for _, e := range Table {
		if e.Code == code {
			return e.Name
		}
	}
	return ""
}

// Error attaches an exit code to an error.
//
// An Error with a nil Err is "silent": the command has already reported the
// problem (for example a preflight report) and only the exit code remains.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Silent reports whether the error has nothing left to print.
func (e *Error) Silent() bool { return e.Err == nil }

// Wrap returns err with exit code code. It returns nil if err is nil.
func Wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Errorf formats an error with exit code code.
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Usagef formats a bad-usage/bad-input error (exit code 2).
func Usagef(format string, args ...any) error {
	return Errorf(Usage, format, args...)
}

// Silent returns an error that carries only an exit code: the command has
// already printed what went wrong.
func Silent(code int) error {
	return &Error{Code: code}
}

// Classifier maps one error (not its chain) to an exit code, when it knows it: internal/cloud
// provides the one for Google's API errors (cloud.APIExitCode), which this package does not
// know.
type Classifier func(error) (int, bool)

// FromError returns the exit code for err:
//
//   - nil: 0.
//   - an *Error anywhere in the chain (the outermost wins): its Code.
//   - an error of the chain that a classifier knows (the outermost first): its code. For
//     Google's API errors (cloud.APIExitCode): permission denied and unauthenticated give 4,
//     a stale etag (ABORTED) or a resource that already exists give 5.
//   - anything else, including INVALID_ARGUMENT from an API: 1. Input that runnet itself
//     finds invalid is reported with Usagef instead.
//
// The chain is searched depth-first, outermost first, following both Unwrap() error and
// Unwrap() []error.
func FromError(err error, classify ...Classifier) int {
	if err == nil {
		return OK
	}
	var ee *Error
	if errors.As(err, &ee) {
		return ee.Code
	}
	code := Failure
	walk(err, 0, func(e error) bool {
		for _, c := range classify {
			if c == nil {
				continue
			}
			if n, ok := c(e); ok {
				code = n
				return true
			}
		}
		return false
	})
	return code
}

// maxDepth bounds walk, in case of a (buggy) cycle of wrapped errors.
const maxDepth = 64

// walk visits err and everything it wraps, depth-first, until visit returns
// true.
func walk(err error, depth int, visit func(error) bool) bool {
	for ; err != nil && depth < maxDepth; depth++ {
		if visit(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, depth+1, visit) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

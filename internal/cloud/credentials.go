package cloud

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CredentialsError says that runnet found no Google Cloud credentials (Application Default
// Credentials) to build its clients with. It is one error, however many clients needed
// them, and it maps to exit status 4 (UNAUTHENTICATED).
type CredentialsError struct {
	// Err is the client library's error.
	Err error
	// Source says where the credentials were looked for or found, e.g. "the credentials in
	// /path/key.json"; "" for Application Default Credentials in general.
	Source string
}

func (e *CredentialsError) Error() string {
	msg := "no Google Cloud credentials: run `gcloud auth application-default login`, or use --emulator"
	if e.Err != nil && !strings.Contains(e.Err.Error(), "could not find default credentials") {
		// Credentials were found but could not be used (a bad key file, say): say why.
		src := e.Source
		if src == "" {
			src = "Application Default Credentials"
		}
		msg = "cannot use " + src + ": " + strings.TrimPrefix(oneLine(e.Err.Error()), "credentials: ")
	}
	return msg
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// GRPCStatus reports UNAUTHENTICATED, so exit codes treat it as an authentication failure.
func (e *CredentialsError) GRPCStatus() *status.Status {
	return status.New(codes.Unauthenticated, e.Error())
}

// asCredentialsError recognises a client library's failure to find or load Application
// Default Credentials.
func asCredentialsError(err error) *CredentialsError {
	if err == nil {
		return nil
	}
	var ce *CredentialsError
	if errors.As(err, &ce) {
		return ce
	}
	msg := err.Error()
	for _, s := range []string{"could not find default credentials", "credentials: ", "google: error getting credentials"} {
		if strings.Contains(msg, s) {
			return &CredentialsError{Err: err}
		}
	}
	return nil
}

// joinErrors joins the errors of concurrent calls, but when one of them is a credentials
// error it alone is returned, and when they all failed with the same API status (a
// connection refused, say) the first alone is: the reason is said once.
func joinErrors(errs ...error) error {
	var first error
	same := true
	for _, err := range errs {
		if err == nil {
			continue
		}
		if ce := asCredentialsError(err); ce != nil {
			return ce
		}
		if first == nil {
			first = err
			continue
		}
		a, okA := status.FromError(statusErrOf(first))
		b, okB := status.FromError(statusErrOf(err))
		if !okA || !okB || a.Code() != b.Code() || a.Message() != b.Message() || a.Code() == codes.Unknown {
			same = false
		}
	}
	if first != nil && same {
		return first
	}
	return errors.Join(errs...)
}

// CheckCredentials makes sure the clients can authenticate, before any call: against Google
// Cloud it loads the credentials (Application Default Credentials, impersonation: no
// network call, except the metadata server's presence check on a VM) and returns a
// *CredentialsError if there are none or they cannot be used. Against an emulator there is
// nothing to check.
func (c *Clients) CheckCredentials() error {
	if c.Emulated() {
		return nil
	}
	if a := c.auth(); a.err != nil {
		return a.err
	}
	return nil
}

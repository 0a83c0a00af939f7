package cli

import (
	"regexp"
	"strings"
	"unicode"
)

// Errors reach users in plain sentences: the Go and gRPC wording that the client libraries put
// in error messages ("context canceled", "rpc error: code = Unavailable desc = ...", a dial
// error) is said in words. Only the text changes; exit codes come from the errors themselves.

var (
	// A connection that could not be made: gRPC's dial error, with the address it dialled.
	dialErr = regexp.MustCompile(`(?:rpc error: code = Unavailable desc = )?connection error: desc = "transport: (?:Error while dialing: |authentication handshake failed: )?(?:dial tcp (?:\[?)([^ "\]]*?)\]?: |dial tcp: lookup ([^ :"]+)[^"]*?: )?([^"]*)"(?: \(UNAVAILABLE\))?`)
	// gRPC's own rendering of a status.
	rpcErr = regexp.MustCompile(`rpc error: code = ([A-Za-z]+) desc = ([^;\n]*)`)
	// The context errors, at the end of a message or of a part of it.
	canceledErr = regexp.MustCompile(`(?::\s*)?context canceled`)
	deadlineErr = regexp.MustCompile(`(?::\s*)?context deadline exceeded`)
)

// humanizeError rewrites the machine wording in an error message as sentences.
func humanizeError(msg string) string {
	msg = dialErr.ReplaceAllStringFunc(msg, func(m string) string {
		sub := dialErr.FindStringSubmatch(m)
		host := sub[1]
		if host == "" {
			host = sub[2]
		}
		why := strings.TrimSpace(sub[3])
		if i := strings.LastIndex(why, ": "); i >= 0 {
			why = why[i+2:] // "connect: connection refused" -> "connection refused"
		}
		if host == "" {
			return "the API is unreachable: " + why + " (UNAVAILABLE)"
		}
		return "the API is unreachable at " + host + ": " + why + " (UNAVAILABLE)"
	})
	msg = rpcErr.ReplaceAllStringFunc(msg, func(m string) string {
		sub := rpcErr.FindStringSubmatch(m)
		return strings.TrimSpace(sub[2]) + " (" + upperSnake(sub[1]) + ")"
	})
	if strings.Contains(msg, "context canceled") {
		if strings.Contains(msg, "interrupted") {
			msg = canceledErr.ReplaceAllString(msg, "")
		} else {
			msg = canceledErr.ReplaceAllString(msg, ": interrupted (Ctrl-C or SIGTERM)")
			msg = strings.TrimPrefix(msg, ": ")
		}
	}
	msg = strings.ReplaceAll(msg, "interrupted (Ctrl-C or SIGTERM) (CANCELLED)", "interrupted (Ctrl-C or SIGTERM)")
	msg = deadlineErr.ReplaceAllString(msg, ": timed out")
	return strings.TrimPrefix(msg, ": ")
}

// upperSnake turns a gRPC code's Go name (PermissionDenied) into its API name
// (PERMISSION_DENIED).
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

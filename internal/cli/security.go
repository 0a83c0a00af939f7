package cli

import (
	"net"
	"strconv"
	"strings"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// ValidateEmulatorHost checks RUNNET_EMULATOR_HOST: it must be host:port (a name or an IP
// address, and a port number), nothing else: runnet talks to Google's API endpoints, or to an
// emulator named this way, never to a URL or path read from the environment. Bad values are
// usage errors (exit 2).
func ValidateEmulatorHost(v string) error {
	bad := func(why string) error {
		return exitcode.Usagef("%s=%q: %s; want host:port, such as 127.0.0.1:8085 (the line `runnet emulator start` prints)", EnvEmulatorHost, v, why)
	}
	if strings.ContainsAny(v, "/\\@?#%&;= \t\r\n") || strings.Contains(v, "://") {
		return bad("not a host:port (a URL, path or query is not allowed)")
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return bad("not a host:port")
	}
	if host == "" {
		return bad("no host")
	}
	if strings.HasPrefix(v, "[") && (net.ParseIP(host) == nil || !strings.Contains(host, ":")) {
		return bad("brackets hold an IPv6 address only")
	}
	if ip := net.ParseIP(host); ip == nil {
		for _, label := range strings.Split(host, ".") {
			if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
				return bad("invalid host name")
			}
			for _, r := range label {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
					return bad("invalid host name")
				}
			}
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return bad("the port must be a number from 1 to 65535")
	}
	return nil
}

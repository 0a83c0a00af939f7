package cli

import "testing"

func TestHumanizeError(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`list services in project p, region r: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused" (UNAVAILABLE)`,
			`list services in project p, region r: the API is unreachable at 127.0.0.1:1: connection refused (UNAVAILABLE)`},
		{`update service "s": rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.1:443: i/o timeout"`,
			`update service "s": the API is unreachable at 10.0.0.1:443: i/o timeout (UNAVAILABLE)`},
		{`read connector: connection error: desc = "transport: Error while dialing: dial tcp: lookup vpcaccess.googleapis.com on 127.0.0.53:53: no such host"`,
			`read connector: the API is unreachable at vpcaccess.googleapis.com: no such host (UNAVAILABLE)`},
		{`wait for operation: rpc error: code = PermissionDenied desc = caller lacks run.services.update`,
			`wait for operation: caller lacks run.services.update (PERMISSION_DENIED)`},
		{`interrupted during step 2 (verify): context canceled`, `interrupted during step 2 (verify)`},
		{`read service "s": context canceled`, `read service "s": interrupted (Ctrl-C or SIGTERM)`},
		{`context canceled`, `interrupted (Ctrl-C or SIGTERM)`},
		{`read service "s": context deadline exceeded`, `read service "s": timed out`},
		{`subnet x is too small`, `subnet x is too small`},
	} {
		if got := humanizeError(tt.in); got != tt.want {
			t.Errorf("humanizeError(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

package runapi

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// TCP probe executions. The emulator runs no containers, so a job that tests egress tells it
// what to connect to: the environment variable RUNNET_PROBE_TCP of its first container lists
// HOST:PORT targets, comma-separated, where HOST is an IP address or the name of a declared
// destination (world.Destination). When the execution's tasks finish, each target is judged
// by the data plane from the execution's VPC access; if one cannot be reached the tasks fail,
// as a container that could not connect exits non-zero, with Cloud Run's task failure text.

// ProbeEnv is the environment variable that lists a probe job's TCP targets.
const ProbeEnv = "RUNNET_PROBE_TCP"

// probeFailureLocked returns why an execution's TCP probe fails, or "".
func probeFailureLocked(w *world.World, e *runpb.Execution) string {
	cs := e.GetTemplate().GetContainers()
	if len(cs) == 0 {
		return ""
	}
	var spec string
	for _, ev := range cs[0].GetEnv() {
		if ev.GetName() == ProbeEnv {
			spec = ev.GetValue()
		}
	}
	if strings.TrimSpace(spec) == "" {
		return ""
	}
	egress := w.EgressOfLocked(e.GetName(), e.GetTemplate().GetVpcAccess())
	for _, target := range strings.Split(spec, ",") {
		target = strings.TrimSpace(target)
		host, port, err := net.SplitHostPort(target)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			return fmt.Sprintf("%s: %q is not HOST:PORT", ProbeEnv, target)
		}
		d, ok := w.S.Net.Destinations[host]
		if !ok {
			for _, cand := range w.S.Net.Destinations {
				if cand.IP == host && cand.Port == p {
					d, ok = cand, true
				}
			}
		}
		if !ok {
			d = &world.Destination{Name: host, IP: host, Port: p}
		} else if d.Port != p {
			c := *d
			c.Port = p
			d = &c
		}
		if r := w.ReachLocked(egress, d); !r.OK {
			return fmt.Sprintf("connect to %s: %s", target, r.Reason)
		}
	}
	return ""
}

// failProbeLocked ends an execution whose probe failed: every task failed, as containers that
// exited non-zero ("Task T failed with message: The container exited with an error.").
func failProbeLocked(w *world.World, e *runpb.Execution, why string) {
	msg := fmt.Sprintf("Task %s-task0 failed with message: The container exited with an error. (%s)", lastSegment(e.GetName()), why)
	e.FailedCount = e.TaskCount
	e.SucceededCount = 0
	endExecutionLocked(w, e, runpb.Condition_CONDITION_FAILED, msg, runpb.Condition_COMMON_REASON_UNDEFINED, runpb.ExecutionReference_EXECUTION_FAILED,
		status.New(codes.FailedPrecondition, msg))
	for _, c := range e.Conditions {
		if c.Type == condCompleted {
			c.Reasons = &runpb.Condition_ExecutionReason_{ExecutionReason: runpb.Condition_NON_ZERO_EXIT_CODE}
		}
	}
}

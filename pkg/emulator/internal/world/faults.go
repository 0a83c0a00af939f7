package world

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
)

// Fault makes calls of one method fail. A method is a full gRPC method
// ("google.cloud.run.v2.Services/UpdateService") or a Compute method id
// ("compute.subnetworks.insert"); "*" matches every method.
type Fault struct {
	Method string `json:"method"`
	// Code is the gRPC code returned (Compute: the matching HTTP status and error body).
	Code codes.Code `json:"code"`
	// Message overrides the error message.
	Message string `json:"message,omitempty"`
	// Count is how many calls fail; 0 means every call until the fault is cleared.
	Count int `json:"count,omitempty"`
	// Skip lets this many matching calls through before the fault starts.
	Skip int `json:"skip,omitempty"`
	// Probability, when above 0, makes each matching call fail with this probability (drawn from
	// the fault set's seeded generator, so a run can be repeated).
	Probability float64 `json:"probability,omitempty"`
	// Sequence, when set, scripts the outcome of successive calls: codes.OK lets a call through.
	// Count, Skip and Probability are ignored; the fault ends when the sequence does.
	Sequence []codes.Code `json:"sequence,omitempty"`
	// AfterCommit applies the call and then reports the error, as when a response is lost.
	AfterCommit bool `json:"afterCommit,omitempty"`
}

// Hit is what a call that a fault matched must do.
type Hit struct {
	Code        codes.Code
	Message     string
	AfterCommit bool
}

type faultState struct {
	Fault
	seen   int
	failed int
}

// Faults is a set of injected faults, and a count of every call seen per method.
type Faults struct {
	mu     sync.Mutex
	faults []*faultState
	calls  map[string]int
	rng    *rand.Rand
}

// NewFaults returns an empty fault set with seed 1.
func NewFaults() *Faults {
	return &Faults{calls: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
}

// Add injects a fault.
func (f *Faults) Add(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &faultState{Fault: ft})
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Seed resets the generator that probabilistic faults draw from.
func (f *Faults) Seed(seed uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Calls returns how many calls of each method were seen (failed ones included).
func (f *Faults) Calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the call counts.
func (f *Faults) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// Check counts a call of method and reports the fault it must suffer, if any. The first fault
// (in the order added) that matches decides.
func (f *Faults) Check(method string) *Hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	for i := 0; i < len(f.faults); i++ {
		ft := f.faults[i]
		if ft.Method != "*" && ft.Method != method {
			continue
		}
		ft.seen++
		if len(ft.Sequence) > 0 {
			idx := ft.seen - 1
			if idx >= len(ft.Sequence)-1 {
				f.faults = append(f.faults[:i], f.faults[i+1:]...)
				i--
			}
			if idx >= len(ft.Sequence) || ft.Sequence[idx] == codes.OK {
				continue
			}
			return ft.hit(ft.Sequence[idx], method)
		}
		if ft.seen <= ft.Skip {
			continue
		}
		if ft.Probability > 0 && f.rng.Float64() >= ft.Probability {
			continue
		}
		ft.failed++
		if ft.Count > 0 && ft.failed >= ft.Count {
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
		}
		return ft.hit(ft.Code, method)
	}
	return nil
}

func (ft *faultState) hit(code codes.Code, method string) *Hit {
	msg := ft.Message
	if msg == "" {
		msg = fmt.Sprintf("injected fault: %s on %s", CodeName(code), method)
	}
	return &Hit{Code: code, Message: msg, AfterCommit: ft.AfterCommit}
}

var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
	codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// CodeName returns the canonical upper-case name of a gRPC code, e.g. PERMISSION_DENIED.
func CodeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return strconv.Itoa(int(c))
}

// ParseCode reads a gRPC code by canonical name (PERMISSION_DENIED, case-insensitive,
// CANCELED accepted too) or number (0-16).
func ParseCode(s string) (codes.Code, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "CANCELED" {
		return codes.Canceled, nil
	}
	for c, n := range codeNames {
		if n == u {
			return c, nil
		}
	}
	if n, err := strconv.Atoi(u); err == nil && n >= 0 && n <= 16 {
		return codes.Code(n), nil
	}
	return 0, fmt.Errorf("unknown gRPC code %q (want a name such as UNAVAILABLE or a number 0-16)", s)
}

// ParseFault reads METHOD=CODE[:COUNT], the --fault flag's form. COUNT defaults to 1.
func ParseFault(spec string) (Fault, error) {
	method, rest, ok := strings.Cut(spec, "=")
	if !ok || method == "" || rest == "" {
		return Fault{}, fmt.Errorf("fault %q: want METHOD=CODE[:COUNT], e.g. google.cloud.run.v2.Services/UpdateService=UNAVAILABLE:2", spec)
	}
	method = strings.TrimPrefix(method, "/")
	if strings.ContainsAny(method, " \t") || (method != "*" && !grpcMethodName(method) && !restMethodID(method)) {
		return Fault{}, fmt.Errorf("fault %q: method %q is neither a full gRPC method (package.Service/Method) nor a REST method id (compute.RESOURCE.VERB, cloudresourcemanager.…, cloudbilling.…, vpcaccess.…, serviceusage.…)", spec, method)
	}
	codeStr, countStr, hasCount := strings.Cut(rest, ":")
	code, err := ParseCode(codeStr)
	if err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", spec, err)
	}
	if code == codes.OK {
		return Fault{}, fmt.Errorf("fault %q: code OK is not a failure", spec)
	}
	count := 1
	if hasCount {
		count, err = strconv.Atoi(countStr)
		if err != nil || count < 1 {
			return Fault{}, fmt.Errorf("fault %q: COUNT must be a whole number of at least 1", spec)
		}
	}
	return Fault{Method: method, Code: code, Count: count}, nil
}

// restMethodPrefixes start the method ids of the emulator's REST surfaces (Compute, Resource
// Manager, the Billing Catalog, the VPC Access PATCH and Service Usage's quotas), as their
// discovery documents name their methods.
var restMethodPrefixes = []string{"compute.", "cloudresourcemanager.", "cloudbilling.", "vpcaccess.", "serviceusage."}

// grpcMethodName reports whether m reads SERVICE/METHOD with both parts present, as the full
// method names gRPC interceptors see (without their leading slash).
func grpcMethodName(m string) bool {
	service, name, ok := strings.Cut(m, "/")
	return ok && service != "" && name != "" && !strings.Contains(name, "/")
}

func restMethodID(m string) bool {
	for _, p := range restMethodPrefixes {
		if strings.HasPrefix(m, p) && strings.Count(m, ".") >= 2 {
			return true
		}
	}
	return false
}

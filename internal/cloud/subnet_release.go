package cloud

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// ReservationsHeldError says Cloud Run still held serverless-ipv4-* addresses in a subnet
// when a wait for their release ran out of time.
type ReservationsHeldError struct {
	Subnet    string
	Addresses []string
	Waited    time.Duration
}

func (e *ReservationsHeldError) Error() string {
	return fmt.Sprintf("Cloud Run still holds %d serverless-ipv4 address%s in subnet %s after %s (%s)",
		len(e.Addresses), map[bool]string{true: "", false: "es"}[len(e.Addresses) == 1], e.Subnet, e.Waited.Round(time.Second), strings.Join(e.Addresses, ", "))
}

// WaitSubnetReleased polls a subnet (adaptively, like an operation: at most a tenth of the
// time waited between reads, 10 seconds at most) until Cloud Run holds no serverless-ipv4-*
// address in it, and returns it then. Cloud Run releases them some time after the last
// instance using the subnet is gone (Cloud Run docs, "Direct VPC egress": "IP addresses ...
// are released ... 1 to 2 hours" after). It fails with a *ReservationsHeldError when
// timeout passes first.
func (c *Clients) WaitSubnetReleased(ctx context.Context, ref egress.SubnetRef, timeout time.Duration, opts WaitOptions) (*Subnet, error) {
	start := time.Now()
	for {
		s, err := c.GetSubnet(ctx, ref)
		if err != nil {
			return nil, err
		}
		if len(s.ServerlessAddresses) == 0 && s.ServerlessIPs == 0 {
			return s, nil
		}
		waited := time.Since(start)
		if waited >= timeout {
			return s, &ReservationsHeldError{Subnet: ref.Name, Addresses: s.ServerlessAddresses, Waited: waited}
		}
		opts.progress("Waiting for Cloud Run to release %d serverless-ipv4 address(es) in subnet %s (%s waited, up to %s)...",
			len(s.ServerlessAddresses), ref.Name, waited.Round(time.Second), timeout)
		if err := sleepCtx(ctx, min(pollInterval(waited), timeout-waited)); err != nil {
			return nil, fmt.Errorf("wait for the release of subnet %s's addresses: %w", ref.Name, err)
		}
	}
}

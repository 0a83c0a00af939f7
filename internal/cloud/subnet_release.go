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
	// IPs is how many addresses the reservations hold.
	IPs    int64
	Waited time.Duration
}

func (e *ReservationsHeldError) Error() string {
	return fmt.Sprintf("Cloud Run still holds %s in subnet %s after %s (%s)",
		HeldReservations(len(e.Addresses), e.IPs), e.Subnet, e.Waited.Round(time.Second), strings.Join(e.Addresses, ", "))
}

// HeldReservations says what Cloud Run holds in a subnet, counted as subnet delete's refusal
// counts it: "16 addresses (1 serverless-ipv4 reservation)". A reservation holds a block of
// addresses, so the two numbers differ; saying "1 address" for a /28 block misleads.
func HeldReservations(reservations int, ips int64) string {
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	return fmt.Sprintf("%d %s (%d serverless-ipv4 %s)", ips, plural(ips, "address", "addresses"),
		reservations, plural(int64(reservations), "reservation", "reservations"))
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
			return s, &ReservationsHeldError{Subnet: ref.Name, Addresses: s.ServerlessAddresses, IPs: s.ServerlessIPs, Waited: waited}
		}
		opts.progress("Waiting for Cloud Run to release %s in subnet %s (%s waited, up to %s)...",
			HeldReservations(len(s.ServerlessAddresses), s.ServerlessIPs), ref.Name, waited.Round(time.Second), timeout)
		if err := sleepCtx(ctx, min(pollInterval(waited), timeout-waited)); err != nil {
			return nil, fmt.Errorf("wait for the release of subnet %s's addresses: %w", ref.Name, err)
		}
	}
}

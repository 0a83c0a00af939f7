package world

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/runnet-dev/runnet/pkg/ipam"
)

// Reservation is one /28 block of a subnet held by Cloud Run for Direct VPC egress. Compute
// shows it as an INTERNAL address with purpose SERVERLESS named serverless-ipv4-ID.
type Reservation struct {
	Name    string `json:"name"`    // serverless-ipv4-<id>
	Project string `json:"project"` // project of the subnet
	Region  string `json:"region"`
	Subnet  string `json:"subnet"` // subnet name
	Owner   string `json:"owner"`  // full name of the revision or execution holding it
	Range   string `json:"range"`  // the /28, e.g. 10.8.0.16/28
	// ReleaseAt is when the block is given back; zero while instances hold it.
	ReleaseAt time.Time `json:"releaseAt,omitzero"`
}

// SubnetKey is the state key of the subnet holding r.
func (r *Reservation) SubnetKey() string { return RegionalKey(r.Project, r.Region, r.Subnet) }

// ErrNoFreeBlocks means a subnet has too few free /28 blocks for a reservation.
var ErrNoFreeBlocks = errors.New("insufficient free IP addresses in the subnetwork")

// ReservationsLocked returns the reservations in the subnet with the given key, in name order.
func (w *World) ReservationsLocked(subnetKey string) []*Reservation {
	var out []*Reservation
	for _, k := range SortedKeys(w.S.Reservations) {
		if r := w.S.Reservations[k]; r.SubnetKey() == subnetKey {
			out = append(out, r)
		}
	}
	return out
}

// SubnetBlocksLocked returns how many /28 blocks the subnet offers to Cloud Run and how many are
// reserved now (including blocks waiting to be released).
func (w *World) SubnetBlocksLocked(subnetKey string) (total, reserved int, err error) {
	sn, ok := w.S.Subnetworks[subnetKey]
	if !ok {
		return 0, 0, fmt.Errorf("subnetwork %s not found", subnetKey)
	}
	p, err := ipam.ParsePrefix(sn.IpCidrRange)
	if err != nil {
		return 0, 0, fmt.Errorf("subnetwork %s range: %w", subnetKey, err)
	}
	return ipam.Blocks(p), len(w.ReservationsLocked(subnetKey)), nil
}

// HeldBlocksLocked returns the blocks owner holds in the subnet and has not released.
func (w *World) HeldBlocksLocked(subnetKey, owner string) []*Reservation {
	var out []*Reservation
	for _, r := range w.ReservationsLocked(subnetKey) {
		if r.Owner == owner && r.ReleaseAt.IsZero() {
			out = append(out, r)
		}
	}
	return out
}

// SetHeldBlocksLocked makes owner hold exactly blocks /28 blocks in the subnet: it reserves
// more (failing with ErrNoFreeBlocks, changing nothing, when the subnet has too few) or releases
// the surplus after the configured IP release delay.
func (w *World) SetHeldBlocksLocked(project, region, subnet, owner string, blocks int) error {
	key := RegionalKey(project, region, subnet)
	held := w.HeldBlocksLocked(key, owner)
	if len(held) >= blocks {
		for _, r := range held[blocks:] {
			r.ReleaseAt = w.Now().Add(w.cfg.IPRelease)
		}
		if len(held) > blocks {
			w.MarkChangedLocked()
		}
		return nil
	}
	need := blocks - len(held)
	sn, ok := w.S.Subnetworks[key]
	if !ok {
		return fmt.Errorf("subnetwork %s not found", key)
	}
	p, err := ipam.ParsePrefix(sn.IpCidrRange)
	if err != nil {
		return fmt.Errorf("subnetwork %s range: %w", key, err)
	}
	total := ipam.Blocks(p)
	all := w.ReservationsLocked(key)
	if len(all)+need > total {
		return fmt.Errorf("%w: %d /28 blocks needed, %d of %d free", ErrNoFreeBlocks, need, total-len(all), total)
	}
	used := map[netip.Addr]bool{}
	for _, r := range all {
		if rp, err := netip.ParsePrefix(r.Range); err == nil {
			used[rp.Addr()] = true
		}
	}
	// Blocks are handed out from the top of the range down, away from the gateway end where
	// VMs usually sit; the number that fit is what ipam.Blocks allows.
	size := int(ipam.Size(p))
	base := p.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for i := size/ipam.DirectVPCBlockSize - 1; i >= 0 && need > 0; i-- {
		v := start + uint32(i*ipam.DirectVPCBlockSize)
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if used[a] {
			continue
		}
		name := fmt.Sprintf("serverless-ipv4-%d", w.NextIDLocked())
		w.S.Reservations[name] = &Reservation{
			Name: name, Project: project, Region: region, Subnet: subnet, Owner: owner,
			Range: netip.PrefixFrom(a, 28).String(),
		}
		need--
	}
	w.MarkChangedLocked()
	return nil
}

// ReleaseOwnerLocked schedules every block owner holds, in any subnet, for release after the
// configured IP release delay (instances stopped).
func (w *World) ReleaseOwnerLocked(owner string) {
	at := w.Now().Add(w.cfg.IPRelease)
	for _, r := range w.S.Reservations {
		if r.Owner == owner && r.ReleaseAt.IsZero() {
			r.ReleaseAt = at
			w.MarkChangedLocked()
		}
	}
}

// ExpireReservationsLocked releases at once every block already scheduled for release, as if
// the IP release delay had passed. It returns how many were released.
func (w *World) ExpireReservationsLocked() int {
	n := 0
	for k, r := range w.S.Reservations {
		if !r.ReleaseAt.IsZero() {
			delete(w.S.Reservations, k)
			n++
		}
	}
	if n > 0 {
		w.MarkChangedLocked()
	}
	return n
}

func (w *World) expireReservationsLocked(now time.Time) bool {
	changed := false
	for k, r := range w.S.Reservations {
		if !r.ReleaseAt.IsZero() && !r.ReleaseAt.After(now) {
			delete(w.S.Reservations, k)
			changed = true
		}
	}
	return changed
}

func (w *World) nextReleaseLocked() (time.Time, bool) {
	var times []time.Time
	for _, r := range w.S.Reservations {
		if !r.ReleaseAt.IsZero() {
			times = append(times, r.ReleaseAt)
		}
	}
	if len(times) == 0 {
		return time.Time{}, false
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times[0], true
}

package migration

import (
	"context"
	"fmt"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// What a migration changes in the network before it switches a workload: Private Google
// Access on the target subnetwork (--enable-private-google-access). *cloud.Clients implements
// NetworkChanger.

// NetworkChanger changes subnetworks' settings.
type NetworkChanger interface {
	SetPrivateGoogleAccess(ctx context.Context, ref egress.SubnetRef, on bool, opts cloud.WaitOptions) error
}

// NetworkOptions are the network choices of a migration that the checks weigh.
type NetworkOptions struct {
	// KeepEgressIP makes nat-egress-ip fail, rather than warn, when the internet would see
	// other source addresses.
	KeepEgressIP bool
	// EnablePrivateGoogleAccess turns Private Google Access on on the target subnetwork
	// before the switch, when it is off.
	EnablePrivateGoogleAccess bool
}

// applyNetworkOptions records the options in the facts, before the checks run.
func (o NetworkOptions) applyTo(f *egress.Facts) {
	f.KeepEgressIP = o.KeepEgressIP
	f.EnablePrivateGoogleAccess = o.EnablePrivateGoogleAccess
}

// needsPrivateGoogleAccess returns the target subnetwork of m when the migration is to turn
// Private Google Access on on it.
func (o NetworkOptions) needsPrivateGoogleAccess(m *Migration) (egress.SubnetRef, bool) {
	if !o.EnablePrivateGoogleAccess || m.Facts == nil || m.Target.Mode() != egress.ModeDirect {
		return egress.SubnetRef{}, false
	}
	s := m.Facts.Subnet
	if s == nil || !s.Exists || s.PrivateGoogleAccess {
		return egress.SubnetRef{}, false
	}
	ref, err := egress.ParseSubnetRef(m.Target.Subnet, m.Ref.Project, m.Ref.Region)
	return ref, err == nil
}

// enablePrivateGoogleAccess turns Private Google Access on on the target subnetworks of the
// runnable migrations that need it, once per subnetwork, and returns those it turned on; a
// migration whose subnetwork could not be changed fails without running.
func (fl *Fleet) enablePrivateGoogleAccess(ctx context.Context, ms []*Migration) map[egress.SubnetRef]bool {
	on := map[egress.SubnetRef]bool{}
	e := fl.E
	bySubnet := map[egress.SubnetRef][]*Migration{}
	var order []egress.SubnetRef
	for _, m := range ms {
		if !m.Runnable() {
			continue
		}
		ref, ok := fl.Network.needsPrivateGoogleAccess(m)
		if !ok {
			continue
		}
		if _, seen := bySubnet[ref]; !seen {
			order = append(order, ref)
		}
		bySubnet[ref] = append(bySubnet[ref], m)
	}
	for _, ref := range order {
		if e.Net == nil {
			for _, m := range bySubnet[ref] {
				m.failed(fmt.Errorf("turn Private Google Access on on subnet %s: no way to change subnetworks", ref.Name))
			}
			continue
		}
		e.progress(egress.WorkloadRef{}, egress.Plain(fmt.Sprintf("Turning Private Google Access on for subnet %s...", ref.Name)))
		if err := e.Net.SetPrivateGoogleAccess(ctx, ref, true, e.waitOptions()); err != nil {
			for _, m := range bySubnet[ref] {
				m.failed(fmt.Errorf("turn Private Google Access on on subnet %s: %w", ref.Name, err))
			}
			continue
		}
		e.info(egress.Plain(fmt.Sprintf("Private Google Access is on for subnet %s", ref.Name)))
		on[ref] = true
	}
	return on
}

// notePrivateGoogleAccessKept tells each migration that did not complete that the Private
// Google Access it turned on stays on: a rollback restores the workload, not the subnet's
// setting (which only lets the subnet's VMs and workloads reach Google APIs privately, and
// may have been wanted by others since).
func notePrivateGoogleAccessKept(ms []*Migration, on map[egress.SubnetRef]bool) {
	for _, m := range ms {
		if m.Result == nil || m.Result.Outcome == egress.OutcomeMigrated || m.Target.Mode() != egress.ModeDirect {
			continue
		}
		ref, err := egress.ParseSubnetRef(m.Target.Subnet, m.Ref.Project, m.Ref.Region)
		if err != nil || !on[ref] {
			continue
		}
		m.Notes = append(m.Notes, egress.Plain(fmt.Sprintf("Private Google Access, turned on for subnet %s before the switch, stays on; to turn it off: gcloud compute networks subnets update %s --project %s --region %s --no-enable-private-ip-google-access",
			ref.Name, ref.Name, ref.Project, ref.Region)))
	}
}

package cloud

import (
	"errors"
	"testing"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// Every resource name is checked before it reaches a request: path tricks are refused by
// runnet itself, and the emulator sees no call at all.
func TestNamesCheckedBeforeAnyCall(t *testing.T) {
	ctx := testCtx(t)
	e, c := newEmulator(t, emulator.SeedDemo)
	p := &Platform{C: c}
	badNames := []string{"../x", "a/b", "a%2Fb", "x?y=1", "x#y", "", "UPPER", "..", "a b", "x\x00"}
	badProjects := []string{"../demo-project", "demo-project/../x", "demo%2Fproject", "", "demo-project?x"}
	badRegions := []string{"../asia-northeast1", "asia-northeast1/x", "asia%2Fnortheast1", ""}
	var calls []func() error
	for _, n := range badNames {
		svc := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: n}
		conn := egress.ConnectorRef{Project: tProject, Region: tRegion, Name: n}
		sub := egress.SubnetRef{Project: tProject, Region: tRegion, Name: n}
		calls = append(calls,
			func() error { _, err := c.GetWorkload(ctx, svc); return err },
			func() error { _, err := c.TestWorkloadPermissions(ctx, svc, []string{"run.services.get"}); return err },
			func() error { _, err := c.GetConnector(ctx, conn); return err },
			func() error {
				_, err := c.CreateConnector(ctx, ConnectorSpec{Ref: conn, Network: "run-vpc", IPCIDRRange: "10.9.0.0/28"}, WaitOptions{})
				return err
			},
			func() error { return c.DeleteConnector(ctx, conn, WaitOptions{}) },
			func() error { _, err := c.GetSubnet(ctx, sub); return err },
			func() error {
				_, err := c.CreateSubnet(ctx, SubnetSpec{Ref: sub, Network: "run-vpc", IPCIDRRange: "10.9.0.0/24"}, WaitOptions{})
				return err
			},
			func() error { return c.DeleteSubnet(ctx, sub, WaitOptions{}) },
			func() error { _, err := c.GetNetwork(ctx, egress.NetworkRef{Project: tProject, Name: n}); return err },
			func() error {
				_, err := p.RunExecution(ctx, egress.WorkloadRef{Kind: egress.KindJob, Project: tProject, Region: tRegion, Name: n})
				return err
			},
			func() error {
				_, err := p.RevisionCondition(ctx, egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: "run-service"}, n)
				return err
			},
		)
	}
	for _, pr := range badProjects {
		calls = append(calls,
			func() error { _, err := c.ListWorkloads(ctx, pr, tRegion); return err },
			func() error { _, err := c.ListConnectors(ctx, pr, tRegion); return err },
			func() error { _, err := c.ListConnectorsAllRegions(ctx, pr); return err },
			func() error { _, err := c.ListNetworks(ctx, pr); return err },
			func() error { _, err := c.ListSubnets(ctx, pr, tRegion); return err },
			func() error { _, err := c.ListSubnetsAllRegions(ctx, pr); return err },
			func() error { _, err := c.ListAddresses(ctx, pr, tRegion); return err },
			func() error { _, err := c.ListRouters(ctx, pr, tRegion); return err },
			func() error { _, err := c.ListFirewalls(ctx, pr, ""); return err },
			func() error { _, _, err := c.NetworkRanges(ctx, pr, "run-vpc"); return err },
			func() error { _, _, err := c.RunRegions(ctx, pr); return err },
			func() error { _, errs := c.ScanWorkloads(ctx, pr, tRegion); return errors.Join(errs...) },
			func() error {
				_, err := c.GetWorkload(ctx, egress.WorkloadRef{Kind: egress.KindService, Project: pr, Region: tRegion, Name: "run-service"})
				return err
			},
		)
	}
	for _, r := range badRegions {
		calls = append(calls,
			func() error { _, err := c.ListWorkloads(ctx, tProject, r); return err },
			func() error { _, err := c.ListConnectors(ctx, tProject, r); return err },
			func() error { _, err := c.ListSubnets(ctx, tProject, r); return err },
			func() error {
				_, err := c.GetSubnet(ctx, egress.SubnetRef{Project: tProject, Region: r, Name: "s"})
				return err
			},
		)
	}
	e.ResetCalls()
	for i, call := range calls {
		if err := call(); err == nil {
			t.Errorf("call %d: no error", i)
		}
	}
	if n := e.Calls(); len(n) != 0 {
		t.Errorf("the emulator was called: %v", n)
	}
}

package cli

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// docs/permissions.md lists the IAM permissions each command needs. This test keeps it true:
// it runs each command against the emulator, maps every API call it made to the permission
// the API checks, and requires the command's row in the document to name each of them.

// methodPermissions maps an API method (as the emulator names it) to the IAM permission it
// needs; "" for none (testIamPermissions needs no permission of its own on Cloud Run).
var methodPermissions = map[string]string{
	"google.cloud.run.v2.Services/GetService":          "run.services.get",
	"google.cloud.run.v2.Services/ListServices":        "run.services.list",
	"google.cloud.run.v2.Services/UpdateService":       "run.services.update",
	"google.cloud.run.v2.Services/TestIamPermissions":  "",
	"google.cloud.run.v2.Revisions/GetRevision":        "run.revisions.get",
	"google.cloud.run.v2.Revisions/ListRevisions":      "run.revisions.list",
	"google.cloud.run.v2.Jobs/GetJob":                  "run.jobs.get",
	"google.cloud.run.v2.Jobs/ListJobs":                "run.jobs.list",
	"google.cloud.run.v2.Jobs/UpdateJob":               "run.jobs.update",
	"google.cloud.run.v2.Jobs/RunJob":                  "run.jobs.run",
	"google.cloud.run.v2.Jobs/TestIamPermissions":      "",
	"google.cloud.run.v2.Executions/GetExecution":      "run.executions.get",
	"google.cloud.run.v2.WorkerPools/GetWorkerPool":    "run.workerpools.get",
	"google.cloud.run.v2.WorkerPools/ListWorkerPools":  "run.workerpools.list",
	"google.cloud.run.v2.WorkerPools/UpdateWorkerPool": "run.workerpools.update",
	"google.longrunning.Operations/WaitOperation":      "run.operations.get",
	"google.longrunning.Operations/GetOperation":       "vpcaccess.operations.get",
	// Both Cloud Run (inventory) and VPC Access (connector lists across regions) list
	// locations; each needs its own.
	"google.cloud.location.Locations/ListLocations":              "run.locations.list|vpcaccess.locations.list",
	"google.cloud.vpcaccess.v1.VpcAccessService/GetConnector":    "vpcaccess.connectors.get",
	"google.cloud.vpcaccess.v1.VpcAccessService/ListConnectors":  "vpcaccess.connectors.list",
	"google.cloud.vpcaccess.v1.VpcAccessService/CreateConnector": "vpcaccess.connectors.create",
	"google.cloud.vpcaccess.v1.VpcAccessService/DeleteConnector": "vpcaccess.connectors.delete",
	"vpcaccess.projects.locations.connectors.patch":              "vpcaccess.connectors.update",
	"google.monitoring.v3.MetricService/ListTimeSeries":          "monitoring.timeSeries.list",
	// The Billing Catalog is public: any credential reads it, with no IAM permission.
	"cloudbilling.services.skus.list":                             "",
	"compute.networks.get":                                        "compute.networks.get",
	"compute.networks.list":                                       "compute.networks.list",
	"compute.subnetworks.get":                                     "compute.subnetworks.get",
	"compute.projects.getXpnResources":                            "compute.projects.get",
	"compute.subnetworks.list":                                    "compute.subnetworks.list",
	"compute.subnetworks.aggregatedList":                          "compute.subnetworks.list",
	"compute.subnetworks.insert":                                  "compute.subnetworks.create",
	"compute.subnetworks.delete":                                  "compute.subnetworks.delete",
	"compute.subnetworks.testIamPermissions":                      "compute.subnetworks.list",
	"compute.addresses.list":                                      "compute.addresses.list",
	"compute.addresses.aggregatedList":                            "compute.addresses.list",
	"compute.firewalls.list":                                      "compute.firewalls.list",
	"compute.routers.list":                                        "compute.routers.list",
	"compute.routers.aggregatedList":                              "compute.routers.list",
	"compute.regionOperations.wait":                               "compute.regionOperations.get",
	"compute.regionOperations.get":                                "compute.regionOperations.get",
	"compute.globalOperations.wait":                               "compute.globalOperations.get",
	"compute.projects.get":                                        "compute.projects.get",
	"compute.regionNetworkFirewallPolicies.getEffectiveFirewalls": "compute.networks.getRegionEffectiveFirewalls",
	"compute.subnetworks.setPrivateIpGoogleAccess":                "compute.subnetworks.setPrivateIpGoogleAccess",
	"serviceusage.services.consumerQuotaMetrics.list":             "serviceusage.quotas.get",
	"google.cloud.run.v2.Jobs/CreateJob":                          "run.jobs.create",
	"google.cloud.run.v2.Jobs/DeleteJob":                          "run.jobs.delete",
}

func TestPermissionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/permissions.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(cmd string) string {
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "| `"+cmd+"`") {
				return line
			}
		}
		return ""
	}
	er := newEmu(t)
	// A destination on-premises that the --probe-tcp job below reaches.
	if err := er.E.AddVPNRoute(tProject, tRegion, emulator.DemoNetwork, "to-onprem", "192.168.10.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := er.E.SetDestination(emulator.Destination{Name: "onprem-db", IP: "192.168.10.5", Port: 5432, Project: tProject, Network: emulator.DemoNetwork}); err != nil {
		t.Fatal(err)
	}
	// Each command, as a user runs it, in an order that leaves the world ready for the next.
	cmds := []struct {
		doc  string // the command's row in docs/permissions.md
		args []string
	}{
		{"runnet status", []string{"status"}},
		{"runnet inventory", []string{"inventory", "--regions", "all"}},
		{"runnet export", []string{"export", "run-service", "--as", "terraform"}},
		{"runnet subnet list", []string{"subnet", "list"}},
		{"runnet subnet describe", []string{"subnet", "describe", "run-direct-vpc-egress"}},
		{"runnet subnet create", []string{"subnet", "create", "extra", "--network", "run-vpc", "--range", "auto", "--yes"}},
		{"runnet subnet delete", []string{"subnet", "delete", "extra", "--yes"}},
		{"runnet connector list", []string{"connector", "list"}},
		{"runnet connector describe", []string{"connector", "describe", "run-connector"}},
		{"runnet connector users", []string{"connector", "users", "run-connector"}},
		{"runnet connector update", []string{"connector", "update", "run-connector", "--max-instances", "4"}},
		{"runnet connector create", []string{"connector", "create", "spare", "--range", "10.16.0.0/28", "--network", "run-vpc", "--yes"}},
		{"runnet connector delete", []string{"connector", "delete", "spare", "--yes"}},
		{"runnet attach", []string{"attach", "job/nightly-export", "--network", "run-vpc", "--subnet", "run-direct-vpc-egress", "--yes"}},
		{"runnet detach", []string{"detach", "job/nightly-export", "--yes"}},
		{"runnet connector recycle", []string{"connector", "recycle", "run-connector", "--create-subnet", "--yes"}},
		{"runnet migrate", []string{"migrate", "job/nightly-export", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--verify", "--yes"}},
		{"runnet migrate", []string{"migrate", "run-service", "--to", "direct", "--subnet", "run-direct-vpc-egress", "--canary", "10,100", "--step-wait", "100ms", "--probe-tcp", "192.168.10.5:5432", "--yes"}},
		{"runnet migrate", []string{"migrate", "run-service", "--to", "direct", "--network", "run-vpc", "--create-subnet", "--cleanup", "--yes"}},
		{"runnet migrate --resume", []string{"migrate", "--resume", "run-service", "--yes"}},
	}
	for _, c := range cmds {
		line := row(c.doc)
		if line == "" {
			t.Errorf("docs/permissions.md has no row for %s", c.doc)
			continue
		}
		er.E.ResetCalls()
		r := er.Run(t, false, "", append(c.args, "--format", "json")...)
		if r.Code != exitcode.OK {
			t.Errorf("%s: exit %d: %s", strings.Join(c.args, " "), r.Code, r.Stderr)
			continue
		}
		var need []string
		for m := range er.E.Calls() {
			p, ok := methodPermissions[m]
			if !ok {
				t.Errorf("%s calls %s, which methodPermissions does not know", c.doc, m)
				continue
			}
			if p == "" {
				continue
			}
			alternatives := strings.Split(p, "|")
			if !slices.ContainsFunc(alternatives, func(p string) bool { return strings.Contains(line, "`"+p+"`") }) {
				need = append(need, p)
			}
		}
		sort.Strings(need)
		if len(need) > 0 {
			t.Errorf("docs/permissions.md: the row of %s (%s) lacks %s", c.doc, strings.Join(c.args, " "), strings.Join(need, ", "))
		}
	}
}

package egressmap

import (
	"fmt"
)

// fleetMap is a world of 3 projects, 2 connectors and 30 workloads: shop-prod hosts a Shared
// VPC with a connector that its own workloads and shop-staging's use, and a Direct VPC subnet
// half of its services already moved to; data-platform has its own connector and a /26 that
// its jobs would outgrow.
func fleetMap() Map {
	const (
		region   = "asia-northeast1"
		shopConn = "projects/shop-prod/locations/asia-northeast1/connectors/shop-connector"
		shopNet  = "shared-vpc"
		shopSub  = "projects/shop-prod/regions/asia-northeast1/subnetworks/shop-direct"
		etlConn  = "projects/data-platform/locations/asia-northeast1/connectors/etl-connector"
		etlSub   = "projects/data-platform/regions/asia-northeast1/subnetworks/etl-direct"
	)
	cost, savings, inst, mbps := Money{24.53, "USD"}, Money{24.53, "USD"}, 3, 41.5
	unchecked := []string{"cloud-nat", "firewall-rules", "permissions"}
	w := func(project, kind, name, mode, via string, max int, state State) Workload {
		ref := name
		if kind != "service" {
			ref = kind + "/" + name
		}
		wl := Workload{
			Key: "projects/" + project + "/locations/" + region + "/" + kind + "s/" + name, Kind: kind, Name: name, Ref: ref,
			Region: region, Mode: mode, Via: via, MaxScale: max, State: state,
		}
		if mode != "none" {
			wl.Egress = "private-ranges-only"
		}
		if mode == "connector" {
			wl.Unchecked = unchecked
		}
		return wl
	}
	var prod, staging, data []Workload
	for i := range 6 {
		prod = append(prod, w("shop-prod", "service", fmt.Sprintf("storefront-%d", i+1), "direct", shopSub, 10+2*i, Migrated))
	}
	for i := range 4 {
		prod = append(prod, w("shop-prod", "service", fmt.Sprintf("checkout-%d", i+1), "connector", shopConn, 20, ToMigrate))
	}
	prod = append(prod, w("shop-prod", "job", "invoice-batch", "connector", shopConn, 4, ToMigrate))
	blocked := w("shop-prod", "service", "payments-gateway", "connector", shopConn, 40, Blocked)
	blocked.Egress = "all-traffic"
	blocked.Failing = []Check{{Name: "cloud-nat", Status: "fail",
		Message: "egress all-traffic: no Cloud NAT in network shared-vpc, region asia-northeast1 covers the subnet's range",
		Hint:    "create a Cloud NAT for the subnet, or keep --egress private-ranges-only"}}
	blocked.Unchecked = []string{"firewall-rules", "permissions"}
	prod = append(prod, blocked)

	for i := range 6 {
		staging = append(staging, w("shop-staging", "service", fmt.Sprintf("storefront-preview-%d", i+1), "connector", shopConn, 3, ToMigrate))
	}
	huge := w("shop-staging", "service", "load-test", "connector", shopConn, 250, Blocked)
	huge.Failing = []Check{{Name: "direct-vpc-quota", Status: "warn",
		Message: "max 250 instances exceeds the default Direct VPC egress quota of 100 per revision (some regions allow 200; yours was not looked up)",
		Hint:    "lower the maximum instances to 100 or request a quota increase for Direct VPC egress in asia-northeast1"},
		{Name: "free-ips", Status: "fail",
			Message: "needs 64 /28 blocks (2 IPs × 250 instances = 500 IPs → 32 blocks, ×2 for rollout overlap), subnet 10.20.0.0/22 has 63 blocks: 19 free is not enough even at steady state (45)",
			Hint:    "use a /21 or larger subnetwork (127 blocks; see runnet subnet plan --max-instances 250)"}}
	staging = append(staging, huge)
	for _, n := range []string{"docs-site", "status-page", "feature-flags"} {
		staging = append(staging, w("shop-staging", "service", n, "none", "", 5, NoVPC))
	}

	for i := range 5 {
		data = append(data, w("data-platform", "job", fmt.Sprintf("etl-stage-%d", i+1), "connector", etlConn, 2, ToMigrate))
	}
	big := w("data-platform", "job", "backfill", "connector", etlConn, 40, Blocked)
	big.Failing = []Check{{Name: "free-ips", Status: "fail",
		Message: "needs 16 /28 blocks (2 IPs × 40 instances = 80 IPs → 5 blocks, ×2 for rollout overlap; + 5 blocks for 5 other workloads sharing the subnet at max scale), subnet 10.40.0.0/26 has 3 blocks: 3 free is not enough even at steady state (10)",
		Hint:    "use a /24 or larger subnetwork (15 blocks; see runnet subnet plan --max-instances 40)"}}
	data = append(data, big)
	for _, n := range []string{"ingest-pool", "scorer-pool"} {
		data = append(data, w("data-platform", "workerpool", n, "none", "", 1, NoVPC))
	}

	return Map{
		Title:    "Egress map of shop-prod, shop-staging and data-platform",
		Subtitle: "region asia-northeast1",
		Projects: []Project{
			{ID: "shop-staging", Workloads: staging},
			{ID: "data-platform", Workloads: data,
				Connectors: []Connector{{Key: etlConn, Name: "etl-connector", Region: region, Network: "etl-vpc", APIState: "READY",
					MachineType: "e2-standard-4", MinInstances: 3, MaxInstances: 10, State: InUse, Target: etlSub}},
				Subnets: []Subnet{{Key: etlSub, Name: "etl-direct", Region: region, Network: "etl-vpc", CIDR: "10.40.0.0/26",
					Size: 64, Usable: 60, Blocks: 3, ReservedIPs: 0, MaxScaleIPs: 0, PlannedIPs: 80, RolloutIPs: 96, State: Candidate}},
			},
			{ID: "shop-prod", Workloads: prod,
				Connectors: []Connector{{Key: shopConn, Name: "shop-connector", Region: region, Network: shopNet, APIState: "READY",
					MachineType: "e2-micro", MinInstances: 2, MaxInstances: 10, State: InUse, Target: shopSub,
					Use: Use{MonthlyCost: &cost, Instances: &inst, ThroughputMbps: &mbps, MonthlySavings: &savings, Source: "the fixture's price list"}}},
				Subnets: []Subnet{{Key: shopSub, Name: "shop-direct", Region: region, Network: shopNet, CIDR: "10.20.0.0/22",
					Size: 1024, Usable: 1020, Blocks: 63, ReservedIPs: 96, MaxScaleIPs: 224, PlannedIPs: 528, RolloutIPs: 576, State: Fits}},
			},
		},
		Commands: []Command{
			{Connector: shopConn, Workloads: keys(prod[6:11]),
				Why:    "Moves 5 workloads of shop-prod off connector shop-connector to subnet shop-direct (payments-gateway stays: a check fails).",
				Line:   "runnet migrate checkout-1 checkout-2 checkout-3 checkout-4 job/invoice-batch --to direct --subnet shop-direct --project shop-prod --region asia-northeast1",
				DryRun: "runnet migrate checkout-1 checkout-2 checkout-3 checkout-4 job/invoice-batch --to direct --subnet shop-direct --project shop-prod --region asia-northeast1 --dry-run"},
			{Connector: shopConn, Workloads: keys(staging[:6]),
				Why:    "Moves 6 workloads of shop-staging off connector shop-connector to subnet shop-direct (load-test stays: a check fails).",
				Line:   "runnet migrate storefront-preview-1 storefront-preview-2 storefront-preview-3 storefront-preview-4 storefront-preview-5 storefront-preview-6 --to direct --subnet projects/shop-prod/regions/asia-northeast1/subnetworks/shop-direct --project shop-staging --region asia-northeast1",
				DryRun: "runnet migrate storefront-preview-1 storefront-preview-2 storefront-preview-3 storefront-preview-4 storefront-preview-5 storefront-preview-6 --to direct --subnet projects/shop-prod/regions/asia-northeast1/subnetworks/shop-direct --project shop-staging --region asia-northeast1 --dry-run"},
			{Connector: etlConn, Workloads: keys(data[:5]),
				Why:    "Moves 5 workloads of data-platform off connector etl-connector to subnet etl-direct (backfill stays: a check fails).",
				Line:   "runnet migrate job/etl-stage-1 job/etl-stage-2 job/etl-stage-3 job/etl-stage-4 job/etl-stage-5 --to direct --subnet etl-direct --project data-platform --region asia-northeast1",
				DryRun: "runnet migrate job/etl-stage-1 job/etl-stage-2 job/etl-stage-3 job/etl-stage-4 job/etl-stage-5 --to direct --subnet etl-direct --project data-platform --region asia-northeast1 --dry-run"},
		},
		Findings: []Finding{{Severity: "warning", Kind: "subnet-tight", Message: "subnet etl-direct would be tight after the planned migrations"}},
		Notes:    []string{"Checks not run from the inventory: cloud-nat, firewall-rules, permissions; the dry runs run them."},
	}
}

func keys(ws []Workload) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Key
	}
	return out
}

// trickyMap has names with every character the renderings must escape: quotes, brackets,
// pipes, hashes, angle brackets, backslashes, newlines, a reserved word and non-ASCII text.
func trickyMap() Map {
	conn := `projects/p"1/locations/r/connectors/c[1]`
	sub := `projects/p"1/regions/r/subnetworks/s{x}|y`
	return Map{
		Title:    `Tricky "map" <b>bold</b> & #35; end`,
		Subtitle: "line one\nline two \\n",
		Projects: []Project{{
			ID: `p"1`,
			Connectors: []Connector{{Key: conn, Name: `c[1]`, Region: "r", APIState: "READY", MachineType: "e2-micro",
				MinInstances: 2, MaxInstances: 3, State: InUse, Target: sub}},
			Subnets: []Subnet{{Key: sub, Name: `s{x}|y`, Region: "r", CIDR: "10.0.0.0/26", Size: 64, Usable: 60, Blocks: 3,
				ReservedIPs: 16, MaxScaleIPs: 16, PlannedIPs: 48, RolloutIPs: 64, State: Candidate}},
			Workloads: []Workload{
				{Key: "w1", Kind: "service", Name: "end", Ref: "end", Region: "r", Mode: "connector", Egress: "all-traffic", Via: conn, MaxScale: 3, State: ToMigrate},
				{Key: "w2", Kind: "service", Name: "café-東京", Ref: "café-東京", Region: "r", Mode: "direct", Egress: "private-ranges-only", Via: sub, MaxScale: 1, State: Migrated},
				{Key: "w3", Kind: "job", Name: `<script>alert("x")</script>`, Ref: `job/<script>alert("x")</script>`, Region: "r", Mode: "connector",
					Egress: "private-ranges-only", Via: conn, MaxScale: 1, State: Blocked,
					Failing: []Check{{Name: "free-ips", Status: "fail", Message: `needs "more" <blocks> & \ more`, Hint: "`use` a /24"}}},
				{Key: "w4", Kind: "service", Name: "a-b", Ref: "a-b", Region: "r", Mode: "none", State: NoVPC},
				{Key: "w5", Kind: "service", Name: "a_b", Ref: "a_b", Region: "r", Mode: "none", State: NoVPC},
			},
		}},
		Commands: []Command{{Connector: conn, Workloads: []string{"w1"}, Why: `Moves "end" <now>`,
			Line: `runnet migrate end --to direct --subnet 's{x}|y'`, DryRun: `runnet migrate end --to direct --subnet 's{x}|y' --dry-run`}},
		Findings: []Finding{{Severity: "error", Kind: "x<y", Message: `<img src=x onerror="alert(1)">`}},
	}
}

package world

import (
	"net/netip"

	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"sort"
	"strings"
)

// Regions are the Google Cloud regions the emulator knows, with the primary range Compute gives
// an auto-mode network's subnet there (Compute docs: "Auto mode IPv4 ranges"). Cloud Run, VPC
// Access and Compute reject other region names.
var Regions = map[string]string{
	"asia-east1":              "10.140.0.0/20",
	"asia-east2":              "10.170.0.0/20",
	"asia-northeast1":         "10.146.0.0/20",
	"asia-northeast2":         "10.174.0.0/20",
	"asia-northeast3":         "10.178.0.0/20",
	"asia-south1":             "10.160.0.0/20",
	"asia-south2":             "10.190.0.0/20",
	"asia-southeast1":         "10.148.0.0/20",
	"asia-southeast2":         "10.184.0.0/20",
	"australia-southeast1":    "10.152.0.0/20",
	"australia-southeast2":    "10.192.0.0/20",
	"europe-central2":         "10.186.0.0/20",
	"europe-north1":           "10.166.0.0/20",
	"europe-southwest1":       "10.204.0.0/20",
	"europe-west1":            "10.132.0.0/20",
	"europe-west2":            "10.154.0.0/20",
	"europe-west3":            "10.156.0.0/20",
	"europe-west4":            "10.164.0.0/20",
	"europe-west6":            "10.172.0.0/20",
	"europe-west8":            "10.198.0.0/20",
	"europe-west9":            "10.200.0.0/20",
	"me-central1":             "10.212.0.0/20",
	"me-west1":                "10.208.0.0/20",
	"northamerica-northeast1": "10.162.0.0/20",
	"northamerica-northeast2": "10.188.0.0/20",
	"southamerica-east1":      "10.158.0.0/20",
	"southamerica-west1":      "10.194.0.0/20",
	"us-central1":             "10.128.0.0/20",
	"us-east1":                "10.142.0.0/20",
	"us-east4":                "10.150.0.0/20",
	"us-east5":                "10.202.0.0/20",
	"us-south1":               "10.206.0.0/20",
	"us-west1":                "10.138.0.0/20",
	"us-west2":                "10.168.0.0/20",
	"us-west3":                "10.180.0.0/20",
	"us-west4":                "10.182.0.0/20",
}

// IsRegion reports whether name is a region the emulator knows.
func IsRegion(name string) bool { _, ok := Regions[name]; return ok }

// RegionNames returns the known regions in order.
func RegionNames() []string { return SortedKeys(Regions) }

// NetworkRange is an IPv4 range in use somewhere in a VPC network.
type NetworkRange struct {
	Prefix netip.Prefix
	// Owner says what holds it, e.g. "subnetwork 'run-subnet' in region 'asia-northeast1'".
	Kind   string // "subnetwork", "secondary range" or "connector"
	Name   string // subnetwork or connector name
	Region string
}

// NetworkName returns the short name of a network given as a name, a partial path
// (projects/P/global/networks/N) or a full URL.
func NetworkName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// NetworkRangesLocked returns every IPv4 range used in the project's network (VPC-wide: every
// region), from subnetworks (primary and secondary ranges) and from connectors created with an
// ip_cidr_range (their hidden subnet), sorted by address.
func (w *World) NetworkRangesLocked(project, network string) []NetworkRange {
	var out []NetworkRange
	for k, sn := range w.S.Subnetworks {
		if !strings.HasPrefix(k, project+"/") || NetworkName(sn.Network) != network {
			continue
		}
		if p, err := netip.ParsePrefix(sn.IpCidrRange); err == nil {
			out = append(out, NetworkRange{Prefix: p, Kind: "subnetwork", Name: sn.Name, Region: NetworkName(sn.Region)})
		}
		for _, r := range sn.SecondaryIpRanges {
			if p, err := netip.ParsePrefix(r.IpCidrRange); err == nil {
				out = append(out, NetworkRange{Prefix: p, Kind: "secondary range", Name: sn.Name, Region: NetworkName(sn.Region)})
			}
		}
	}
	for name, c := range w.S.Connectors {
		// projects/P/locations/L/connectors/C
		parts := strings.Split(name, "/")
		// A connector in ERROR never got its hidden subnet, so its range is free.
		if len(parts) != 6 || parts[1] != project || c.GetIpCidrRange() == "" || NetworkName(c.GetNetwork()) != network ||
			c.GetState() == vpcaccesspb.Connector_ERROR {
			continue
		}
		if p, err := netip.ParsePrefix(c.GetIpCidrRange()); err == nil {
			out = append(out, NetworkRange{Prefix: p, Kind: "connector", Name: parts[5], Region: parts[3]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix.Addr().Less(out[j].Prefix.Addr()) })
	return out
}

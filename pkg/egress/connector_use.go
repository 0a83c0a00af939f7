package egress

import (
	"fmt"
	"math"
	"strconv"
)

// What a Serverless VPC Access connector carries, what it needs, and what it costs. The
// figures come from the caller (Cloud Monitoring for instances and bytes, the Cloud Billing
// Catalog for prices); this file holds the platform facts and the arithmetic.

// connectorInstanceMbps is the throughput one connector instance carries, per machine type.
// Source: VPC docs, "Serverless VPC Access", Throughput and scaling: the estimated throughput
// of a connector of 2 to 10 instances is 100-500 Mbps for f1-micro, 200-1000 Mbps for
// e2-micro and 3200-16000 Mbps for e2-standard-4, so 50, 100 and 1600 Mbps an instance. The
// API's deprecated throughput fields agree for e2-micro ("Refers to the expected throughput
// when using an e2-micro machine type": min 200 for 2 instances, max 1000 for 10).
var connectorInstanceMbps = map[string]float64{"f1-micro": 50, "e2-micro": 100, "e2-standard-4": 1600}

// ConnectorThroughputSource names where ConnectorInstanceMbps comes from, for output.
const ConnectorThroughputSource = "VPC docs, Serverless VPC Access, throughput and scaling (f1-micro 50, e2-micro 100, e2-standard-4 1600 Mbps an instance)"

// ConnectorInstanceMbps returns the throughput one instance of machineType carries; ok is
// false for a machine type connectors do not use.
func ConnectorInstanceMbps(machineType string) (mbps float64, ok bool) {
	mbps, ok = connectorInstanceMbps[machineType]
	return mbps, ok
}

// ConnectorMinInstancesFloor is the fewest instances a connector may run. Source: VPC Access
// API, "Connector minimum instances must be between 2 and 9."
const ConnectorMinInstancesFloor = 2

// HoursPerMonth is the month Google's price lists use: 730 hours. Source: Compute Engine
// docs, "VM instance pricing" ("monthly estimates ... based on 730 hours").
const HoursPerMonth = 730

// ConnectorLoad is what a connector runs and carries over a window.
type ConnectorLoad struct {
	MachineType  string
	MinInstances int
	MaxInstances int
	// CurrentInstances and PeakInstances are the instances running now and the most over the
	// window; 0 when unknown.
	CurrentInstances int
	PeakInstances    int
	// PeakMbps is the most traffic (sent plus received) it carried over the window.
	PeakMbps float64
	// Window describes the window, for messages ("7 days").
	Window string
}

// ConnectorSizing is whether a connector runs more than its traffic needs.
type ConnectorSizing struct {
	// Oversized is set when the connector runs more instances than its peak needs. A smaller
	// machine type is not proposed: the only one below e2-standard-4 that connectors take,
	// e2-micro (and f1-micro), is what the connector-machine-type check warns against
	// (SlowConnectorMachineTypes), so the two findings would advise one change and then its reverse.
	Oversized bool
	// NeededInstances is the fewest instances of its machine type that carry the peak (at
	// least the platform's floor of 2).
	NeededInstances int
	// CapacityMbps is what the instances it runs now carry.
	CapacityMbps float64
	// Reason says why, with the figures and their sources.
	Reason string
}

// SizeConnector judges a connector's size from its load. ok is false when it cannot be
// judged (unknown machine type or instance count).
func SizeConnector(l ConnectorLoad) (s ConnectorSizing, ok bool) {
	per, known := ConnectorInstanceMbps(l.MachineType)
	if !known || l.CurrentInstances <= 0 {
		return ConnectorSizing{}, false
	}
	needed := max(ConnectorMinInstancesFloor, int(math.Ceil(l.PeakMbps/per)))
	s = ConnectorSizing{NeededInstances: needed, CapacityMbps: float64(l.CurrentInstances) * per}
	peak := fmt.Sprintf("its peak of %s Mbps over %s", FormatMbps(l.PeakMbps), l.Window)
	switch {
	case l.CurrentInstances > needed:
		s.Oversized = true
		s.Reason = fmt.Sprintf("runs %d %s instances (%s Mbps) while %s needs %d; connectors never scale in: only a new connector runs fewer",
			l.CurrentInstances, l.MachineType, FormatMbps(s.CapacityMbps), peak, needed)
	default:
		s.Reason = fmt.Sprintf("runs %d %s instances (%s Mbps) for %s", l.CurrentInstances, l.MachineType, FormatMbps(s.CapacityMbps), peak)
	}
	return s, true
}

// FormatMbps renders a throughput with up to two decimals ("0.37", "1600").
func FormatMbps(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// MonthlyCost is what n instances at hourly cost a month (HoursPerMonth hours).
func MonthlyCost(n int, hourly float64) float64 {
	return math.Round(float64(n)*hourly*HoursPerMonth*100) / 100
}

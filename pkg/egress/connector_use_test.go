package egress

import (
	"strings"
	"testing"
)

func TestSizeConnector(t *testing.T) {
	for _, tc := range []struct {
		name      string
		load      ConnectorLoad
		oversized bool
		needed    int
		reason    string
	}{
		{"scaled out, idle", ConnectorLoad{MachineType: "e2-micro", CurrentInstances: 7, PeakMbps: 120, Window: "7 days"}, true, 2,
			"runs 7 e2-micro instances (700 Mbps) while its peak of 120 Mbps over 7 days needs 2"},
		{"at the floor", ConnectorLoad{MachineType: "f1-micro", CurrentInstances: 2, PeakMbps: 0, Window: "7 days"}, false, 2, "runs 2 f1-micro instances (100 Mbps)"},
		{"busy", ConnectorLoad{MachineType: "f1-micro", CurrentInstances: 3, PeakMbps: 140, Window: "7 days"}, false, 3, ""},
		{"needs more than it runs", ConnectorLoad{MachineType: "e2-micro", CurrentInstances: 3, PeakMbps: 950, Window: "7 days"}, false, 10, ""},
		// Not oversized: the only smaller machine type is e2-micro, which the
		// connector-machine-type check warns against; proposing it would make runnet advise a
		// change and then its reverse.
		{"large machines, little traffic", ConnectorLoad{MachineType: "e2-standard-4", CurrentInstances: 2, PeakMbps: 150, Window: "7 days"}, false, 2,
			"runs 2 e2-standard-4 instances (3200 Mbps) for its peak of 150 Mbps"},
		{"large machines, scaled out", ConnectorLoad{MachineType: "e2-standard-4", CurrentInstances: 4, PeakMbps: 150, Window: "7 days"}, true, 2,
			"runs 4 e2-standard-4 instances (6400 Mbps) while its peak of 150 Mbps over 7 days needs 2"},
	} {
		s, ok := SizeConnector(tc.load)
		if !ok || s.Oversized != tc.oversized || s.NeededInstances != tc.needed || !strings.Contains(s.Reason, tc.reason) {
			t.Errorf("%s: %+v, %v", tc.name, s, ok)
		}
	}
	if _, ok := SizeConnector(ConnectorLoad{MachineType: "n1-standard-1", CurrentInstances: 2}); ok {
		t.Error("an unknown machine type was judged")
	}
	if _, ok := SizeConnector(ConnectorLoad{MachineType: "e2-micro"}); ok {
		t.Error("an unknown instance count was judged")
	}
}

func TestMonthlyCost(t *testing.T) {
	// e2-micro in us-central1: 0.25 vCPU × 0.021811 + 1 GiB × 0.002923 = 0.00837575 an hour.
	if got := MonthlyCost(2, 0.00837575); got != 12.23 {
		t.Errorf("MonthlyCost = %v, want 12.23", got)
	}
	if got := FormatMbps(0.3666); got != "0.37" {
		t.Errorf("FormatMbps = %q", got)
	}
}

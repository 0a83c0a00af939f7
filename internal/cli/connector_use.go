package cli

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// What a connector runs, carries and costs, as `inventory` and `connector describe` show it:
// instances and throughput from Cloud Monitoring, the price of its instances from the Cloud
// Billing Catalog (never a price of runnet's own, except its labelled fallback table when
// the Catalog cannot be read), and what moving its workloads to Direct VPC egress saves.

// ConnectorUse is what a connector runs, carries and costs. A null field is not known (the
// read failed, or --no-cost); UseNotes say why. JSON field names are a stable contract.
type ConnectorUse struct {
	// Instances are the instances it runs now and the most over the window.
	Instances *UseInstances `json:"instances"`
	// Throughput is what it carries (sent plus received), now and at peak, and what the
	// instances it runs can carry.
	Throughput *UseThroughput `json:"throughput"`
	// MonthlyCost is what its instances cost a month at the current count.
	MonthlyCost *UseCost `json:"monthlyCost"`
	// Oversized is set when it runs more (or larger) instances than its peak traffic needs;
	// OversizedReason gives the figures either way, when they are known.
	Oversized       bool   `json:"oversized"`
	OversizedReason string `json:"oversizedReason,omitempty"`
	// SavingsIfMigrated is what moving every workload that uses it to Direct VPC egress, and
	// deleting it, saves a month: its whole instance cost.
	SavingsIfMigrated *UseCost `json:"savingsIfMigrated"`
	// UseNotes say what could not be read.
	UseNotes []string `json:"useNotes,omitempty"`
	// sizing is the judgement behind Oversized, for the finding's remedies.
	sizing egress.ConnectorSizing
}

// UseInstances is a connector's instance count, from Cloud Monitoring.
type UseInstances struct {
	Current int    `json:"current"`
	Peak    int    `json:"peak"`
	Source  string `json:"source"`
}

// UseThroughput is a connector's traffic in Mbps.
type UseThroughput struct {
	CurrentMbps float64 `json:"currentMbps"`
	PeakMbps    float64 `json:"peakMbps"`
	// CapacityMbps is what the instances it runs now carry (CapacitySource says whence).
	CapacityMbps   float64 `json:"capacityMbps"`
	Source         string  `json:"source"`
	CapacitySource string  `json:"capacitySource"`
}

// UseCost is an amount a month.
type UseCost struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
	// Instances and PerInstanceHour are what the amount is made of (Amount = Instances ×
	// PerInstanceHour × 730 hours).
	Instances       int     `json:"instances"`
	PerInstanceHour float64 `json:"perInstanceHour"`
	// Fallback is set when the price is runnet's fallback table, not the Catalog.
	Fallback bool   `json:"fallback"`
	Source   string `json:"source"`
}

// String renders the amount: "12.23 USD a month", with "(fallback prices)" when so.
func (c *UseCost) String() string {
	if c == nil {
		return "unknown"
	}
	s := strconv.FormatFloat(c.Amount, 'f', 2, 64) + " " + c.Currency
	if c.Fallback {
		s += " (fallback prices)"
	}
	return s
}

// savingsSource says why migrating saves the whole instance cost.
const savingsSource = "Cloud Run docs, Direct VPC egress compared with connectors: Direct VPC egress has no instance charge (network egress is billed either way), so the connector's whole instance cost is saved once no workload uses it and it is deleted"

// useConcurrency bounds how many connectors' metrics are read at once.
const useConcurrency = 8

// readConnectorUse reads what conn runs, carries and (unless noCost) costs. Failures are
// notes: cost and use never fail a command.
func readConnectorUse(ctx context.Context, c *cloud.Clients, conn *cloud.Connector, noCost bool) ConnectorUse {
	var u ConnectorUse
	if conn == nil {
		return u
	}
	if conn.State != cloud.ConnectorReady {
		u.UseNotes = []string{fmt.Sprintf("instances, throughput and cost not read: the connector is %s; they are read once it is READY", conn.State)}
		return u
	}
	ref := conn.Ref()
	m, err := c.ConnectorMetrics(ctx, ref, cloud.UseWindow)
	if err != nil {
		u.UseNotes = append(u.UseNotes, fmt.Sprintf("instances and throughput unknown: %v", err))
	}
	current := 0
	if m != nil && m.HasInstances {
		current = m.CurrentInstances
		u.Instances = &UseInstances{Current: m.CurrentInstances, Peak: max(m.PeakInstances, m.CurrentInstances), Source: m.InstancesSource}
		per, _ := egress.ConnectorInstanceMbps(conn.MachineType)
		u.Throughput = &UseThroughput{CurrentMbps: round2(m.CurrentMbps), PeakMbps: round2(m.PeakMbps), CapacityMbps: float64(current) * per,
			Source: m.ThroughputSource, CapacitySource: egress.ConnectorThroughputSource}
		if s, ok := egress.SizeConnector(egress.ConnectorLoad{
			MachineType: conn.MachineType, MinInstances: conn.MinInstances, MaxInstances: conn.MaxInstances,
			CurrentInstances: current, PeakInstances: m.PeakInstances, PeakMbps: m.PeakMbps, Window: "the last 7 days",
		}); ok {
			u.Oversized, u.OversizedReason, u.sizing = s.Oversized, s.Reason, s
		}
	} else if m != nil {
		u.UseNotes = append(u.UseNotes, "instances and throughput unknown: Cloud Monitoring has no "+cloud.MetricConnectorInstances+" point for it in the last 7 days")
	}
	if noCost {
		return u
	}
	counted := current
	if counted == 0 {
		counted = conn.MinInstances // at least its minimum runs
		u.UseNotes = append(u.UseNotes, fmt.Sprintf("the cost counts its minimum of %d instances: the current count is unknown", conn.MinInstances))
	}
	p, err := c.Pricer().InstanceHourly(ctx, conn.Region, conn.MachineType)
	if err != nil {
		u.UseNotes = append(u.UseNotes, "cost unknown: "+err.Error())
		return u
	}
	cost := &UseCost{Amount: egress.MonthlyCost(counted, p.Hourly), Currency: p.Currency, Instances: counted,
		PerInstanceHour: p.Hourly, Fallback: p.Fallback, Source: p.Source}
	u.MonthlyCost = cost
	saving := *cost
	saving.Source = savingsSource + "; the price: " + p.Source
	u.SavingsIfMigrated = &saving
	return u
}

func round2(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return f
}

// readConnectorUses reads the use of every existing connector of conns, a few at a time.
func readConnectorUses(ctx context.Context, c *cloud.Clients, conns []InventoryConnector, noCost bool) {
	sem := make(chan struct{}, useConcurrency)
	var wg sync.WaitGroup
	for i := range conns {
		cn := &conns[i]
		if !cn.Exists || cn.Connector == nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cn.ConnectorUse = readConnectorUse(ctx, c, cn.Connector, noCost)
		})
	}
	wg.Wait()
}

// instancesCell is the instances column of a table: "2", "3 (peak 4)", or "-".
func (u ConnectorUse) instancesCell() string {
	if u.Instances == nil {
		return "-"
	}
	s := strconv.Itoa(u.Instances.Current)
	if u.Instances.Peak > u.Instances.Current {
		s += fmt.Sprintf(" (peak %d)", u.Instances.Peak)
	}
	return s
}

// costCell is the monthly cost column: "12.23 USD", "12.23 USD*" for fallback prices.
func (u ConnectorUse) costCell() string {
	c := u.MonthlyCost
	if c == nil {
		return "-"
	}
	s := strconv.FormatFloat(c.Amount, 'f', 2, 64) + " " + c.Currency
	if c.Fallback {
		s += "*"
	}
	return s
}

// peakCell is the peak throughput column: "1.25 Mbps" or "-".
func (u ConnectorUse) peakCell() string {
	if u.Throughput == nil {
		return "-"
	}
	return egress.FormatMbps(u.Throughput.PeakMbps) + " Mbps"
}

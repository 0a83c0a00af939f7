package cloud

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	billing "google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// What a connector does (Cloud Monitoring) and what its instances cost (the Cloud Billing
// Catalog).

// The connector metrics (Monitoring docs, "Google Cloud metrics", vpcaccess): a GAUGE of the
// instances a connector runs, and DELTA counts of the bytes it sends and receives, on the
// monitored resource vpc_access_connector (labels resource_container, location,
// connector_name).
const (
	MetricConnectorInstances = "vpcaccess.googleapis.com/connector/instances"
	MetricConnectorSent      = "vpcaccess.googleapis.com/connector/sent_bytes_count"
	MetricConnectorReceived  = "vpcaccess.googleapis.com/connector/received_bytes_count"
)

// UseWindow is how far back the connector metrics are read, and UseAlignment the period
// their points are aligned to (a peak is the most of one period).
const (
	UseWindow    = 7 * 24 * time.Hour
	UseAlignment = 5 * time.Minute
)

// ConnectorMetrics is what Cloud Monitoring says a connector ran and carried over Window.
type ConnectorMetrics struct {
	Window time.Duration
	// CurrentInstances and PeakInstances: the newest period's and the most of any period; 0
	// when Monitoring has no point (HasInstances false).
	CurrentInstances, PeakInstances int
	HasInstances                    bool
	// CurrentMbps and PeakMbps: sent plus received, the newest period's and the most of any.
	CurrentMbps, PeakMbps float64
	// Source names the metrics and the window, for output.
	Source string
}

// ConnectorMetrics reads a connector's instances and throughput over the window ending now.
func (c *Clients) ConnectorMetrics(ctx context.Context, ref egress.ConnectorRef, window time.Duration) (*ConnectorMetrics, error) {
	if err := checkNames(ref); err != nil {
		return nil, err
	}
	mc, err := c.Monitoring()
	if err != nil {
		return nil, err
	}
	end := time.Now()
	query := func(metricType string, aligner monitoringpb.Aggregation_Aligner) (map[int64]float64, int64, error) {
		req := &monitoringpb.ListTimeSeriesRequest{
			Name: "projects/" + ref.Project,
			Filter: fmt.Sprintf(`metric.type = %q AND resource.type = "vpc_access_connector" AND resource.labels.location = %q AND resource.labels.connector_name = %q`,
				metricType, ref.Region, ref.Name),
			Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(end.Add(-window)), EndTime: timestamppb.New(end)},
			Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(UseAlignment), PerSeriesAligner: aligner},
			View:        monitoringpb.ListTimeSeriesRequest_FULL,
		}
		points := map[int64]float64{} // period end (unix) -> value, summed over series
		var newest int64
		err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
			clear(points)
			newest = 0
			it := mc.ListTimeSeries(ctx, req, noGaxRetry)
			for {
				ts, err := it.Next()
				if err == iterator.Done {
					return nil
				}
				if err != nil {
					return err
				}
				for _, p := range ts.GetPoints() {
					at := p.GetInterval().GetEndTime().AsTime().Unix()
					v := p.GetValue()
					points[at] += v.GetDoubleValue() + float64(v.GetInt64Value())
					newest = max(newest, at)
				}
			}
		})
		if err != nil {
			return nil, 0, apiErr(fmt.Sprintf("read %s of connector %q", metricType, ref.Name), err)
		}
		return points, newest, nil
	}
	m := &ConnectorMetrics{Window: window, Source: fmt.Sprintf("Cloud Monitoring: %s, sent_bytes_count and received_bytes_count over the last %s (peaks of %s periods)",
		MetricConnectorInstances, describeWindow(window), strings.TrimSuffix(strings.Replace(describeWindow(UseAlignment), " ", "-", 1), "s"))}
	inst, newest, err := query(MetricConnectorInstances, monitoringpb.Aggregation_ALIGN_MAX)
	if err != nil {
		return nil, err
	}
	if len(inst) > 0 {
		m.HasInstances = true
		m.CurrentInstances = int(math.Round(inst[newest]))
		for _, v := range inst {
			m.PeakInstances = max(m.PeakInstances, int(math.Round(v)))
		}
	}
	traffic := map[int64]float64{}
	var newestTraffic int64
	for _, mt := range []string{MetricConnectorSent, MetricConnectorReceived} {
		pts, n, err := query(mt, monitoringpb.Aggregation_ALIGN_RATE)
		if err != nil {
			return nil, err
		}
		for at, v := range pts {
			traffic[at] += v
		}
		newestTraffic = max(newestTraffic, n)
	}
	const bytesPerSecondToMbps = 8 / 1e6
	for _, v := range traffic {
		m.PeakMbps = max(m.PeakMbps, v*bytesPerSecondToMbps)
	}
	m.CurrentMbps = traffic[newestTraffic] * bytesPerSecondToMbps
	return m, nil
}

// describeWindow renders a duration the way people say it: "7 days", "5 minutes".
func describeWindow(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// ---------------------------------------------------------------------------------------
// Prices.

// ComputeBillingService is Compute Engine's service in the Cloud Billing Catalog (its id is
// public and stable). Connector instances are Compute Engine VMs and billed as such (VPC
// docs, "Serverless VPC Access pricing").
const ComputeBillingService = "services/6F81-5844-456A"

// machineShape is how a connector machine type is billed: vCPUs and GiB of E2 SKUs, or the
// f1-micro SKU. Source: Compute Engine docs, "Machine families" (E2 shared-core: e2-micro
// 0.25 vCPU, 1 GiB; E2 standard: e2-standard-4 4 vCPU, 16 GiB; N1 shared-core: f1-micro,
// billed per instance hour).
var machineShape = map[string]struct {
	vcpu, gib float64
	f1Micro   bool
}{
	"e2-micro":      {vcpu: 0.25, gib: 1},
	"e2-standard-4": {vcpu: 4, gib: 16},
	"f1-micro":      {f1Micro: true},
}

// The descriptions of the on-demand SKUs connector instances bill under, followed by the
// region's location name ("E2 Instance Core running in Tokyo"); each SKU lists its region in
// serviceRegions.
const (
	skuE2Core  = "E2 Instance Core running in "
	skuE2RAM   = "E2 Instance Ram running in "
	skuF1Micro = "Micro Instance with burstable CPU running in "
)

// fallbackPrices are us-central1 on-demand list prices in USD, used only when the Catalog
// cannot be read, and then labelled as such. Source: Compute Engine "VM instance pricing"
// (E2: $0.021811 per vCPU hour, $0.002923 per GiB hour; f1-micro $0.0076 an hour).
var fallbackPrices = struct{ e2Core, e2RAM, f1Micro float64 }{0.021811, 0.002923, 0.0076}

// FallbackPriceSource labels a price from fallbackPrices.
const FallbackPriceSource = "runnet's fallback table of us-central1 list prices (Compute Engine VM instance pricing), not the Cloud Billing Catalog"

// InstancePrice is what one connector instance costs an hour.
type InstancePrice struct {
	Hourly   float64
	Currency string
	// Source names where the price comes from; Fallback is set when it is runnet's table.
	Source   string
	Fallback bool
}

// Pricer prices connector instances from the Cloud Billing Catalog, reading Compute Engine's
// SKUs once. It is safe for concurrent use.
type Pricer struct {
	c    *Clients
	once sync.Once
	skus []*billing.Sku
	err  error
}

// Pricer returns the client set's pricer (one per client set, so the catalog is read once).
func (c *Clients) Pricer() *Pricer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.life.pricer == nil {
		c.life.pricer = &Pricer{c: c}
	}
	return c.life.pricer
}

// load reads the on-demand SKUs connector instances bill under.
func (p *Pricer) load(ctx context.Context) {
	bs, err := p.c.CloudBilling()
	if err != nil {
		p.err = err
		return
	}
	var out []*billing.Sku
	err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
		out = out[:0]
		return bs.Services.Skus.List(ComputeBillingService).PageSize(5000).Pages(ctx, func(r *billing.ListSkusResponse) error {
			for _, s := range r.Skus {
				if s.Category != nil && s.Category.UsageType != "OnDemand" {
					continue
				}
				for _, pre := range []string{skuE2Core, skuE2RAM, skuF1Micro} {
					if strings.HasPrefix(s.Description, pre) {
						out = append(out, s)
						break
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		p.err = apiErr("read the Cloud Billing Catalog (Compute Engine SKUs)", err)
		return
	}
	p.skus = out
}

// unitPrice returns the price of the SKU of region whose description starts with prefix.
func (p *Pricer) unitPrice(region, prefix string) (float64, string, string, bool) {
	for _, s := range p.skus {
		if !strings.HasPrefix(s.Description, prefix) || !slices.Contains(s.ServiceRegions, region) || len(s.PricingInfo) == 0 {
			continue
		}
		pe := s.PricingInfo[0].PricingExpression
		if pe == nil || len(pe.TieredRates) == 0 || pe.TieredRates[len(pe.TieredRates)-1].UnitPrice == nil {
			continue
		}
		m := pe.TieredRates[len(pe.TieredRates)-1].UnitPrice
		return float64(m.Units) + float64(m.Nanos)/1e9, m.CurrencyCode, s.SkuId, true
	}
	return 0, "", "", false
}

// InstanceHourly prices one instance of machineType in region. When the Catalog cannot be
// read, or has no price for the region, the price comes from runnet's fallback table and
// says so; err is set only for a machine type connectors do not use.
func (p *Pricer) InstanceHourly(ctx context.Context, region, machineType string) (InstancePrice, error) {
	shape, ok := machineShape[machineType]
	if !ok {
		return InstancePrice{}, fmt.Errorf("no price for machine type %q: connectors use e2-micro, f1-micro or e2-standard-4", machineType)
	}
	p.once.Do(func() { p.load(ctx) })
	fallback := func(why string) InstancePrice {
		h := shape.vcpu*fallbackPrices.e2Core + shape.gib*fallbackPrices.e2RAM
		if shape.f1Micro {
			h = fallbackPrices.f1Micro
		}
		return InstancePrice{Hourly: h, Currency: "USD", Fallback: true, Source: FallbackPriceSource + ": " + why}
	}
	if p.err != nil {
		return fallback(p.err.Error()), nil
	}
	if shape.f1Micro {
		v, cur, id, ok := p.unitPrice(region, skuF1Micro)
		if !ok {
			return fallback("the Catalog lists no f1-micro price for " + region), nil
		}
		return InstancePrice{Hourly: v, Currency: cur, Source: fmt.Sprintf("Cloud Billing Catalog, %s SKU %s (f1-micro in %s)", ComputeBillingService, id, region)}, nil
	}
	core, cur, coreID, ok1 := p.unitPrice(region, skuE2Core)
	ram, _, ramID, ok2 := p.unitPrice(region, skuE2RAM)
	if !ok1 || !ok2 {
		return fallback("the Catalog lists no E2 price for " + region), nil
	}
	return InstancePrice{
		Hourly: shape.vcpu*core + shape.gib*ram, Currency: cur,
		Source: fmt.Sprintf("Cloud Billing Catalog, %s SKUs %s (E2 core) and %s (E2 RAM) in %s; %s = %g vCPU + %g GiB",
			ComputeBillingService, coreID, ramID, region, machineType, shape.vcpu, shape.gib),
	}, nil
}

package billingapi

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"

	billing "google.golang.org/api/cloudbilling/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

func newClient(t *testing.T) *billing.APIService {
	t.Helper()
	w := servertest.NewWorld(t, servertest.FastConfig)
	mux := http.NewServeMux()
	Register(mux, w)
	addr := servertest.StartHTTP(t, mux)
	c, err := billing.NewService(context.Background(), servertest.RESTOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// price reads a SKU's first tier unit price in USD.
func price(s *billing.Sku) float64 {
	m := s.PricingInfo[0].PricingExpression.TieredRates[0].UnitPrice
	return float64(m.Units) + float64(m.Nanos)/1e9
}

// TestConnectorMachinePrices lists Compute Engine's SKUs with the real client, pages through
// them, and prices the three connector machine types in us-central1 from them: the figures
// of Compute Engine's pricing page.
func TestConnectorMachinePrices(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	svcs, err := c.Services.List().Context(ctx).Do()
	if err != nil || len(svcs.Services) != 1 || svcs.Services[0].Name != ComputeService || svcs.Services[0].DisplayName != "Compute Engine" {
		t.Fatalf("services = %+v, %v", svcs, err)
	}
	var all []*billing.Sku
	err = c.Services.Skus.List(ComputeService).PageSize(25).Pages(ctx, func(p *billing.ListSkusResponse) error {
		all = append(all, p.Skus...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * len(world.RegionNames()); len(all) != want {
		t.Fatalf("%d SKUs, want %d", len(all), want)
	}
	find := func(region, prefix string) *billing.Sku {
		t.Helper()
		for _, s := range all {
			if s.ServiceRegions[0] == region && strings.HasPrefix(s.Description, prefix) {
				return s
			}
		}
		t.Fatalf("no %q SKU in %s", prefix, region)
		return nil
	}
	core, ram, micro := find("us-central1", "E2 Instance Core"), find("us-central1", "E2 Instance Ram"), find("us-central1", "Micro Instance")
	if core.Category.ResourceGroup != "CPU" || core.PricingInfo[0].PricingExpression.UsageUnit != "h" || ram.PricingInfo[0].PricingExpression.UsageUnit != "GiBy.h" {
		t.Errorf("core %+v / ram %+v", core.Category, ram.PricingInfo[0].PricingExpression)
	}
	for _, tc := range []struct {
		machine string
		got     float64
		want    float64
	}{
		{"e2-micro", 0.25*price(core) + 1*price(ram), 0.008376},
		{"e2-standard-4", 4*price(core) + 16*price(ram), 0.134012},
		{"f1-micro", price(micro), 0.0076},
	} {
		if math.Abs(tc.got-tc.want) > 1e-6 {
			t.Errorf("%s: $%.6f an hour, want $%.6f", tc.machine, tc.got, tc.want)
		}
	}
	if tokyo := find("asia-northeast1", "E2 Instance Core"); price(tokyo) <= price(core) || !strings.HasSuffix(tokyo.Description, "Tokyo") {
		t.Errorf("Tokyo core %q at %f", tokyo.Description, price(tokyo))
	}
	if _, err := c.Services.Skus.List(ComputeService).CurrencyCode("EUR").Context(ctx).Do(); err == nil {
		t.Error("EUR prices served")
	}
	if _, err := c.Services.Skus.List("services/0000-0000-0000").Context(ctx).Do(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown service: %v", err)
	}
}

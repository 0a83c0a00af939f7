// Package billingapi serves the part of the Cloud Billing Catalog API that prices Serverless
// VPC Access connectors, over REST on the emulator's address, so
// google.golang.org/api/cloudbilling/v1 works against it: services.list (GET /v1/services) and
// services.skus.list (GET /v1/services/{service}/skus), with pageSize, pageToken and
// currencyCode.
//
// Connectors run on Compute Engine VMs and are billed as such (VPC pricing, "Serverless VPC
// Access pricing": connector instances are charged at the Compute Engine price of their
// machine type, e2-micro, f1-micro or e2-standard-4). So the catalog holds the Compute Engine
// service (services/6F81-5844-456A, its real id) with, for every region the emulator knows,
// the SKUs those machine types bill under: "E2 Instance Core running in REGION" (per vCPU
// hour), "E2 Instance Ram running in REGION" (per GiB hour) and "Micro Instance with
// burstable CPU running in REGION" (f1-micro, per hour). A client prices a connector instance
// as vCPUs × core + GiB × ram for E2 types (e2-micro: 0.25 vCPU, 1 GiB; e2-standard-4:
// 4 vCPU, 16 GiB; Compute docs, "Machine families", E2 shared-core and standard) or the micro
// SKU for f1-micro.
//
// THE PRICES ARE THE EMULATOR'S OWN DATA, NOT GOOGLE'S LIVE CATALOG: us-central1 figures from
// Compute Engine's public "VM instance pricing" page (E2 $0.021811 per vCPU hour, $0.002923
// per GiB hour, so e2-micro $0.008376 and e2-standard-4 $0.134012 an hour; f1-micro $0.0076
// an hour), other regions scaled by the emulator's approximate regional factors below.
// Demos look sensible; bills are not computed from them.
package billingapi

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"

	billing "google.golang.org/api/cloudbilling/v1"
	"google.golang.org/grpc/codes"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/googlerest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// ComputeService is Compute Engine's billing service name (its id is public and stable).
const ComputeService = "services/6F81-5844-456A"

// Unit prices in us-central1, USD (emulator data; see the package comment).
const (
	e2CorePerHour  = 0.021811
	e2RAMPerGiBH   = 0.002923
	f1MicroPerHour = 0.0076
)

// defaultPageSize is the Catalog API's default ("Requested page size. Defaults to 5000.").
const defaultPageSize = 5000

// regionInfo is a region's location name, as SKU descriptions use it, and the emulator's
// price factor relative to us-central1 (emulator data).
var regionInfo = map[string]struct {
	location string
	factor   float64
}{
	"asia-east1": {"Taiwan", 1.06}, "asia-east2": {"Hong Kong", 1.21},
	"asia-northeast1": {"Tokyo", 1.285}, "asia-northeast2": {"Osaka", 1.285}, "asia-northeast3": {"Seoul", 1.285},
	"asia-south1": {"Mumbai", 1.20}, "asia-south2": {"Delhi", 1.20},
	"asia-southeast1": {"Singapore", 1.234}, "asia-southeast2": {"Jakarta", 1.30},
	"australia-southeast1": {"Sydney", 1.419}, "australia-southeast2": {"Melbourne", 1.419},
	"europe-central2": {"Warsaw", 1.29}, "europe-north1": {"Finland", 1.10}, "europe-southwest1": {"Madrid", 1.18},
	"europe-west1": {"Belgium", 1.10}, "europe-west2": {"London", 1.288}, "europe-west3": {"Frankfurt", 1.288},
	"europe-west4": {"Netherlands", 1.10}, "europe-west6": {"Zurich", 1.397}, "europe-west8": {"Milan", 1.20},
	"europe-west9": {"Paris", 1.20}, "me-central1": {"Doha", 1.25}, "me-west1": {"Tel Aviv", 1.18},
	"northamerica-northeast1": {"Montreal", 1.10}, "northamerica-northeast2": {"Toronto", 1.10},
	"southamerica-east1": {"Sao Paulo", 1.588}, "southamerica-west1": {"Santiago", 1.43},
	"us-central1": {"Iowa", 1.0}, "us-east1": {"South Carolina", 1.0}, "us-east4": {"Northern Virginia", 1.126},
	"us-east5": {"Columbus", 1.0}, "us-south1": {"Dallas", 1.18}, "us-west1": {"Oregon", 1.0},
	"us-west2": {"Los Angeles", 1.2}, "us-west3": {"Salt Lake City", 1.2}, "us-west4": {"Las Vegas", 1.126},
}

// skuKind is one family of SKUs, priced in every region.
type skuKind struct {
	description, group, unit, unitDescription, baseUnit, baseUnitDescription string
	conversion                                                               float64
	usPrice                                                                  float64
}

var skuKinds = []skuKind{
	{"E2 Instance Core running in %s", "CPU", "h", "hour", "s", "second", 3600, e2CorePerHour},
	{"E2 Instance Ram running in %s", "RAM", "GiBy.h", "gibibyte hour", "By.s", "byte second", 3865470566400, e2RAMPerGiBH},
	{"Micro Instance with burstable CPU running in %s", "F1Micro", "h", "hour", "s", "second", 3600, f1MicroPerHour},
}

type server struct{ w *world.World }

// Register adds the Catalog routes to mux.
func Register(mux *http.ServeMux, w *world.World) {
	s := &server{w: w}
	mux.HandleFunc("GET /v1/services", googlerest.Serve(w, "cloudbilling.services.list", s.servicesList))
	mux.HandleFunc("GET /v1/services/{service}/skus", googlerest.Serve(w, "cloudbilling.services.skus.list", s.skusList))
}

func (s *server) servicesList(r *http.Request) (any, error) {
	all := []*billing.Service{{
		Name: ComputeService, ServiceId: strings.TrimPrefix(ComputeService, "services/"),
		DisplayName: "Compute Engine", BusinessEntityName: "businessEntities/GCP",
	}}
	items, next, err := page(all, r.URL.Query().Get("pageSize"), r.URL.Query().Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &billing.ListServicesResponse{Services: items, NextPageToken: next}, nil
}

func (s *server) skusList(r *http.Request) (any, error) {
	q := r.URL.Query()
	if c := q.Get("currencyCode"); c != "" && c != "USD" {
		return nil, googlerest.Errorf(codes.InvalidArgument, "The emulator's catalog is priced in USD only; currency_code %q is not served.", c)
	}
	service := "services/" + r.PathValue("service")
	if service != ComputeService {
		return nil, googlerest.Errorf(codes.NotFound, "Service %s not found.", service)
	}
	items, next, err := page(Skus(), q.Get("pageSize"), q.Get("pageToken"))
	if err != nil {
		return nil, err
	}
	return &billing.ListSkusResponse{Skus: items, NextPageToken: next}, nil
}

// Skus returns every SKU of the emulator's Compute Engine catalog, by region then kind.
func Skus() []*billing.Sku {
	var out []*billing.Sku
	for _, region := range world.RegionNames() {
		info, ok := regionInfo[region]
		if !ok {
			info.location, info.factor = region, 1
		}
		for _, k := range skuKinds {
			desc := fmt.Sprintf(k.description, info.location)
			id := skuID(region, k.group)
			units, nanos := money(k.usPrice * info.factor)
			out = append(out, &billing.Sku{
				Name: ComputeService + "/skus/" + id, SkuId: id, Description: desc,
				Category: &billing.Category{
					ServiceDisplayName: "Compute Engine", ResourceFamily: "Compute", ResourceGroup: k.group, UsageType: "OnDemand",
				},
				ServiceRegions:      []string{region},
				ServiceProviderName: "Google",
				GeoTaxonomy:         &billing.GeoTaxonomy{Type: "REGIONAL", Regions: []string{region}},
				PricingInfo: []*billing.PricingInfo{{
					CurrencyConversionRate: 1,
					EffectiveTime:          "2024-01-01T00:00:00Z",
					PricingExpression: &billing.PricingExpression{
						UsageUnit: k.unit, UsageUnitDescription: k.unitDescription,
						BaseUnit: k.baseUnit, BaseUnitDescription: k.baseUnitDescription,
						BaseUnitConversionFactor: k.conversion, DisplayQuantity: 1,
						TieredRates: []*billing.TierRate{{
							StartUsageAmount: 0,
							UnitPrice:        &billing.Money{CurrencyCode: "USD", Units: units, Nanos: nanos, ForceSendFields: []string{"Units"}},
							ForceSendFields:  []string{"StartUsageAmount"},
						}},
					},
				}},
			})
		}
	}
	return out
}

// skuID derives a stable SKU id shaped like real ones ("XXXX-XXXX-XXXX", hex).
func skuID(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	v := h.Sum64()
	return strings.ToUpper(fmt.Sprintf("%04x-%04x-%04x", v>>48&0xffff, v>>32&0xffff, v>>16&0xffff))
}

// money splits a USD amount into google.type.Money units and nanos.
func money(usd float64) (units, nanos int64) {
	u := math.Floor(usd)
	return int64(u), int64(math.Round((usd - u) * 1e9))
}

func page[T any](items []T, sizeParam, token string) ([]T, string, error) {
	size := defaultPageSize
	if sizeParam != "" {
		n, err := strconv.Atoi(sizeParam)
		if err != nil || n < 0 {
			return nil, "", googlerest.Errorf(codes.InvalidArgument, "Invalid page_size %q.", sizeParam)
		}
		if n > 0 {
			size = n
		}
	}
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, nerr := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || nerr != nil || n < 0 || n > len(items) {
			return nil, "", googlerest.Errorf(codes.InvalidArgument, "Invalid page_token %q.", token)
		}
		start = n
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

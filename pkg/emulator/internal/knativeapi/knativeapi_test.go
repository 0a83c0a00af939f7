package knativeapi

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

func TestVPCAccessOfAnnotations(t *testing.T) {
	const p, r = "p", "us-central1"
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want *runpb.VpcAccess
		bad  bool
	}{
		{"none", map[string]string{annEgress: "all-traffic"}, nil, false},
		{"short connector name, default egress", map[string]string{annConnector: "c1"},
			&runpb.VpcAccess{Connector: "projects/p/locations/us-central1/connectors/c1", Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}, false},
		{"full connector name", map[string]string{annConnector: "projects/q/locations/us-central1/connectors/c2", annEgress: "all-traffic"},
			&runpb.VpcAccess{Connector: "projects/q/locations/us-central1/connectors/c2", Egress: runpb.VpcAccess_ALL_TRAFFIC}, false},
		{"network interfaces as gcloud writes them", map[string]string{annInterfaces: `[{"network": "n", "subnetwork": "s", "tags": ["a"]}]`, annEgress: "private-ranges-only"},
			&runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n", Subnetwork: "s", Tags: []string{"a"}}}, Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY}, false},
		{"bad egress", map[string]string{annConnector: "c1", annEgress: "some"}, nil, true},
		{"bad interfaces", map[string]string{annInterfaces: `{"network":"n"}`}, nil, true},
	} {
		got, err := vpcAccessOf(tc.ann, p, r)
		if (err != nil) != tc.bad {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		if !proto.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRevisionService(t *testing.T) {
	for rev, want := range map[string]string{"run-service-00002-vlt": "run-service", "a-00001-abc": "a", "x": ""} {
		if got, _ := revisionService(rev); got != want {
			t.Errorf("revisionService(%q) = %q, want %q", rev, got, want)
		}
	}
}

func TestRegionOfHost(t *testing.T) {
	for host, want := range map[string]string{
		"asia-northeast1-run.googleapis.com": "asia-northeast1", "us-east1-127.0.0.1:8080": "us-east1",
		"run.googleapis.com": "", "127.0.0.1:8080": "", "us-east-127.0.0.1": "",
	} {
		if got := regionOfHost(host); got != want {
			t.Errorf("regionOfHost(%q) = %q, want %q", host, got, want)
		}
	}
}

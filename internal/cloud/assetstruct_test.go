package cloud

import (
	"testing"
	"time"

	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/vpcaccess/apiv1/vpcaccesspb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// asStruct is m as Cloud Asset Inventory gives it: its JSON as a Struct, with a field m's
// type does not know.
func asStruct(t testing.TB, m proto.Message) *assetpb.VersionedResource {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		t.Fatal(err)
	}
	s.Fields["fieldFromTheFuture"] = structpb.NewStringValue("ignored")
	return &assetpb.VersionedResource{Resource: s}
}

// viaJSON is the decoding structInto replaced: the Struct printed as JSON and parsed again.
func viaJSON(t testing.TB, vr *assetpb.VersionedResource, m proto.Message) {
	t.Helper()
	b, err := protojson.Marshal(vr.GetResource())
	if err != nil {
		t.Fatal(err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
}

// structInto decodes what protojson decodes, for every kind of field a Cloud Run or VPC
// Access resource has: maps, repeated messages, oneofs, enums, 64-bit integers, durations,
// timestamps, booleans, and fields it does not know.
func TestStructIntoAgreesWithProtojson(t *testing.T) {
	svc := richService()
	svc.Name = "projects/p/locations/r/services/shop"
	svc.Generation = 1 << 40
	svc.CreateTime = timestamppb.New(time.Date(2026, 5, 1, 2, 3, 4, 5, time.UTC))
	svc.Reconciling = true
	svc.UpdateTime = timestamppb.New(time.Date(2026, 5, 1, 2, 3, 4, 0, time.FixedZone("x", 3600)))
	svc.Template.Timeout = durationpb.New(-1500 * time.Millisecond)
	svc.Conditions = []*runpb.Condition{{Type: "Ready", State: runpb.Condition_CONDITION_SUCCEEDED,
		Reasons: &runpb.Condition_RevisionReason_{RevisionReason: runpb.Condition_PENDING}}}
	svc.TrafficStatuses = []*runpb.TrafficTargetStatus{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "shop-00001-abc", Percent: 100}}
	job := &runpb.Job{Name: "projects/p/locations/r/jobs/j", ExecutionCount: 3, Template: &runpb.ExecutionTemplate{
		Parallelism: 2, TaskCount: 4, Template: &runpb.TaskTemplate{
			Retries: &runpb.TaskTemplate_MaxRetries{MaxRetries: 2},
			VpcAccess: &runpb.VpcAccess{NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n", Subnetwork: "s", Tags: []string{"a", "b"}}},
				Egress: runpb.VpcAccess_PRIVATE_RANGES_ONLY},
		}}}
	wp := &runpb.WorkerPool{Name: "projects/p/locations/r/workerPools/w", Scaling: &runpb.WorkerPoolScaling{ManualInstanceCount: proto.Int32(3)},
		InstanceSplits: []*runpb.InstanceSplit{{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, Percent: 100}}}
	conn := &vpcaccesspb.Connector{Name: "projects/p/locations/r/connectors/c", Network: "n", IpCidrRange: "10.8.0.0/28",
		State: vpcaccesspb.Connector_READY, MinInstances: 2, MaxInstances: 10, ConnectedProjects: []string{"a", "b"},
		Subnet: &vpcaccesspb.Connector_Subnet{Name: "s", ProjectId: "h"}}
	for _, tc := range []struct {
		in       proto.Message
		got, old proto.Message
	}{
		{svc, &runpb.Service{}, &runpb.Service{}},
		{job, &runpb.Job{}, &runpb.Job{}},
		{wp, &runpb.WorkerPool{}, &runpb.WorkerPool{}},
		{conn, &vpcaccesspb.Connector{}, &vpcaccesspb.Connector{}},
	} {
		vr := asStruct(t, tc.in)
		if err := structInto(vr, tc.got); err != nil {
			t.Fatalf("%T: %v", tc.in, err)
		}
		viaJSON(t, vr, tc.old)
		if !proto.Equal(tc.got, tc.old) || !proto.Equal(tc.got, tc.in) {
			t.Errorf("%T:\n got %v\nwant %v", tc.in, tc.got, tc.old)
		}
	}

	// What protojson refuses, structInto refuses too.
	bad := &assetpb.VersionedResource{Resource: &structpb.Struct{Fields: map[string]*structpb.Value{"generation": structpb.NewStringValue("many")}}}
	if err := structInto(bad, &runpb.Service{}); err == nil {
		t.Error("a generation of \"many\" was accepted")
	}
}

// The decoding of one page of services (500), as an organization's inventory reads 11.
func BenchmarkStructInto(b *testing.B) {
	vr := asStruct(b, richService())
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			for range AssetPageSize {
				if err := structInto(vr, &runpb.Service{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			for range AssetPageSize {
				viaJSON(b, vr, &runpb.Service{})
			}
		}
	})
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in    string
		secs  int64
		nanos int32
		ok    bool
	}{
		{"3s", 3, 0, true}, {"0.5s", 0, 500000000, true}, {"-0.5s", 0, -500000000, true},
		{"1.000000001s", 1, 1, true}, {"-2.25s", -2, -250000000, true},
		{"3", 0, 0, false}, {"s", 0, 0, false}, {".5s", 0, 0, false}, {"1.0000000001s", 0, 0, false}, {"1.-5s", 0, 0, false},
	} {
		s, n, ok := parseDuration(tc.in)
		if s != tc.secs || n != tc.nanos || ok != tc.ok {
			t.Errorf("%q: %d, %d, %v; want %d, %d, %v", tc.in, s, n, ok, tc.secs, tc.nanos, tc.ok)
		}
	}
}

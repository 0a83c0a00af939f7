package assetapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	asset "cloud.google.com/go/asset/apiv1"
	"cloud.google.com/go/asset/apiv1/assetpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

const (
	testOrg    = "111111111111"
	testFolder = "222222222222"
)

// fleet fills w with projects p000… under one folder, each with services s00…, and returns
// how many services it made. Services are stored directly: the search only reads them.
func fleet(tb testing.TB, w *world.World, projects, perProject int) int {
	tb.Helper()
	w.Lock()
	defer w.Unlock()
	if _, err := w.PutOrganizationLocked(world.Organization{ID: testOrg}); err != nil {
		tb.Fatal(err)
	}
	if _, err := w.PutFolderLocked(world.Folder{ID: testFolder, Parent: "organizations/" + testOrg}); err != nil {
		tb.Fatal(err)
	}
	created := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for p := range projects {
		id := fmt.Sprintf("fleet-project-%03d", p)
		if _, err := w.PutProjectLocked(world.Project{ID: id, Parent: "folders/" + testFolder}); err != nil {
			tb.Fatal(err)
		}
		region := "asia-northeast1"
		if p%2 == 1 {
			region = "us-central1"
		}
		for s := range perProject {
			name := fmt.Sprintf("projects/%s/locations/%s/services/svc-%02d", id, region, s)
			w.S.Services[name] = &runpb.Service{
				Name: name, CreateTime: created, UpdateTime: created, Labels: map[string]string{"tier": fmt.Sprint(s % 3)},
				Template: &runpb.RevisionTemplate{VpcAccess: &runpb.VpcAccess{Connector: "projects/" + id + "/locations/" + region + "/connectors/c"}},
			}
		}
	}
	return projects * perProject
}

func newClient(tb testing.TB, w *world.World) *asset.Client {
	tb.Helper()
	addr := servertest.StartGRPC(tb, w, func(s *grpc.Server, w *world.World) { Register(s, w) })
	c, err := asset.NewClient(context.Background(), servertest.GRPCOptions(addr)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func searchAll(ctx context.Context, c *asset.Client, req *assetpb.SearchAllResourcesRequest) ([]*assetpb.ResourceSearchResult, int, error) {
	var out []*assetpb.ResourceSearchResult
	pages := 0
	it := c.SearchAllResources(ctx, req)
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, pages, nil
		}
		if err != nil {
			return out, pages, err
		}
		if it.PageInfo().Remaining() == 0 {
			pages++
		}
		out = append(out, r)
	}
}

// TestSearchQueryOrderAndPaging covers the query subset, ordering, page size capping and page
// tokens that belong to another search.
func TestSearchQueryOrderAndPaging(t *testing.T) {
	w := servertest.NewWorld(t, servertest.FastConfig)
	fleet(t, w, 4, 5)
	c := newClient(t, w)
	ctx := context.Background()
	scope := "folders/" + testFolder
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 20 + 4}, // services and the projects themselves
		{"location:us-central1", 10},
		{"location:asia-*", 10 + 0},
		{"labels.tier:0 location:us-central1", 4},
		{"name:svc-01 AND location:asia-northeast1", 2},
		{"name=//run.googleapis.com/projects/fleet-project-000/locations/asia-northeast1/services/svc-00", 1},
		{"fleet-project-003", 5 + 1},
	} {
		got, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: scope, Query: tc.query})
		if err != nil || len(got) != tc.want {
			t.Errorf("query %q: %d results, %v; want %d", tc.query, len(got), err, tc.want)
		}
	}
	for _, q := range []string{"a OR b", "NOT a", "createTime>2020", "kmsKey:x"} {
		if _, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: scope, Query: q}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("query %q: %v, want INVALID_ARGUMENT", q, err)
		}
	}
	got, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: scope, AssetTypes: []string{"run.googleapis.com/.*"}, OrderBy: "location DESC, name"})
	if err != nil || len(got) != 20 || got[0].GetLocation() != "us-central1" || got[19].GetLocation() != "asia-northeast1" {
		t.Fatalf("ordered = %d, %v", len(got), err)
	}
	resp, err := c.SearchAllResources(ctx, &assetpb.SearchAllResourcesRequest{Scope: scope, PageSize: 7}).Next()
	if err != nil || resp == nil {
		t.Fatal(err)
	}
	it := c.SearchAllResources(ctx, &assetpb.SearchAllResourcesRequest{Scope: scope, PageSize: 7})
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	tok := it.PageInfo().Token
	if tok == "" {
		t.Fatal("no next page token")
	}
	if _, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: scope, Query: "location:us-central1", PageToken: tok}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("token of another search: %v", err)
	}
	if _, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: "folders/999"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("unknown folder: %v", err)
	}
	if _, _, err := searchAll(ctx, c, &assetpb.SearchAllResourcesRequest{Scope: "bogus/1"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad scope: %v", err)
	}
}

// BenchmarkSearchFleet searches 5,000 services in 200 projects of one folder, in pages of 500,
// over gRPC on loopback: the call a cross-project inventory makes.
func BenchmarkSearchFleet(b *testing.B) {
	w := servertest.NewWorld(b, servertest.FastConfig)
	n := fleet(b, w, 200, 25)
	c := newClient(b, w)
	ctx := context.Background()
	req := &assetpb.SearchAllResourcesRequest{
		Scope: "folders/" + testFolder, AssetTypes: []string{"run.googleapis.com/Service", "run.googleapis.com/Job", "run.googleapis.com/WorkerPool"},
		PageSize: 500, ReadMask: nil,
	}
	b.ResetTimer()
	for b.Loop() {
		got, pages, err := searchAll(ctx, c, req)
		if err != nil || len(got) != n {
			b.Fatalf("%d results in %d pages, %v", len(got), pages, err)
		}
	}
}

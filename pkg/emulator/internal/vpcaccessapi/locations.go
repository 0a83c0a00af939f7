package vpcaccessapi

import (
	"context"
	"strings"

	locationpb "google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// locationsServer serves google.cloud.location.Locations: every region the emulator knows is a
// location of every project, named projects/P/locations/R with location_id R.
type locationsServer struct {
	locationpb.UnimplementedLocationsServer
	w *world.World
}

func projectOf(name string) (string, error) {
	p := strings.Split(name, "/")
	if len(p) != 2 || p[0] != "projects" || p[1] == "" {
		return "", invalid("Invalid resource name %q: it must be of the form projects/PROJECT.", name)
	}
	return p[1], nil
}

func location(project, region string) *locationpb.Location {
	return &locationpb.Location{Name: parentName(project, region), LocationId: region}
}

func (l *locationsServer) ListLocations(_ context.Context, req *locationpb.ListLocationsRequest) (*locationpb.ListLocationsResponse, error) {
	project, err := projectOf(req.GetName())
	if err != nil {
		return nil, err
	}
	regions, next, err := page(world.RegionNames(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &locationpb.ListLocationsResponse{NextPageToken: next}
	for _, r := range regions {
		resp.Locations = append(resp.Locations, location(project, r))
	}
	return resp, nil
}

func (l *locationsServer) GetLocation(_ context.Context, req *locationpb.GetLocationRequest) (*locationpb.Location, error) {
	p := strings.Split(req.GetName(), "/")
	if len(p) != 4 || p[0] != "projects" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return nil, invalid("Invalid location name %q: it must be of the form projects/PROJECT/locations/LOCATION.", req.GetName())
	}
	if !world.IsRegion(p[3]) {
		return nil, status.Errorf(codes.NotFound, "Location %q is not found.", req.GetName())
	}
	return location(p[1], p[3]), nil
}

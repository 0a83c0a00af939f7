package computeapi

import (
	"net/http"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// subnetworksTestIAM is subnetworks.testIamPermissions: the emulator grants every compute.*
// permission asked for on a subnetwork that exists (404 otherwise, as Compute answers).
func (s *server) subnetworksTestIAM(r *http.Request, p params) (any, *apiError) {
	var req compute.TestPermissionsRequest
	if _, aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	return subnetworks.get(s.w, p, func(*compute.Subnetwork) any {
		resp := &compute.TestPermissionsResponse{Permissions: []string{}}
		for _, perm := range req.Permissions {
			if strings.HasPrefix(perm, "compute.") {
				resp.Permissions = append(resp.Permissions, perm)
			}
		}
		return resp
	})
}

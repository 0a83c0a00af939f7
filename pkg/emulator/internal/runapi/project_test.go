package runapi

import (
	"context"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/computeapi"
	"github.com/runnet-dev/runnet/pkg/emulator/internal/servertest"
)

// TestProjectNumberMatchesCompute: the default service account Cloud Run fills names the
// project number the emulated Compute API reports for the same project.
func TestProjectNumberMatchesCompute(t *testing.T) {
	w := servertest.NewWorld(t, servertest.FastConfig)
	addr := servertest.StartHTTP(t, computeapi.New(w))
	c, err := compute.NewService(context.Background(), servertest.ComputeOptions(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{testProject, "example-project", "123456789"} {
		got, err := c.Projects.Get(p).Do()
		if err != nil {
			t.Fatal(err)
		}
		if want := defaultServiceAccount(p); got.DefaultServiceAccount != want {
			t.Errorf("%s: Run's default service account %q, Compute's %q", p, want, got.DefaultServiceAccount)
		}
	}
}

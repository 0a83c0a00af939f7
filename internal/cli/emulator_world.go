package cli

import (
	"context"
	"encoding/json"

	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/gcloudconfig"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// An emulator's world holds a few projects (the demo world: demo-project). A command aimed at
// another one (CLOUDSDK_CORE_PROJECT=my-project left over from a CI setup) would see an empty
// world and succeed with nothing: `status` printing [] and a check passing. So in emulator
// mode a project the world does not have is bad input (exit 2) that names the ones it has. An
// empty world (seed empty) has none and takes any.

// worldProject finds the projects in an emulator's state: in resource names
// (projects/P/...) and in the keys of its maps (P/NAME).
var worldProject = regexp.MustCompile(`"projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/|"([a-z][-a-z0-9]{4,28}[a-z0-9])/[^"]*":`)

// worldProjects returns the projects an emulator state (its JSON) holds, sorted. Keys of the
// resource hierarchy (organizations/O, folders/F: the IAM policies of a Shared VPC world) have
// the shape of P/NAME but name no project.
func worldProjects(state []byte) []string {
	var out []string
	for _, m := range worldProject.FindAllSubmatch(state, -1) {
		p := string(m[1]) + string(m[2])
		if p == "projects" || p == "organizations" || p == "folders" || slices.Contains(out, p) {
			continue
		}
		out = append(out, p)
	}
	// Projects declared in the resource hierarchy hold nothing yet, perhaps, but exist.
	var dir struct {
		Directory struct {
			Projects map[string]json.RawMessage `json:"projects"`
		} `json:"directory"`
	}
	if json.Unmarshal(state, &dir) == nil {
		for p := range dir.Directory.Projects {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// emulatorState reads the state of the emulator runnet talks to: the embedded one, or the
// one at RUNNET_EMULATOR_HOST through its control surface. nil when it cannot be read (an
// emulator that does not serve its state: nothing is checked then).
func (f *Factory) emulatorState(ctx context.Context, host string) []byte {
	if f.embedded != nil {
		b, err := f.embedded.State()
		if err != nil {
			return nil
		}
		return b
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+emulator.ControlPrefix+"state", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil
	}
	return b
}

// checkEmulatorProject refuses, in emulator mode, a project (as resolved for this command)
// that the emulator's world does not hold. Called with f.mu held, once the clients point at
// the emulator.
func (f *Factory) checkEmulatorProject(ctx context.Context, host string) error {
	if f.project == nil && len(f.scopeProjects) == 0 {
		return nil // the command named its resources in full
	}
	have := worldProjects(f.emulatorState(ctx, host))
	if len(have) == 0 {
		return nil
	}
	which := "the embedded emulator (--emulator)"
	if f.embedded == nil {
		which = "the emulator at " + host
	}
	if f.project != nil && !slices.Contains(have, f.project.Value) {
		fix := "pass --project " + have[0]
		if f.project.Source.Kind == gcloudconfig.FromEnv {
			fix += " or unset " + f.project.Source.Name
		}
		return exitcode.Usagef("project %q (from %s) is not in %s, whose world has %s: there is nothing there to work on; %s",
			f.project.Value, f.project.Source, which, strings.Join(have, ", "), fix)
	}
	// --projects: a misspelt id would be read as an empty project, and the rest reported as
	// if it were all.
	for _, p := range f.scopeProjects {
		if !slices.Contains(have, p) {
			return exitcode.Usagef("--projects: project %q is not in %s, whose world has %s: there is nothing there to read",
				p, which, strings.Join(have, ", "))
		}
	}
	return nil
}

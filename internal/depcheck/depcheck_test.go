// Package depcheck holds the test of runnet's import rules (see docs/architecture.md): the
// domain (pkg/egress, pkg/ipam) depends on no Google library, no cobra and no internal
// package, and internal/cloud is the only part of runnet that talks to Google's APIs.
package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/runnet-dev/runnet"

// pkg is what `go list -json` says of a package (the fields used here).
type pkg struct {
	ImportPath string
	Imports    []string // direct, non-test
	Deps       []string // transitive, non-test
}

// list runs `go list -deps -json` on the module's packages.
func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package")
	}
	return pkgs
}

// isGoogle reports whether path is one of Google's API libraries: the Cloud client
// libraries and their message types, the REST clients, gRPC, protobuf and OAuth.
func isGoogle(path string) bool {
	for _, p := range []string{"cloud.google.com/", "google.golang.org/", "github.com/googleapis/", "golang.org/x/oauth2"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func must(t *testing.T, pkgs map[string]pkg, path string) pkg {
	t.Helper()
	p, ok := pkgs[path]
	if !ok {
		t.Fatalf("package %s not found by go list", path)
	}
	return p
}

// The domain is plain Go: it imports no Google library, no cobra, no internal package of
// runnet, and of runnet's own packages only the domain's.
func TestDomainImports(t *testing.T) {
	pkgs := list(t)
	allowed := map[string][]string{
		module + "/pkg/egress": {module + "/pkg/ipam"},
		module + "/pkg/ipam":   nil,
	}
	for path, own := range allowed {
		for _, d := range must(t, pkgs, path).Deps {
			switch {
			case isGoogle(d):
				t.Errorf("%s depends on the Google library %s", path, d)
			case strings.HasPrefix(d, "github.com/spf13/"):
				t.Errorf("%s depends on %s: the domain knows no command line", path, d)
			case strings.HasPrefix(d, module+"/") && !slices.Contains(own, d):
				t.Errorf("%s depends on %s: the domain depends on no other part of runnet", path, d)
			}
		}
	}
}

// internal/cloud is the only part of runnet that imports a Google API library. The emulator
// (pkg/emulator) serves those APIs and speaks their wire formats with the libraries' own
// types, and the test harness (internal/harness) drives the real client libraries against
// it; neither is part of the commands' path to the APIs.
func TestOnlyCloudImportsGoogle(t *testing.T) {
	pkgs := list(t)
	mayImport := func(path string) bool {
		return path == module+"/internal/cloud" || path == module+"/internal/harness" ||
			path == module+"/pkg/emulator" || strings.HasPrefix(path, module+"/pkg/emulator/")
	}
	must(t, pkgs, module+"/internal/cloud")
	for path, p := range pkgs {
		if !strings.HasPrefix(path, module+"/") || mayImport(path) {
			continue
		}
		for _, imp := range p.Imports {
			if isGoogle(imp) {
				t.Errorf("%s imports %s: only internal/cloud talks to Google's APIs", path, imp)
			}
		}
	}
	// The harness is for tests only: the runnet binary does not link it.
	if slices.Contains(must(t, pkgs, module+"/cmd/runnet").Deps, module+"/internal/harness") {
		t.Errorf("cmd/runnet links internal/harness, which is for tests only")
	}
}

// The commands reach the APIs through internal/cloud, and the migration engine through
// narrow interfaces: neither internal/migration nor the domain imports cobra.
func TestEngineImports(t *testing.T) {
	pkgs := list(t)
	for _, d := range must(t, pkgs, module+"/internal/migration").Deps {
		if strings.HasPrefix(d, "github.com/spf13/") || d == module+"/internal/cli" || strings.HasPrefix(d, module+"/internal/cli/") {
			t.Errorf("internal/migration depends on %s: the engine knows no command line", d)
		}
	}
}

// The domain suggests what to do as typed actions (egress.Action), which the commands spell
// out (internal/cli/shared): no runnet command line is written in pkg/egress.
func TestDomainWritesNoCommandLine(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "pkg", "egress", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("pkg/egress sources not found: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "runnet ") {
				t.Errorf("%s:%d: a command line in the domain: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// Package buildinfo reports runnet's version.
//
// Release builds set the version and commit at link time:
//
//	go build -ldflags "-X github.com/runnet-dev/runnet/internal/buildinfo.Version=v1.2.3 \
//	  -X github.com/runnet-dev/runnet/internal/buildinfo.Commit=$(git rev-parse HEAD)" ./cmd/runnet
//
// Otherwise they come from the module and VCS information the Go toolchain
// embeds (`go install ...@v1.2.3` gives the module version; a build in a
// checkout gives vcs.revision unless -buildvcs=false).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags -X; see the package documentation.
var (
	Version string
	Commit  string
)

// Info is the version report.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// Unknown is reported for a version or commit that is not known.
const (
	DevVersion    = "dev"
	UnknownCommit = "unknown"
)

// Get returns the version information of the running binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(Version, Commit, bi)
}

func get(version, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, Go: runtime.Version()}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			var rev string
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if rev != "" && modified {
				rev += "-dirty"
			}
			info.Commit = rev
		}
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
	}
	if info.Version == "" {
		info.Version = DevVersion
	}
	if info.Commit == "" {
		info.Commit = UnknownCommit
	}
	return info
}

package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGet(t *testing.T) {
	bi := func(version string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	tests := []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            Info
	}{
		{"ldflags win", "v1.2.3", "abc", bi("v0.0.1", "vcs.revision", "def"), Info{"v1.2.3", "abc", "go1.99"}},
		{"module version and vcs", "", "", bi("v0.4.0", "vcs.revision", "def", "vcs.modified", "false"), Info{"v0.4.0", "def", "go1.99"}},
		{"dirty tree", "", "", bi("(devel)", "vcs.revision", "def", "vcs.modified", "true"), Info{"dev", "def-dirty", "go1.99"}},
		{"nothing known", "", "", bi("(devel)"), Info{"dev", "unknown", "go1.99"}},
		{"no build info", "", "", nil, Info{"dev", "unknown", runtime.Version()}},
		{"ldflags version only", "v2.0.0", "", bi("(devel)", "vcs.revision", "123"), Info{"v2.0.0", "123", "go1.99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(tt.version, tt.commit, tt.bi); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGetRunningBinary(t *testing.T) {
	got := Get()
	if got.Version == "" || got.Commit == "" || got.Go == "" {
		t.Fatalf("Get() = %+v: no field may be empty", got)
	}
}

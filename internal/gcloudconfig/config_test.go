package gcloudconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runnet-dev/runnet/internal/exitcode"
)

// env returns a getenv over a fixed map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeConfig lays out a gcloud config dir and returns its path.
func writeConfig(t *testing.T, active string, configs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if active != "" {
		if err := os.WriteFile(filepath.Join(dir, "active_config"), []byte(active), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "configurations"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range configs {
		if err := os.WriteFile(filepath.Join(dir, "configurations", "config_"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolve(t *testing.T) {
	configs := map[string]string{
		"default":  "[core]\nproject = default-proj\n[run]\nregion = europe-west1\n",
		"work":     "[core]\nproject = work-proj\n[run]\nregion = us-central1\n",
		"noregion": "[core]\nproject = np\n[compute]\nregion = asia-east1\n",
	}
	dir := writeConfig(t, "", configs)
	dirActiveWork := writeConfig(t, "work\n", configs)
	dirActiveBad := writeConfig(t, "Bad Name", configs)
	defaultPath := filepath.Join(dir, "configurations", "config_default")

	tests := []struct {
		name          string
		env           map[string]string
		projectFlag   string
		regionFlag    string
		wantProject   Value
		wantRegion    Value
		wantRegionErr string
	}{
		{
			name:        "flags win",
			env:         map[string]string{EnvConfigDir: dir, EnvProject: "env-proj", EnvRegion: "env-region"},
			projectFlag: "flag-proj", regionFlag: "flag-region",
			wantProject: Value{"flag-proj", Source{Kind: FromFlag, Name: "--project"}},
			wantRegion:  Value{"flag-region", Source{Kind: FromFlag, Name: "--region"}},
		},
		{
			name:        "env beats config",
			env:         map[string]string{EnvConfigDir: dir, EnvProject: "env-proj", EnvRegion: "env-region"},
			wantProject: Value{"env-proj", Source{Kind: FromEnv, Name: EnvProject}},
			wantRegion:  Value{"env-region", Source{Kind: FromEnv, Name: EnvRegion}},
		},
		{
			name:        "default configuration",
			env:         map[string]string{EnvConfigDir: dir},
			wantProject: Value{"default-proj", Source{Kind: FromConfig, Name: defaultPath, Config: "default"}},
			wantRegion:  Value{"europe-west1", Source{Kind: FromConfig, Name: defaultPath, Config: "default"}},
		},
		{
			name:        "mixed sources",
			env:         map[string]string{EnvConfigDir: dir, EnvRegion: "env-region"},
			projectFlag: "flag-proj",
			wantProject: Value{"flag-proj", Source{Kind: FromFlag, Name: "--project"}},
			wantRegion:  Value{"env-region", Source{Kind: FromEnv, Name: EnvRegion}},
		},
		{
			name:        "active config from env",
			env:         map[string]string{EnvConfigDir: dir, EnvActiveConfig: "work"},
			wantProject: Value{"work-proj", Source{Kind: FromConfig, Name: filepath.Join(dir, "configurations", "config_work"), Config: "work"}},
			wantRegion:  Value{"us-central1", Source{Kind: FromConfig, Name: filepath.Join(dir, "configurations", "config_work"), Config: "work"}},
		},
		{
			name:        "active config from file",
			env:         map[string]string{EnvConfigDir: dirActiveWork},
			wantProject: Value{"work-proj", Source{Kind: FromConfig, Name: filepath.Join(dirActiveWork, "configurations", "config_work"), Config: "work"}},
			wantRegion:  Value{"us-central1", Source{Kind: FromConfig, Name: filepath.Join(dirActiveWork, "configurations", "config_work"), Config: "work"}},
		},
		{
			name:        "invalid active_config falls back to default",
			env:         map[string]string{EnvConfigDir: dirActiveBad},
			wantProject: Value{"default-proj", Source{Kind: FromConfig, Name: filepath.Join(dirActiveBad, "configurations", "config_default"), Config: "default"}},
			wantRegion:  Value{"europe-west1", Source{Kind: FromConfig, Name: filepath.Join(dirActiveBad, "configurations", "config_default"), Config: "default"}},
		},
		{
			name:          "compute/region is not run/region",
			env:           map[string]string{EnvConfigDir: dir, EnvActiveConfig: "noregion"},
			wantProject:   Value{"np", Source{Kind: FromConfig, Name: filepath.Join(dir, "configurations", "config_noregion"), Config: "noregion"}},
			wantRegionErr: "no region: pass --region, set CLOUDSDK_RUN_REGION, or run 'gcloud config set run/region REGION'",
		},
		{
			name:          "missing configuration file",
			env:           map[string]string{EnvConfigDir: dir, EnvActiveConfig: "absent", EnvProject: "p"},
			wantProject:   Value{"p", Source{Kind: FromEnv, Name: EnvProject}},
			wantRegionErr: "no region",
		},
		{
			name:          "configuration NONE",
			env:           map[string]string{EnvConfigDir: dir, EnvActiveConfig: "NONE", EnvProject: "p"},
			wantProject:   Value{"p", Source{Kind: FromEnv, Name: EnvProject}},
			wantRegionErr: "no region",
		},
		{
			name:          "home directory default",
			env:           map[string]string{"HOME": t.TempDir(), EnvProject: "p"},
			wantProject:   Value{"p", Source{Kind: FromEnv, Name: EnvProject}},
			wantRegionErr: "no region",
		},
		{
			name:          "nothing at all",
			env:           map[string]string{EnvProject: "p"},
			wantProject:   Value{"p", Source{Kind: FromEnv, Name: EnvProject}},
			wantRegionErr: "no region",
		},
		{
			name:        "blank flag and env are unset",
			env:         map[string]string{EnvConfigDir: dir, EnvProject: "  "},
			projectFlag: " ",
			wantProject: Value{"default-proj", Source{Kind: FromConfig, Name: defaultPath, Config: "default"}},
			wantRegion:  Value{"europe-west1", Source{Kind: FromConfig, Name: defaultPath, Config: "default"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver(env(tt.env), WithGOOS("linux"))
			p, err := r.Project(tt.projectFlag)
			if err != nil {
				t.Fatalf("Project: %v", err)
			}
			if p != tt.wantProject {
				t.Errorf("Project = %+v, want %+v", p, tt.wantProject)
			}
			reg, err := r.Region(tt.regionFlag)
			if tt.wantRegionErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantRegionErr) {
					t.Fatalf("Region err = %v, want %q", err, tt.wantRegionErr)
				}
				if exitcode.FromError(err) != exitcode.Usage {
					t.Errorf("exit code = %d, want %d", exitcode.FromError(err), exitcode.Usage)
				}
				return
			}
			if err != nil {
				t.Fatalf("Region: %v", err)
			}
			if reg != tt.wantRegion {
				t.Errorf("Region = %+v, want %+v", reg, tt.wantRegion)
			}
		})
	}
}

func TestMissingProjectMessage(t *testing.T) {
	_, err := NewResolver(env(nil)).Project("")
	want := "no project: pass --project, set CLOUDSDK_CORE_PROJECT, or run 'gcloud config set project PROJECT_ID'"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	broken := writeConfig(t, "", map[string]string{"default": "[core]\nproject = a\nproject = b\n"})
	t.Run("syntax error names file and line", func(t *testing.T) {
		_, err := NewResolver(env(map[string]string{EnvConfigDir: broken})).Project("")
		if err == nil || !strings.Contains(err.Error(), filepath.Join(broken, "configurations", "config_default")) || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("err = %v", err)
		}
		if exitcode.FromError(err) != exitcode.Usage {
			t.Errorf("exit code = %d", exitcode.FromError(err))
		}
	})
	t.Run("flag avoids reading a broken file", func(t *testing.T) {
		if _, err := NewResolver(env(map[string]string{EnvConfigDir: broken})).Project("p"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("invalid CLOUDSDK_ACTIVE_CONFIG_NAME", func(t *testing.T) {
		_, err := NewResolver(env(map[string]string{EnvConfigDir: broken, EnvActiveConfig: "../etc"})).Region("")
		if err == nil || !strings.Contains(err.Error(), EnvActiveConfig) || exitcode.FromError(err) != exitcode.Usage {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		boom := errors.New("boom")
		r := NewResolver(env(map[string]string{EnvConfigDir: "/cfg"}), WithGOOS("linux"), WithReadFile(func(p string) ([]byte, error) {
			if strings.HasSuffix(p, "active_config") {
				return nil, fs.ErrNotExist
			}
			return nil, boom
		}))
		if _, err := r.Region(""); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("unreadable active_config", func(t *testing.T) {
		boom := errors.New("boom")
		r := NewResolver(env(map[string]string{EnvConfigDir: "/cfg"}), WithReadFile(func(string) ([]byte, error) { return nil, boom }))
		if _, err := r.Region(""); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
}

func TestConfigReadOnceAndLazily(t *testing.T) {
	var mu sync.Mutex
	reads := 0
	r := NewResolver(env(map[string]string{EnvConfigDir: "/cfg"}), WithGOOS("linux"), WithReadFile(func(p string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if strings.HasSuffix(p, "active_config") {
			return nil, fs.ErrNotExist
		}
		return []byte("[core]\nproject = p\n[run]\nregion = r\n"), nil
	}))
	if _, err := r.Project("flag"); err != nil {
		t.Fatal(err)
	}
	if reads != 0 {
		t.Fatalf("read %d files although the flag was given", reads)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := r.Region(""); err != nil {
				t.Error(err)
			}
			if _, err := r.Project(""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if reads != 2 { // active_config, then the configuration
		t.Fatalf("read %d files, want 2", reads)
	}
}

func TestConfigDir(t *testing.T) {
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want string
	}{
		{"CLOUDSDK_CONFIG", "linux", map[string]string{EnvConfigDir: "/x/gc", "HOME": "/home/u"}, "/x/gc"},
		{"linux home", "linux", map[string]string{"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}, "/home/u/.config/gcloud"},
		{"darwin home", "darwin", map[string]string{"HOME": "/Users/u"}, "/Users/u/.config/gcloud"},
		{"no home", "linux", nil, ""},
		{"windows appdata", "windows", map[string]string{"APPDATA": `C:\Users\u\AppData\Roaming`}, `C:\Users\u\AppData\Roaming\gcloud`},
		{"windows no appdata", "windows", map[string]string{"SystemDrive": "D:"}, `D:\gcloud`},
		{"windows nothing", "windows", nil, `C:\gcloud`},
		{"windows CLOUDSDK_CONFIG", "windows", map[string]string{EnvConfigDir: `E:\gc`}, `E:\gc`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewResolver(env(tt.env), WithGOOS(tt.goos)).ConfigDir(); got != tt.want {
				t.Errorf("ConfigDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestActiveConfigWindowsPath(t *testing.T) {
	r := NewResolver(env(map[string]string{"APPDATA": `C:\AD`}), WithGOOS("windows"),
		WithReadFile(func(p string) ([]byte, error) {
			if p != `C:\AD\gcloud\active_config` {
				t.Errorf("read %q", p)
			}
			return []byte("work"), nil
		}))
	name, path, err := r.ActiveConfig()
	if err != nil || name != "work" || path != `C:\AD\gcloud\configurations\config_work` {
		t.Fatalf("ActiveConfig() = %q, %q, %v", name, path, err)
	}
}

func TestSourceString(t *testing.T) {
	tests := []struct {
		s    Source
		want string
	}{
		{Source{Kind: FromFlag, Name: "--region"}, "flag --region"},
		{Source{Kind: FromEnv, Name: EnvRegion}, "environment variable CLOUDSDK_RUN_REGION"},
		{Source{Kind: FromConfig, Name: "/c/config_default", Config: "default"}, `gcloud configuration "default" (/c/config_default)`},
		{Source{Kind: "other"}, "other"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

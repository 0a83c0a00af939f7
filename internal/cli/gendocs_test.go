package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/runnet-dev/runnet/internal/iostreams"
)

// The checked-in command reference and man pages must match what the commands say; run
// `go run ./cmd/runnet gen-docs` from the repository root after changing a command.
func TestGeneratedDocsInSync(t *testing.T) {
	tmp := t.TempDir()
	streams, _, _, _ := iostreams.Test()
	root := NewRootCmd(NewFactory(streams, func(string) string { return "" }))
	if err := GenerateDocs(root, filepath.Join(tmp, ReferenceDir), filepath.Join(tmp, ManDir)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{ReferenceDir, ManDir} {
		want := readDir(t, filepath.Join(tmp, dir))
		got := readDir(t, filepath.Join("..", "..", dir))
		var names []string
		for n := range want {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !bytes.Equal(got[n], want[n]) {
				t.Errorf("%s/%s is out of date: run `go run ./cmd/runnet gen-docs` from the repository root", dir, n)
			}
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				t.Errorf("%s/%s documents a command that no longer exists: run `go run ./cmd/runnet gen-docs` and delete it", dir, n)
			}
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// The generated pages must not depend on the day they are generated: cobra dates man pages from
// SOURCE_DATE_EPOCH or the clock unless told otherwise, which once turned every committed page
// "out of date" at the turn of a month. Generate as if it were years from now and compare.
func TestGeneratedDocsIgnoreTheDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1956528000") // 2032-01-01
	streams, _, _, _ := iostreams.Test()
	gen := func() map[string][]byte {
		tmp := t.TempDir()
		root := NewRootCmd(NewFactory(streams, func(string) string { return "" }))
		if err := GenerateDocs(root, "", filepath.Join(tmp, ManDir)); err != nil {
			t.Fatal(err)
		}
		return readDir(t, filepath.Join(tmp, ManDir))
	}
	future := gen()
	committed := readDir(t, filepath.Join("..", "..", ManDir))
	if len(future) == 0 {
		t.Fatal("no man pages generated")
	}
	for n, b := range future {
		if bytes.Contains(b, []byte("2032")) {
			t.Errorf("%s carries the generation date: %q", n, firstLines(b, 2))
		}
		if !bytes.Equal(b, committed[n]) {
			t.Errorf("%s generated in 2032 differs from the committed page", n)
		}
	}
}

func firstLines(b []byte, n int) string {
	lines := bytes.SplitN(b, []byte("\n"), n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

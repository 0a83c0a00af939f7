package benchmarks

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// Start-up: `runnet --help` and `runnet version` must dial nothing and load nothing they do
// not need. The release binary is run startupRuns times per iteration (and once before, to
// warm the page cache); the median wall time is reported.
const (
	startupRuns      = 51
	startupRunsShort = 11
	startupTargetMS  = 30
	sizeTargetMB     = 25
)

func BenchmarkStartup(b *testing.B) {
	bin := releaseBinary(b, releaseTags)
	for _, args := range [][]string{{"--help"}, {"version"}} {
		b.Run(args[0], func(b *testing.B) {
			runs := startupRuns
			if testing.Short() {
				runs = startupRunsShort
			}
			if err := exec.Command(bin, args...).Run(); err != nil {
				b.Fatalf("runnet %s: %v", args[0], err)
			}
			var ds []time.Duration
			for b.Loop() {
				for range runs {
					cmd := exec.Command(bin, args...)
					start := time.Now()
					if err := cmd.Run(); err != nil {
						b.Fatalf("runnet %s: %v", args[0], err)
					}
					ds = append(ds, time.Since(start))
				}
			}
			b.ReportMetric(round(ms(median(ds)), 2), "median_ms")
			b.ReportMetric(startupTargetMS, "target_ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkReleaseBinary reports the size of the release binary (CGO_ENABLED=0, -trimpath,
// -ldflags "-s -w" and the grpcnotrace build tag, as .goreleaser.yaml builds it), and of the
// same build without the tag: gRPC's golang.org/x/net/trace brings in html/template, whose
// reflective method calls (reflect.Value.MethodByName) make the linker keep every exported
// method of every reachable type. With -short (CI) only the release build is made, without
// -trimpath (see releaseBinary).
// releaseTags are the build tags .goreleaser.yaml builds with.
const releaseTags = "grpcnotrace"

func BenchmarkReleaseBinary(b *testing.B) {
	size := func(tags string) float64 {
		fi, err := os.Stat(releaseBinary(b, tags))
		if err != nil {
			b.Fatal(err)
		}
		return round(float64(fi.Size())/(1<<20), 1)
	}
	release := size(releaseTags)
	withTrace := 0.0
	if !testing.Short() {
		withTrace = size("")
	}
	for b.Loop() {
	}
	b.ReportMetric(release, "stripped_MB")
	if withTrace > 0 {
		b.ReportMetric(withTrace, "with_trace_MB")
	}
	b.ReportMetric(sizeTargetMB, "target_MB")
	b.ReportMetric(0, "ns/op")
}

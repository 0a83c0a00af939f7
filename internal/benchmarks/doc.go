// Package benchmarks measures runnet against the emulator with realistic latency and
// operation durations, and reports every figure as a ratio to the physical limit computed from
// the emulator's own settings: a migration against its critical path, an operation's
// completion notice against the client library's default op.Wait(), a fleet against ceil(N /
// concurrency) single migrations, inventory against its dependent round trips, API calls
// against the minimum, and start-up time and release binary size.
//
// The benchmarks live in the _test.go files; docs/performance.md describes the method and
// scripts/bench runs the full suite. They never assert times: they report (b.ReportMetric), so
// that a slow machine cannot fail a build. They do fail when runnet fails functionally (a
// migration that does not end "migrated", an inventory that misses workloads).
//
// With -short every duration of the emulator is scaled down tenfold (the CI form).
package benchmarks

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/internal/printer"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

const demoLong = `Tell the story of the article runnet grew from ("Cloud Run で Direct VPC Egress を試してみた",
grasys blog, 2024) end to end, with real runnet commands, on a fresh emulator of Cloud Run,
Serverless VPC Access and Compute started for the occasion: no cloud account, no
credentials, nothing outside this process is touched (not the --emulator world, not a
RUNNET_EMULATOR_HOST emulator).

The world starts as the article does (the emulator's "story" seed): network run-vpc with
subnet run-subnet, and run-service, a Flask app that counts visits in Redis, deployed with
no VPC access. Then, each command printed before its output like a terminal session:

   1. runnet status                          where things stand
   2. runnet subnet create ...               the connector's /28 subnet (with flow logs)
   3. runnet subnet create ...               the /24 for Direct VPC egress
   4. runnet connector create ...            the article's connector (2 to 3 f1-micro)
   5. runnet attach run-service ...          run-service reaches Redis through it
   6. runnet connector users ...             who uses the connector (the reverse map)
   7. runnet connector delete ...            refused while run-service uses it (exit 3)
   8. runnet connector recycle ...           the connector scaled out and never scales in:
                                             replace it with a fresh one, no downtime
   9. runnet migrate ... --to direct         Direct VPC egress, checked, with a 10/50/100 canary
                                             gated on request metrics: a partner's database
                                             on-premises admits only the connector's range, the
                                             new revision answers 5xx, and it is rolled back
  10. runnet migrate ... --to direct         again once the partner admits the subnet
  11. runnet status run-service
  12. runnet inventory                       every workload, connector and subnet
  13. runnet migrate ... --to none           the article's detour: no VPC again
  14. runnet connector delete ...            nothing uses the connector any more

It takes well under a minute (the emulator runs its operations in 300 ms and makes
revisions Ready in 500 ms; --step-wait sets the canary's watch between steps, at least 1s
for the gated canary of steps 9 and 10).

Output: the narrated session, then a summary of the steps. --quiet prints only the summary.
The commands print tables, as on a terminal; --format json or yaml prints the summary as
{project, region, ok, failedStep, durationSeconds, steps: [{step, title, command,
expectedExitCode, exitCode, status (ok, failed or not-run), durationSeconds, output}]} on
stdout, the narration going to stderr (unless --quiet).

Exit status: 0 when every step did what the story expects; 1 otherwise, naming the step.

To replay the commands yourself: 'runnet emulator start --seed story', export the
RUNNET_EMULATOR_HOST it prints, and run them one by one ('runnet --emulator ...' uses a
world that starts where the article ends instead: the demo seed).`

// Timing of the demo's emulator: operations quick enough that the story takes seconds, slow
// enough that waiting shows.
const (
	demoLRODuration   = 300 * time.Millisecond
	demoRevisionReady = 500 * time.Millisecond
	defaultStepWait   = time.Second
	maxDemoStepWait   = 10 * time.Second
)

// DemoOptions are the inputs of `runnet demo`.
type DemoOptions struct {
	f        *Factory
	StepWait time.Duration

	// Emulator timings (tests shorten them).
	lroDuration, revisionReady time.Duration
	// setup, if set, is called once the emulator serves, before the story; inspect after
	// the story, before the emulator stops (tests).
	setup, inspect func(*emulator.Emulator)
}

// NewCmdDemo returns `runnet demo`. runF, if not nil, replaces the run step (for tests).
func NewCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	o := &DemoOptions{f: f, lroDuration: demoLRODuration, revisionReady: demoRevisionReady}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the article's story end to end on a fresh embedded emulator: no cloud account needed",
		Long:  demoLong,
		Example: `  runnet demo
  runnet demo --step-wait 3s      # watch the canary longer
  runnet demo --quiet             # only the summary
  runnet demo --format json | jq -r '.steps[] | "\(.step) \(.status) \(.command)"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&o.StepWait, "step-wait", defaultStepWait, "how long the canary migration watches the new revision after each traffic step but the last")
	return cmd
}

func (o *DemoOptions) validate() error {
	if o.f.Options.Project != "" || o.f.Options.Region != "" {
		return exitcode.Usagef("--project and --region do not apply: the demo runs in its own emulated project %s, region %s", emulator.DemoProject, emulator.DemoRegion)
	}
	if o.StepWait < 0 || o.StepWait > maxDemoStepWait {
		return exitcode.Usagef("--step-wait: %s is out of range; valid: 0s to %s", o.StepWait, maxDemoStepWait)
	}
	return nil
}

// demoStep is one beat of the story: a narration, what happens in the world first (if
// anything: the emulator's own doing, such as a connector scaling out), and a runnet command
// with the exit status it is expected to end with.
type demoStep struct {
	title  string
	event  string // narrated, then done by before
	before func(e *emulator.Emulator) error
	args   []string
	expect int
}

const demoConnector = "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/connectors/" + emulator.DemoConnector

// demoStory is the article's story as runnet commands.
func demoStory(stepWait time.Duration) []demoStep {
	// The canary's gate needs a watch long enough to see requests.
	gateWait := max(stepWait, minDemoGateWait)
	flowLogs := []string{"--flow-logs", "--flow-logs-interval", "10m", "--flow-logs-metadata", "include-all"}
	return []demoStep{
		{title: "The article starts here: run-service, a Flask app that counts visits in Redis (Memorystore at 10.112.0.3, inside network run-vpc), runs with no VPC access, so it cannot reach Redis.",
			args: []string{"status"}},
		{title: "A /28 subnet for a Serverless VPC Access connector, with the article's flow-log settings. (A /28 is too small for Direct VPC egress: runnet says so.)",
			args: append([]string{"subnet", "create", emulator.DemoConnectorSubnet, "--network", emulator.DemoNetwork, "--range", "10.15.0.0/28"}, flowLogs...)},
		{title: "The subnet Direct VPC egress will use later: a /24 (Cloud Run takes 2 IPs per instance, in /28 blocks).",
			args: append([]string{"subnet", "create", emulator.DemoDirectSubnet, "--network", emulator.DemoNetwork, "--range", "10.8.0.0/24"}, flowLogs...)},
		{title: "The article's connector, in that subnet: 2 to 3 f1-micro instances (the command waits until it is READY).",
			args: []string{"connector", "create", emulator.DemoConnector, "--subnet", emulator.DemoConnectorSubnet, "--min-instances", "2", "--max-instances", "3", "--machine-type", "f1-micro"}},
		{title: "Attach it to run-service (the article's 'gcloud run services update --vpc-connector'): a new revision, and run-service reaches Redis. Every other setting is kept.",
			args: []string{"attach", emulator.DemoService, "--connector", emulator.DemoConnector}},
		{title: "Which workloads use the connector? Neither the Cloud Run nor the VPC Access API says; runnet works it out.",
			args: []string{"connector", "users", emulator.DemoConnector}},
		{title: "The API would delete a connector that run-service still uses (and break its next deploy); runnet refuses (exit status 3).",
			args: []string{"connector", "delete", emulator.DemoConnector, "--yes"}, expect: exitcode.Preflight},
		{title: "The article's complaint: a connector scales out but never back in, and you pay for its instances. Recycle it: a fresh connector (it starts at 2) in the next free /28, run-service moved to it without downtime, the old one deleted.",
			event: "Traffic grows: the connector scales out to its 3 instances, and stays there.",
			before: func(e *emulator.Emulator) error {
				return e.ScaleConnector(demoConnector, 3)
			},
			args: []string{"connector", "recycle", emulator.DemoConnector, "--create-subnet", "--yes"}},
		{title: "Direct VPC egress needs no connector at all. But a trap no static check can see waits: preflight checks subnet size and free IPs, egress, NAT addresses and ports, Private Google Access, firewall rules and policies, the startup probe, ..., and passes. The canary's metrics gate then watches what users get: the new revision answers 5xx in the first step (10%), and everything is rolled back (exit status 6).",
			event: fmt.Sprintf("A partner's database on-premises (%s:%d, through a VPN route to %s) now serves every request of run-service, which receives %d requests a second; the partner's own firewall admits only the connector's subnet, %s.",
				demoPartnerIP, demoPartnerPort, demoOnPremRange, demoLoadRPS, demoRecycledRange),
			before: func(e *emulator.Emulator) error { return demoOnPrem(e, demoRecycledRange) },
			args:   demoMigrate(gateWait), expect: exitcode.RolledBack},
		{title: "The same command once the allowlist admits the Direct VPC subnet: a new revision at 0%, Ready, then 10%, 50% and 100% of the traffic, each step judged by its request metrics.",
			event:  "The partner adds the Direct VPC subnet, " + demoDirectRange + ", to its allowlist.",
			before: func(e *emulator.Emulator) error { return demoPartner(e, demoRecycledRange, demoDirectRange) },
			args:   demoMigrate(gateWait)},
		{title: "Where run-service stands now.",
			args: []string{"status", emulator.DemoService}},
		{title: "The whole region: every workload and its mode, every connector and who uses it, every Direct VPC subnet and how full it can get.",
			args: []string{"inventory"}},
		{title: "The article's detour through Cloud Run integrations clears Direct VPC egress: back to no VPC, the same careful way.",
			args: []string{"migrate", emulator.DemoService, "--to", "none", "--yes"}},
		{title: "Nothing uses the recycled connector any more: delete it, and stop paying for it.",
			args: []string{"connector", "delete", defaultRecycleName(emulator.DemoConnector), "--yes"}},
	}
}

// The on-premises trap of the demo: a partner's database behind a VPN route, whose own
// allowlist admits only the connector's subnet (the recycled connector's, the next free /28
// after the article's).
const (
	demoPartnerIP     = "192.168.10.5"
	demoPartnerPort   = 5432
	demoOnPremRange   = "192.168.10.0/24"
	demoRecycledRange = "10.15.0.16/28"
	demoDirectRange   = "10.8.0.0/24"
	demoLoadRPS       = 2000
	// minDemoGateWait is the shortest watch of the gated canary: at demoLoadRPS, 10% of the
	// traffic brings the new revision the gate's minimum of requests in it.
	minDemoGateWait = time.Second
)

func demoMigrate(wait time.Duration) []string {
	return []string{"migrate", emulator.DemoService, "--to", "direct", "--network", emulator.DemoNetwork, "--subnet", emulator.DemoDirectSubnet,
		"--canary", "10,50,100", "--step-wait", wait.String(), "--yes"}
}

// demoOnPrem connects run-vpc to the partner's network and makes run-service depend on its
// database, under load.
func demoOnPrem(e *emulator.Emulator, allow ...string) error {
	if err := e.AddVPNRoute(emulator.DemoProject, emulator.DemoRegion, emulator.DemoNetwork, "to-partner", demoOnPremRange); err != nil {
		return err
	}
	if err := demoPartner(e, allow...); err != nil {
		return err
	}
	svc := "projects/" + emulator.DemoProject + "/locations/" + emulator.DemoRegion + "/services/" + emulator.DemoService
	if err := e.SetDependencies(svc, []emulator.Dependency{{Destination: "partner-db"}}); err != nil {
		return err
	}
	if err := e.SetLoad(svc, emulator.Load{RPS: demoLoadRPS}); err != nil {
		return err
	}
	// The service has had its load for a while, as a service in production has: the
	// metric-gate check reads the last minutes' requests.
	return e.Backfill(time.Hour)
}

// demoPartner declares the partner's database with its allowlist.
func demoPartner(e *emulator.Emulator, allow ...string) error {
	return e.SetDestination(emulator.Destination{Name: "partner-db", IP: demoPartnerIP, Port: demoPartnerPort,
		Project: emulator.DemoProject, Network: emulator.DemoNetwork, Allow: allow})
}

// DemoStepResult is one step of the demo as the summary shows it. JSON field names are a
// stable contract.
type DemoStepResult struct {
	Step             int     `json:"step"`
	Title            string  `json:"title"`
	Command          string  `json:"command"`
	ExpectedExitCode int     `json:"expectedExitCode"`
	ExitCode         int     `json:"exitCode"`
	Status           string  `json:"status"` // ok, failed or not-run
	DurationSeconds  float64 `json:"durationSeconds"`
	Output           string  `json:"output"`
}

// DemoReport is what `runnet demo` prints at the end. JSON field names are a stable
// contract.
type DemoReport struct {
	Project         string           `json:"project"`
	Region          string           `json:"region"`
	OK              bool             `json:"ok"`
	FailedStep      int              `json:"failedStep,omitempty"`
	DurationSeconds float64          `json:"durationSeconds"`
	Steps           []DemoStepResult `json:"steps"`
}

// Demo step statuses.
const (
	demoOK     = "ok"
	demoFailed = "failed"
	demoNotRun = "not-run"
)

// WriteText renders the summary: one line per step, then the outcome.
func (r DemoReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tCOMMAND\tRESULT\tTIME")
	for _, s := range r.Steps {
		res := s.Status
		switch {
		case s.Status == demoNotRun:
		case s.Status == demoFailed:
			res = fmt.Sprintf("FAILED (exit %d, expected %d)", s.ExitCode, s.ExpectedExitCode)
		case s.ExitCode != 0:
			res = fmt.Sprintf("ok (exit %d, as expected)", s.ExitCode)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Step, shorten(s.Command, demoCommandWidth), res, secs(s.DurationSeconds))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var msg string
	if r.OK {
		msg = fmt.Sprintf("\nThe story took %s: %d runnet commands against an emulator, each as expected. Replay them yourself:\n"+
			"'runnet emulator start --seed story', then export the RUNNET_EMULATOR_HOST it prints.\n", secs(r.DurationSeconds), len(r.Steps))
	} else {
		msg = fmt.Sprintf("\nThe story stopped at step %d after %s.\n", r.FailedStep, secs(r.DurationSeconds))
	}
	_, err := io.WriteString(w, msg)
	return err
}

// demoCommandWidth is how much of a command the summary shows.
const demoCommandWidth = 72

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// lockedWriter serializes writes from a step's commands (which may write from several
// goroutines) and tees them into the step's transcript.
type lockedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	step *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.step != nil {
		l.step.Write(p)
	}
	return l.w.Write(p)
}

func (l *lockedWriter) setStep(b *bytes.Buffer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step = b
}

func (o *DemoOptions) run(ctx context.Context) error {
	start := time.Now()
	// The narration goes to stdout with the table format, to stderr with json or yaml (the
	// summary then being the result), nowhere with --quiet. The commands print tables.
	structured := o.f.Options.Format != "" && o.f.Options.Format != printer.Table
	var narr io.Writer = o.f.IOStreams.Out
	if structured {
		narr = o.f.IOStreams.ErrOut
	}
	if o.f.Options.Quiet {
		narr = io.Discard
	}
	format := o.f.Options.Format
	if format == "" {
		format = printer.Table
	}
	p, err := printer.New(o.f.IOStreams.Out, format)
	if err != nil {
		return err
	}
	out := &lockedWriter{w: narr}

	e, err := emulator.New(emulator.Options{Seed: emulator.SeedStory, LRODuration: o.lroDuration, RevisionReady: o.revisionReady})
	if err != nil {
		return fmt.Errorf("start the demo's emulator: %w", err)
	}
	defer e.Close()
	if err := e.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("start the demo's emulator: %w", err)
	}
	o.f.IOStreams.Verbosef("The demo's emulator serves on %s.", e.Addr())
	if o.setup != nil {
		o.setup(e)
	}
	env := map[string]string{
		EnvEmulatorHost:         e.Addr(),
		"CLOUDSDK_CORE_PROJECT": emulator.DemoProject,
		"CLOUDSDK_RUN_REGION":   emulator.DemoRegion,
	}
	for _, k := range []string{"NO_COLOR", "TERM"} {
		if v := o.f.Getenv(k); v != "" {
			env[k] = v
		}
	}
	getenv := func(k string) string { return env[k] }
	// The commands' tables are coloured only when the narration reaches a terminal.
	color := !structured && !o.f.Options.Quiet && o.f.ColorStdout()

	fmt.Fprintf(out, "runnet demo: the story of \"Cloud Run で Direct VPC Egress を試してみた\" (grasys blog), told with real\n"+
		"runnet commands against an emulator of Cloud Run, Serverless VPC Access and Compute (project %s,\n"+
		"region %s), started just for this: nothing touches Google Cloud.\n", emulator.DemoProject, emulator.DemoRegion)

	story := demoStory(o.StepWait)
	rep := DemoReport{Project: emulator.DemoProject, Region: emulator.DemoRegion, OK: true, Steps: make([]DemoStepResult, len(story))}
	for i, s := range story {
		rep.Steps[i] = DemoStepResult{Step: i + 1, Title: s.title, Command: "runnet " + shellJoin(s.args), ExpectedExitCode: s.expect, Status: demoNotRun}
	}
	for i, s := range story {
		res := &rep.Steps[i]
		var transcript bytes.Buffer
		out.setStep(&transcript)
		fmt.Fprintf(out, "\n── %d/%d ── %s\n", i+1, len(story), wrap(s.title, 96, "   "))
		stepStart := time.Now()
		if s.before != nil {
			fmt.Fprintf(out, "(in the emulator) %s\n", s.event)
			if err := s.before(e); err != nil {
				res.Status, res.ExitCode, res.Output = demoFailed, exitcode.Failure, err.Error()
				rep.OK, rep.FailedStep = false, i+1
				break
			}
		}
		fmt.Fprintf(out, "$ %s\n", res.Command)
		streams := &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: out}
		streams.SetStdoutTTY(color) // tables (the default anyway), in colour on a terminal
		streams.SetStderrTTY(true)  // and the progress lines
		streams.SetNeverPrompt(true)
		code := ExecuteFactory(ctx, NewFactory(streams, getenv), s.args)
		out.setStep(nil)
		res.ExitCode, res.DurationSeconds, res.Output = code, roundSeconds(time.Since(stepStart)), transcript.String()
		if code != s.expect || ctx.Err() != nil {
			res.Status = demoFailed
			rep.OK, rep.FailedStep = false, i+1
			break
		}
		res.Status = demoOK
	}
	rep.DurationSeconds = roundSeconds(time.Since(start))
	if o.inspect != nil {
		o.inspect(e)
	}
	fmt.Fprintln(out)
	if err := p.Print(rep); err != nil {
		return err
	}
	if !rep.OK {
		s := rep.Steps[rep.FailedStep-1]
		what := fmt.Sprintf("exited with status %d, expected %d", s.ExitCode, s.ExpectedExitCode)
		if ctx.Err() != nil {
			what = "was interrupted"
		}
		return exitcode.Errorf(exitcode.Failure, "the demo stopped at step %d: '%s' %s", s.Step, s.Command, what)
	}
	return nil
}

// shellJoin joins args into a command line a shell reads back as the same words.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

// wrap breaks s into lines of at most width characters (words are never split), indenting
// the lines after the first.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len([]rune(w)) > width:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len([]rune(w))
	}
	return b.String()
}

package cli

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnet-dev/runnet/internal/cli/shared"
	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/internal/egressmap"
	"github.com/runnet-dev/runnet/internal/exitcode"
	"github.com/runnet-dev/runnet/internal/iostreams"
	"github.com/runnet-dev/runnet/internal/migration"
	"github.com/runnet-dev/runnet/internal/printer"
	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/ipam"
)

// This file draws the inventory: `inventory --format mermaid|dot` and `inventory --report
// FILE`, through the egressmap package, and adapts the Inventory to its model.

// The graph formats of --format, which only inventory takes.
const (
	formatMermaid = "mermaid"
	formatDOT     = "dot"
)

var graphFormats = []string{formatMermaid, formatDOT}

// extraFormatsAnnotation is the cobra annotation of a command that renders formats of its own
// beyond the printer's (a comma-separated list).
const extraFormatsAnnotation = "runnet/formats"

// checkFormat is printer.Validate for cmd: the printer's formats, and the formats cmd renders
// itself. A graph format given to another command is a usage error that names the valid ones.
func checkFormat(cmd *cobra.Command, format string) error {
	if extra := cmd.Annotations[extraFormatsAnnotation]; extra != "" && slices.Contains(strings.Split(extra, ","), format) {
		return nil
	}
	if slices.Contains(graphFormats, format) {
		return exitcode.Usagef("--format %s draws the inventory and is only for 'runnet inventory'; valid for '%s': %s",
			format, cmd.CommandPath(), strings.Join(printer.Formats, ", "))
	}
	return printer.Validate(format)
}

const inventoryRenderLong = `

Pictures. --format mermaid prints the inventory as a Mermaid flowchart (GitHub
and most wikis draw it), --format dot as a Graphviz digraph (dot -Tsvg): one
group per project, its connectors and Direct VPC subnets, and the workloads
that use them, each edge labelled with the mode and egress setting and each
node coloured by state (on Direct VPC, to migrate, blocked by a failed check,
connector unused). Output is deterministic, so it can be committed and diffed.

--report FILE writes one self-contained HTML page (no script, nothing loaded
when viewed: inline CSS and SVG, readable printed and in dark mode) with the
graph; each subnet's addresses as a bar (reserved now, at max scale, after the
proposed moves, with a rollout's overlap, against its size); each connector's
cost and use where known (shown as unknown otherwise); the preflight checks that
would fail for each workload still on a connector; and the 'runnet migrate'
commands to run next. The output of --format still goes to stdout.

For the pictures and the report, runnet also lists the subnets of each
connector's network and region (one more read per region) to propose where its
workloads could go: the fitting subnet already used by Direct VPC egress, else
the one with the most free /28 blocks, else a subnet that --create-subnet makes.
It runs the checks that need no further read (subnet-exists, subnet-size,
free-ips with every proposed move counted, direct-vpc-quota at the default
quota, ...); cloud-nat, firewall-rules and permissions are left to the dry run
of each command.`

// addInventoryRenderFlags adds --report and lets inventory take the graph formats.
func addInventoryRenderFlags(cmd *cobra.Command, o *InventoryOptions) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[extraFormatsAnnotation] = strings.Join(graphFormats, ",")
	cmd.Flags().StringVar(&o.Report, "report", "", "also write a self-contained HTML report (graph, address usage bars, checks, next commands) to this file")
	_ = cmd.MarkFlagFilename("report", "html")
	cmd.Example += `

  # The picture, for a pull request or a wiki page, and the report for the meeting:
  runnet inventory --format mermaid > egress.mmd
  runnet inventory --report egress-report.html`
}

// checkReportFlag checks --report before any API call: a file name in a directory that exists.
func (o *InventoryOptions) checkReportFlag(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("report") {
		return nil
	}
	if strings.TrimSpace(o.Report) == "" {
		return exitcode.Usagef("--report: no file name given; valid: the path of the HTML file to write, such as report.html")
	}
	if st, err := os.Stat(o.Report); err == nil && st.IsDir() {
		return exitcode.Usagef("--report %s: is a directory; valid: the path of the HTML file to write, such as %s", o.Report, filepath.Join(o.Report, "report.html"))
	}
	dir := filepath.Dir(o.Report)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return exitcode.Usagef("--report %s: directory %s does not exist", o.Report, dir)
	}
	return nil
}

// inventoryOutput prints an inventory: through the printer, or as a graph.
type inventoryOutput struct {
	f       *Factory
	format  string
	printer *printer.Printer // nil for the graph formats
}

// output returns how the inventory is printed; the graph formats bypass the printer.
func (o *InventoryOptions) output() (*inventoryOutput, error) {
	out := &inventoryOutput{f: o.f, format: o.f.OutputFormat()}
	if slices.Contains(graphFormats, out.format) {
		return out, nil
	}
	p, err := o.f.Printer()
	if err != nil {
		return nil, err
	}
	out.printer = p
	return out, nil
}

// render prints inv and writes the report, if asked for. The pictures and the report read
// the subnets of the connectors' networks, to propose where their workloads go.
func (o *InventoryOptions) render(ctx context.Context, c *cloud.Clients, out *inventoryOutput, inv Inventory) error {
	if out.printer != nil && o.Report == "" {
		return out.print(inv)
	}
	listed, notes := readProposalSubnets(ctx, c, inv)
	if err := ctx.Err(); err != nil {
		return err
	}
	m := inventoryMap(inv, listed)
	m.Notes = append(m.Notes, notes...)
	if out.printer != nil {
		if err := out.print(inv); err != nil {
			return err
		}
	} else {
		var b bytes.Buffer
		write := egressmap.WriteMermaid
		if out.format == formatDOT {
			write = egressmap.WriteDOT
		}
		if err := write(&b, m); err != nil {
			return err
		}
		if _, err := o.f.IOStreams.Out.Write(b.Bytes()); err != nil {
			return err
		}
	}
	if o.Report == "" {
		return nil
	}
	m.Subtitle = strings.TrimPrefix(m.Subtitle+" · read "+time.Now().UTC().Format("2006-01-02 15:04 UTC"), " · ")
	if err := writeFileAtomic(o.Report, func(w io.Writer) error { return egressmap.WriteHTML(w, m) }); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	netNotice(o.f, "Wrote the report to %s.", o.Report)
	return nil
}

// print prints the inventory with the printer; on a terminal, the table shows usage bars.
func (out *inventoryOutput) print(inv Inventory) error {
	if wantBars(out.f, out.printer) {
		return out.printer.Print(inventoryWithBars{inv})
	}
	return out.printer.Print(inv)
}

// inventoryWithBars is the inventory's table with usage bars (for a terminal).
type inventoryWithBars struct{ inv Inventory }

func (v inventoryWithBars) WriteText(w io.Writer) error { return v.inv.writeText(w, true) }

// writeFileAtomic writes a file through a temporary file in the same directory, so that a
// failure leaves any previous file whole.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readProposalSubnets lists the subnets of every region (and project) where a connector that
// workloads use lives, and of its network's project when that differs (Shared VPC), once per
// project and region, concurrently. A list that fails is a note: no move is proposed there.
func readProposalSubnets(ctx context.Context, c *cloud.Clients, inv Inventory) ([]*cloud.Subnet, []string) {
	type loc struct{ project, region string }
	var locs []loc
	add := func(l loc) {
		if l.project != "" && l.region != "" && !slices.Contains(locs, l) {
			locs = append(locs, l)
		}
	}
	for _, cn := range inv.Connectors {
		if len(cn.Users) == 0 || !cn.Exists {
			continue
		}
		add(loc{cn.Project, cn.Region})
		if n, err := egress.ParseNetworkRef(cn.Network, cn.Project); cn.Network != "" && err == nil {
			add(loc{n.Project, cn.Region})
		}
		if p := cn.SubnetPath(); p != "" {
			add(loc{pathProject(p), cn.Region})
		}
	}
	slices.SortFunc(locs, func(a, b loc) int { return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.region, b.region)) })
	lists := make([][]*cloud.Subnet, len(locs))
	errs := make([]error, len(locs))
	sem := make(chan struct{}, inventoryLookupConcurrency)
	var wg sync.WaitGroup
	for i, l := range locs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lists[i], errs[i] = c.ListSubnets(ctx, l.project, l.region)
		})
	}
	wg.Wait()
	var out []*cloud.Subnet
	var notes []string
	for i, l := range locs {
		if errs[i] != nil {
			notes = append(notes, fmt.Sprintf("The subnets of project %s in %s could not be listed (%s): no move to one of them is proposed.", l.project, l.region, cloud.ErrorCode(errs[i])))
			continue
		}
		out = append(out, lists[i]...)
	}
	return out, notes
}

// ---------------------------------------------------------------------------------------
// The adapter.

// connectorUse is what a connector costs and carries, as far as the inventory knows (nil
// fields are unknown: the report then says so).
func connectorUse(cn InventoryConnector) egressmap.Use {
	var u egressmap.Use
	var sources []string
	if i := cn.Instances; i != nil {
		n := i.Current
		u.Instances = &n
		sources = append(sources, i.Source)
	}
	if t := cn.Throughput; t != nil {
		peak := t.PeakMbps
		u.ThroughputMbps = &peak
	}
	if c := cn.MonthlyCost; c != nil {
		u.MonthlyCost = &egressmap.Money{Amount: c.Amount, Currency: c.Currency}
		sources = append(sources, "prices: "+c.Source)
	}
	if s := cn.SavingsIfMigrated; s != nil {
		u.MonthlySavings = &egressmap.Money{Amount: s.Amount, Currency: s.Currency}
	}
	u.Source = strings.Join(sources, "; ")
	return u
}

// uncheckedNote names the checks RunPreflight skips without the facts only further reads give.
const uncheckedNote = "Checks not run from the inventory: cloud-nat (egress all-traffic), firewall-rules and permissions; each command's dry run runs them."

// mapBuilder adapts an Inventory to egressmap's model.
type mapBuilder struct {
	inv      Inventory
	listed   map[string]*cloud.Subnet // path -> subnet, every subnet read
	invSubs  map[string]*InventorySubnet
	projects map[string]*egressmap.Project
	notes    []string
}

// proposal is where the workloads of one connector would go.
type proposal struct {
	connector *InventoryConnector
	network   string // path
	subnet    string // path of the subnet (existing or to create)
	sub       *cloud.Subnet
	create    bool // --create-subnet makes it
	movers    []*InventoryWorkload
}

// inventoryMap adapts inv to the model egressmap draws. listed are the subnets read to
// propose where the workloads of connectors go (see readProposalSubnets).
func inventoryMap(inv Inventory, listed []*cloud.Subnet) egressmap.Map {
	b := &mapBuilder{inv: inv, listed: map[string]*cloud.Subnet{}, invSubs: map[string]*InventorySubnet{}, projects: map[string]*egressmap.Project{}}
	for _, s := range listed {
		b.listed[s.Path] = s
	}
	for i := range inv.Subnets {
		s := &inv.Subnets[i]
		b.invSubs[s.Path] = s
		if s.Exists && b.listed[s.Path] == nil {
			b.listed[s.Path] = s.Subnet
		}
	}
	b.project(inv.Project)

	proposals := b.propose()
	byConnector := map[string]*proposal{}
	for _, p := range proposals {
		byConnector[p.connector.FullName] = p
	}
	checks := b.check(proposals)

	// Connectors.
	for i := range inv.Connectors {
		cn := &inv.Connectors[i]
		c := egressmap.Connector{
			Key: cn.FullName, Name: cn.Name, Region: cn.Region, Network: egress.ShortName(b.connectorNetwork(cn)),
			MachineType: cn.MachineType, MinInstances: cn.MinInstances, MaxInstances: cn.MaxInstances,
			State: connectorState(cn), Use: connectorUse(*cn),
		}
		if cn.Exists {
			c.APIState = cn.State
		}
		if p := byConnector[cn.FullName]; p != nil {
			c.Target = p.subnet
		}
		if !cn.UsersComplete && cn.Exists && len(cn.Users) == 0 {
			b.note("Connector %s: the workloads that use it could not all be read.", cn.Name)
		}
		pr := b.project(cn.Project)
		pr.Connectors = append(pr.Connectors, c)
	}

	// Subnets: those of the inventory, then those proposed.
	planned := map[string]int{} // subnet path -> blocks the proposals add
	largest := map[string]int{} // subnet path -> the largest workload's blocks, of users and movers
	for _, p := range proposals {
		for _, w := range p.movers {
			if checks[checkKey(w)].blocked {
				continue
			}
			planned[p.subnet] += w.MaxScaleBlocks
			largest[p.subnet] = max(largest[p.subnet], w.MaxScaleBlocks)
		}
	}
	for _, s := range inv.Subnets {
		for _, u := range s.Users {
			largest[s.Path] = max(largest[s.Path], u.MaxScaleBlocks)
		}
		es := mapSubnet(s.Subnet, s.Exists)
		es.MaxScaleIPs = s.MaxScaleIPs
		switch {
		case !s.Exists:
			es.State = egressmap.Missing
		case s.WouldRunOut:
			es.State = egressmap.RunsOut
		case s.Tight:
			es.State = egressmap.Tight
		default:
			es.State = egressmap.Fits
		}
		b.usage(&es, planned, largest)
		pr := b.project(s.Project)
		pr.Subnets = append(pr.Subnets, es)
	}
	drawn := map[string]bool{}
	for _, p := range proposals {
		if b.invSubs[p.subnet] != nil || drawn[p.subnet] {
			continue
		}
		drawn[p.subnet] = true
		var es egressmap.Subnet
		if p.sub != nil {
			es = mapSubnet(p.sub, true)
		} else {
			ref, _ := egress.ParseSubnetRef(p.subnet, "", "")
			es = egressmap.Subnet{Key: p.subnet, Name: ref.Name, Region: ref.Region, Network: egress.ShortName(p.network)}
		}
		es.State = egressmap.Candidate
		b.usage(&es, planned, largest)
		pr := b.project(pathProject(p.subnet))
		pr.Subnets = append(pr.Subnets, es)
	}

	// Workloads.
	nodes := map[string]bool{}
	for _, pr := range b.projects {
		for _, c := range pr.Connectors {
			nodes[c.Key] = true
		}
		for _, s := range pr.Subnets {
			nodes[s.Key] = true
		}
	}
	for _, w := range inv.Workloads {
		ew := egressmap.Workload{
			Key: workloadKey(w), Kind: w.Kind, Name: w.Name, Ref: w.Workload, Region: w.Region, Mode: w.Mode,
			Egress: w.Egress, MaxScale: w.MaxScaleInstances,
		}
		switch w.Mode {
		case string(egress.ModeConnector):
			ew.Via, ew.State = w.Connector, egressmap.ToMigrate
			if r, ok := checks[checkKey(&w)]; ok {
				ew.Failing, ew.Unchecked = r.failing, r.unchecked
				if r.blocked {
					ew.State = egressmap.Blocked
				}
			} else {
				ew.Unchecked = []string{"every check (no subnet to move to is known)"}
			}
		case string(egress.ModeDirect):
			ew.Via, ew.State = w.Subnet, egressmap.Migrated
		default:
			ew.State = egressmap.NoVPC
		}
		if ew.Via != "" && !nodes[ew.Via] {
			b.note("%s uses %s, which could not be read.", w.Workload, ew.Via)
			ew.Via = ""
		}
		pr := b.project(w.Project)
		pr.Workloads = append(pr.Workloads, ew)
	}

	m := egressmap.Map{
		Title:    "Egress map of " + inv.Project,
		Subtitle: describeRegionList(inv.Regions),
		Commands: b.commands(proposals, checks),
	}
	for _, id := range slices.Sorted(maps.Keys(b.projects)) {
		m.Projects = append(m.Projects, *b.projects[id])
	}
	for _, f := range inv.Findings {
		m.Findings = append(m.Findings, egressmap.Finding{Severity: f.Severity, Kind: f.Kind, Message: f.Message})
	}
	for _, e := range inv.Errors {
		code := e.Code
		if code == "" {
			code = "error"
		}
		b.note("Region %s: %s could not be read (%s).", e.Region, e.Read, code)
	}
	if len(checks) > 0 {
		b.note("%s", uncheckedNote)
	}
	m.Notes = b.notes
	return m
}

func (b *mapBuilder) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(b.notes, n) {
		b.notes = append(b.notes, n)
	}
}

func (b *mapBuilder) project(id string) *egressmap.Project {
	p := b.projects[id]
	if p == nil {
		p = &egressmap.Project{ID: id}
		b.projects[id] = p
	}
	return p
}

func describeRegionList(rs []string) string {
	switch len(rs) {
	case 0:
		return ""
	case 1:
		return "region " + rs[0]
	}
	return "regions " + strings.Join(rs, ", ")
}

// workloadKey is a workload's resource name, unique across projects, regions and kinds.
func workloadKey(w InventoryWorkload) string {
	coll := "services"
	switch egress.Kind(w.Kind) {
	case egress.KindJob:
		coll = "jobs"
	case egress.KindWorkerPool:
		coll = "workerPools"
	}
	return "projects/" + w.Project + "/locations/" + w.Region + "/" + coll + "/" + w.Name
}

func connectorState(cn *InventoryConnector) egressmap.State {
	switch {
	case !cn.Exists:
		return egressmap.Missing
	case cn.State != cloud.ConnectorReady:
		return egressmap.NotReady
	case cn.Unused:
		return egressmap.Unused
	case cn.Oversized:
		return egressmap.Oversized
	}
	return egressmap.InUse
}

func mapSubnet(s *cloud.Subnet, exists bool) egressmap.Subnet {
	es := egressmap.Subnet{Key: s.Path, Name: s.Name, Region: s.Region, Network: s.Network}
	if exists {
		es.CIDR, es.Size, es.Usable, es.Blocks = s.IPCIDRRange, int(s.Size), int(s.UsableIPs), s.Blocks
		es.ReservedIPs = int(s.ReservedIPs)
	}
	return es
}

// usage fills a subnet's planned and rollout figures.
func (b *mapBuilder) usage(s *egressmap.Subnet, planned, largest map[string]int) {
	s.PlannedIPs = s.MaxScaleIPs + planned[s.Key]*ipam.DirectVPCBlockSize
	s.RolloutIPs = s.PlannedIPs + largest[s.Key]*ipam.DirectVPCBlockSize*(egress.RolloutOverlapFactor-1)
}

// connectorNetwork is the path of a connector's network: as the API gives it, else its /28
// subnet's, else "".
func (b *mapBuilder) connectorNetwork(cn *InventoryConnector) string {
	if cn.Network != "" {
		if n, err := egress.ParseNetworkRef(cn.Network, cn.Project); err == nil {
			return n.Path()
		}
	}
	if s := b.listed[cn.SubnetPath()]; s != nil {
		return s.NetworkPath
	}
	return ""
}

// propose picks, for each connector that workloads use, the subnet they would move to: in
// the connector's network and region, eligible for Direct VPC egress; one that Direct VPC
// egress already uses first, then the one with the most room (free /28 blocks less what its
// workloads take at max scale), then by name. With none, --create-subnet makes
// NETWORK-direct. Connectors whose network is unknown get no proposal.
func (b *mapBuilder) propose() []*proposal {
	var out []*proposal
	for i := range b.inv.Connectors {
		cn := &b.inv.Connectors[i]
		var movers []*InventoryWorkload
		for j := range b.inv.Workloads {
			w := &b.inv.Workloads[j]
			if w.Mode == string(egress.ModeConnector) && w.Connector == cn.FullName {
				movers = append(movers, w)
			}
		}
		if len(movers) == 0 {
			continue
		}
		network := b.connectorNetwork(cn)
		if network == "" {
			b.note("Connector %s: its network is not known, so no subnet is proposed for its %d workload%s.", cn.Name, len(movers), netPlural(len(movers)))
			continue
		}
		p := &proposal{connector: cn, network: network, movers: movers}
		type cand struct {
			s     *cloud.Subnet
			used  bool
			room  int
			label string
		}
		var cands []cand
		for _, s := range b.listed {
			if s.NetworkPath != network || s.Region != cn.Region || !s.DirectVPCEligible || (s.Purpose != "" && s.Purpose != "PRIVATE") {
				continue
			}
			c := cand{s: s, room: s.FreeBlocks, label: s.Path}
			if is := b.invSubs[s.Path]; is != nil && len(is.Users) > 0 {
				c.used, c.room = true, min(s.FreeBlocks, s.Blocks-is.MaxScaleBlocks)
			}
			cands = append(cands, c)
		}
		slices.SortFunc(cands, func(x, y cand) int {
			if x.used != y.used {
				if x.used {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(y.room, x.room), cmp.Compare(x.label, y.label))
		})
		if len(cands) > 0 {
			p.sub, p.subnet = cands[0].s, cands[0].s.Path
		} else {
			nref, _ := egress.ParseNetworkRef(network, cn.Project)
			p.create = true
			p.subnet = egress.SubnetRef{Project: nref.Project, Region: cn.Region, Name: migration.DefaultSubnetName(network)}.Path()
		}
		out = append(out, p)
	}
	return out
}

// checkResult is what the checks say of one workload's proposed move.
type checkResult struct {
	blocked   bool
	failing   []egressmap.Check
	unchecked []string
}

// check runs the preflight checks of each proposed move with what the inventory knows: the
// subnet, its users, the connector. The checks that need more (Cloud NAT, firewall rules,
// permissions) are skipped and named. Two passes: each move alone first; then the moves no
// check blocked, together, each counting the others that go into the same subnet at their
// maximum scale (as migrate does for a fleet). A workload blocked on its own does not count
// against the others: it stays where it is. Results are keyed by checkKey.
func (b *mapBuilder) check(proposals []*proposal) map[string]checkResult {
	out := map[string]checkResult{}
	for _, p := range proposals {
		for _, w := range p.movers {
			out[checkKey(w)] = b.checkMove(p, w, nil)
		}
	}
	moving := map[string][]egress.SubnetUser{}
	for _, p := range proposals {
		for _, w := range p.movers {
			if !out[checkKey(w)].blocked {
				moving[p.subnet] = append(moving[p.subnet], egress.SubnetUser{Ref: workloadRef(w), MaxInstances: w.MaxInstances})
			}
		}
	}
	for _, p := range proposals {
		for _, w := range p.movers {
			if !out[checkKey(w)].blocked && len(moving[p.subnet]) > 1 {
				out[checkKey(w)] = b.checkMove(p, w, moving[p.subnet])
			}
		}
	}
	return out
}

// checkMove runs the checks of moving w as p proposes, with others moving into the same
// subnet at once.
func (b *mapBuilder) checkMove(p *proposal, w *InventoryWorkload, others []egress.SubnetUser) checkResult {
	cn := p.connector
	cf := &egress.ConnectorFacts{Name: cn.FullName, Exists: cn.Exists, Region: cn.Region, Network: cn.Network,
		State: cn.State, IPCIDRRange: cn.IPCIDRRange, Subnet: cn.SubnetPath(), SubnetCIDR: cn.SubnetRange}
	var sf *egress.SubnetFacts
	var sharing []egress.SubnetUser
	switch {
	case p.create:
		sf = &egress.SubnetFacts{Name: p.subnet, Region: cn.Region, Network: p.network, WillCreate: true}
	case p.sub != nil:
		f := p.sub.Facts()
		sf = &f
		sharedBlocks := 0
		if is := b.invSubs[p.subnet]; is != nil {
			for _, u := range is.Users {
				ref := egress.WorkloadRef{Kind: egress.Kind(u.Kind), Project: u.Project, Region: u.Region, Name: u.Name}
				sharing = append(sharing, egress.SubnetUser{Ref: ref, MaxInstances: u.MaxInstances})
				sharedBlocks += u.MaxScaleBlocks
			}
		}
		// Cloud Run's reservations are held by the subnet's users, counted at max scale.
		sf.SharedReservedIPs = min(p.sub.ServerlessIPs, int64(sharedBlocks*ipam.DirectVPCBlockSize))
	}
	facts := egress.Facts{
		Workload: egress.Workload{Ref: workloadRef(w), VPC: egress.VPC{Connector: w.Connector, Egress: egress.Egress(w.Egress)}, MaxInstances: w.MaxInstances},
		Target:   egress.VPC{Network: p.network, Subnet: p.subnet, Egress: egress.Egress(w.Egress)},
		Sharing:  append(sharing, others...),
		Network:  &egress.NetworkFacts{Name: p.network, Exists: true},
		Subnet:   sf, CurrentConnector: cf,
	}
	var r checkResult
	for _, c := range shared.Checks(egress.RunPreflight(facts)) {
		switch c.Status {
		case egress.StatusFail:
			r.blocked = true
			fallthrough
		case egress.StatusWarn:
			r.failing = append(r.failing, egressmap.Check{Name: c.Name, Status: string(c.Status), Message: c.Message, Hint: c.Hint})
		case egress.StatusSkip:
			r.unchecked = append(r.unchecked, c.Name)
		}
	}
	return r
}

// checkKey names a workload in the results of check.
func checkKey(w *InventoryWorkload) string { return w.Workload + "@" + w.Project + "/" + w.Region }

func workloadRef(w *InventoryWorkload) egress.WorkloadRef {
	return egress.WorkloadRef{Kind: egress.Kind(w.Kind), Project: w.Project, Region: w.Region, Name: w.Name}
}

// commands are the `runnet migrate` commands of the proposals: one per project and region of
// the workloads and connector, for the workloads no check blocks. When they are all of the
// connector's workloads, the command takes them with --all --from-connector and deletes the
// connector at the end (--cleanup); otherwise it names them.
func (b *mapBuilder) commands(proposals []*proposal, checks map[string]checkResult) []egressmap.Command {
	type group struct {
		p               *proposal
		project, region string
		moving, blocked []*InventoryWorkload
		cleanup         bool // the command moves every user of the connector: --cleanup
	}
	var groups []*group
	for _, p := range proposals {
		byLoc := map[string]*group{}
		for _, w := range p.movers {
			k := w.Project + "/" + w.Region
			g := byLoc[k]
			if g == nil {
				g = &group{p: p, project: w.Project, region: w.Region}
				byLoc[k] = g
				groups = append(groups, g)
			}
			if checks[checkKey(w)].blocked {
				g.blocked = append(g.blocked, w)
			} else {
				g.moving = append(g.moving, w)
			}
		}
		for _, g := range byLoc {
			g.cleanup = len(byLoc) == 1 && len(g.blocked) == 0 && p.connector.UsersComplete
		}
	}
	slices.SortStableFunc(groups, func(x, y *group) int {
		return cmp.Or(cmp.Compare(x.project, y.project), cmp.Compare(x.region, y.region), cmp.Compare(x.p.connector.Name, y.p.connector.Name))
	})
	var out []egressmap.Command
	for _, g := range groups {
		if len(g.moving) == 0 {
			b.note("No workload of project %s leaves connector %s yet: a check blocks each (see the table).", g.project, g.p.connector.Name)
			continue
		}
		cn := g.p.connector
		connArg := cn.Name
		if cn.Project != g.project || cn.Region != g.region {
			connArg = cn.FullName
		}
		var args []string
		all := g.cleanup && len(g.moving) > 1
		if all {
			args = append(args, "--all", "--from-connector", connArg)
		} else {
			for _, w := range g.moving {
				args = append(args, w.Workload)
			}
		}
		args = append(args, "--to", "direct")
		subArg := egress.ShortName(g.p.subnet)
		if pathProject(g.p.subnet) != g.project {
			subArg = g.p.subnet
		}
		target := "subnet " + egress.ShortName(g.p.subnet)
		if g.p.create {
			netArg := egress.ShortName(g.p.network)
			if pathProject(g.p.network) != g.project {
				netArg = g.p.network
			}
			args = append(args, "--network", netArg, "--create-subnet")
			target = "a new subnet " + egress.ShortName(g.p.subnet) + " (created first, sized for them)"
		} else {
			args = append(args, "--subnet", subArg)
		}
		if g.cleanup {
			args = append(args, "--cleanup")
		}
		args = append(args, "--project", g.project, "--region", g.region)
		line := "runnet migrate " + strings.Join(quoteArgs(args), " ")
		why := fmt.Sprintf("Moves %d workload%s of project %s off connector %s to %s", len(g.moving), netPlural(len(g.moving)), g.project, cn.Name, target)
		if g.cleanup {
			why += ", then deletes the connector, which nothing uses any more"
		}
		if len(g.blocked) > 0 {
			names := make([]string, len(g.blocked))
			for i, w := range g.blocked {
				names[i] = w.Workload
			}
			why += fmt.Sprintf(" (%s stay%s: a check fails)", strings.Join(names, ", "), verbS(len(g.blocked)))
		}
		keys := make([]string, len(g.moving))
		for i, w := range g.moving {
			keys[i] = workloadKey(*w)
		}
		out = append(out, egressmap.Command{Connector: cn.FullName, Workloads: keys, Why: why + ".", Line: line, DryRun: line + " --dry-run"})
	}
	return out
}

// quoteArgs quotes for a POSIX shell the arguments that need it.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=,:@", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

// usageBar is a usage bar for a table on a terminal.
func usageBar(used, total int) string { return iostreams.Bar(used, total, iostreams.BarWidth) }

// startReading says that the inventory reads regions: a spinner where the terminal can
// animate, else a progress line (on a terminal).
func (o *InventoryOptions) startReading(regions int) func() {
	what := fmt.Sprintf("Reading %d region%s of project %s", regions, netPlural(regions), o.Project)
	if o.f.IOStreams.CanAnimate() {
		return startWait(o.f, what)
	}
	o.f.IOStreams.Progressf("%s...", what)
	return func() {}
}

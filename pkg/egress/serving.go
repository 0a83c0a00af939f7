package egress

import (
	"fmt"
	"slices"
	"strings"
)

// This file is a workload's serving state: what actually serves its traffic, as opposed to
// what its template asks for. A service's traffic can be pinned to a named revision (after
// `gcloud run deploy --no-traffic` or `update-traffic --to-revisions`), split between
// revisions, or reach an older revision through a tag; a worker pool's instances can be split
// the same way; and a template whose latest revision failed to start serves nothing. Every
// decision about a workload's mode (status, inventory), about who uses a connector (users,
// delete, cleanup) and about whether a migration is already done is made from this state,
// never from the template alone.

// ServingRevision is a revision of a service or worker pool that serves: it receives a share
// of the traffic (a worker pool: of its instances), or carries a traffic tag (its tag URL
// reaches it), or the traffic configuration names it with a share it is about to get.
type ServingRevision struct {
	// Name is the revision's short name.
	Name string `json:"revision"`
	// Percent is its share of the traffic (instances) now, 0 to 100.
	Percent int `json:"percent"`
	// Tags are its traffic tags (services only).
	Tags []string `json:"tags,omitempty"`
	// VPC is the VPC access the revision was created with, as the API holds it.
	VPC VPC `json:"vpc"`
	// Latest is set for the latest created revision: its settings are the template's.
	Latest bool `json:"latest,omitempty"`
	// SameConfig reports, when known, whether everything of the revision other than its VPC
	// access (image, environment, resources, scaling...) is what the template holds now.
	// nil means not compared. A migration that moves the revision's traffic to a new
	// revision built from the template changes what serves when it is false.
	SameConfig *bool `json:"sameConfig,omitempty"`
}

// Mode returns the mode of the revision's VPC access.
func (r ServingRevision) Mode() Mode { return r.VPC.Mode() }

// RunningExecution is a job execution that is still running, with the VPC access it started
// with (a job's template change does not reach it).
type RunningExecution struct {
	Name string `json:"execution"`
	VPC  VPC    `json:"vpc"`
}

// ServingState is what serves a workload's traffic now, and what its template asks for.
type ServingState struct {
	// Ref names the workload.
	Ref WorkloadRef `json:"-"`
	// Template is the template's VPC access: what the next revision (a job's next execution)
	// uses.
	Template VPC `json:"template"`
	// Revisions are the serving revisions (services and worker pools), the largest share
	// first, then by name.
	Revisions []ServingRevision `json:"revisions,omitempty"`
	// Executions are a job's running executions.
	Executions []RunningExecution `json:"executions,omitempty"`
	// LatestCreated and LatestReady are the latest created and latest ready revisions.
	LatestCreated string `json:"latestCreatedRevision,omitempty"`
	LatestReady   string `json:"latestReadyRevision,omitempty"`
	// LatestFailed is set when the latest created revision failed to become ready: the
	// template's settings serve nothing.
	LatestFailed bool `json:"latestFailed"`
	// LatestFailure is why, when known.
	LatestFailure string `json:"latestFailure,omitempty"`
	// Pinned is set for a service or worker pool whose traffic (instances) does not follow
	// the latest ready revision: a new revision gets none of it unless it is named.
	Pinned bool `json:"pinned"`
}

// hasRevisions reports whether the workload's kind serves through revisions.
func (s *ServingState) hasRevisions() bool { return s.Ref.Kind != KindJob }

// Receiving returns the revisions with a share of the traffic (instances).
func (s *ServingState) Receiving() []ServingRevision {
	var out []ServingRevision
	for _, r := range s.Revisions {
		if r.Percent > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Revision returns the serving revision named name, if it serves.
func (s *ServingState) Revision(name string) (ServingRevision, bool) {
	for _, r := range s.Revisions {
		if r.Name == name {
			return r, true
		}
	}
	return ServingRevision{}, false
}

// same reports whether two VPC settings of the workload are equivalent.
func (s *ServingState) same(a, b VPC) bool { return sameVPC(a, b, s.Ref) }

// Same reports whether two VPC settings are equivalent for the workload (see VPC.Equivalent).
func (s *ServingState) Same(a, b VPC) bool { return s.same(a, b) }

// TemplateShare is the share of the traffic (instances) that revisions with the template's
// settings receive.
func (s *ServingState) TemplateShare() int {
	n := 0
	for _, r := range s.Receiving() {
		if s.same(r.VPC, s.Template) {
			n += r.Percent
		}
	}
	return n
}

// VPC returns the VPC access that serves: for jobs the template's (what the next execution
// uses); otherwise that of the settings with the largest share of the traffic (instances),
// adding up the revisions that have the same settings, and the template's when nothing
// receives traffic.
func (s *ServingState) VPC() VPC {
	if !s.hasRevisions() {
		return s.Template
	}
	type group struct {
		vpc   VPC
		share int
		first int
	}
	var groups []group
	for i, r := range s.Receiving() {
		j := slices.IndexFunc(groups, func(g group) bool { return s.same(g.vpc, r.VPC) })
		if j < 0 {
			groups = append(groups, group{vpc: r.VPC, first: i})
			j = len(groups) - 1
		}
		groups[j].share += r.Percent
	}
	if len(groups) == 0 {
		return s.Template
	}
	best := groups[0]
	for _, g := range groups[1:] {
		if g.share > best.share {
			best = g
		}
	}
	return best.vpc
}

// Mode returns the mode that serves (see VPC).
func (s *ServingState) Mode() Mode { return s.VPC().Mode() }

// Mixed reports whether the revisions that receive traffic use different VPC settings (a
// canary in progress, or a split between old and new settings).
func (s *ServingState) Mixed() bool {
	rs := s.Receiving()
	for _, r := range rs[min(1, len(rs)):] {
		if !s.same(r.VPC, rs[0].VPC) {
			return true
		}
	}
	return false
}

// TemplateDiffers reports whether the template asks for other settings than what serves: a
// revision that receives traffic (instances) has other settings than the template. Jobs never
// differ (their template is what the next execution uses).
func (s *ServingState) TemplateDiffers() bool {
	if !s.hasRevisions() {
		return false
	}
	for _, r := range s.Receiving() {
		if !s.same(r.VPC, s.Template) {
			return true
		}
	}
	return false
}

// Serves reports whether target is in force: the template has it, its latest revision did
// not fail, and every revision that receives traffic (instances) has it. Revisions that only
// carry a tag are not counted: a migration never moves a tag (see Stragglers).
func (s *ServingState) Serves(target VPC) bool {
	if !s.same(s.Template, target) || s.LatestFailed {
		return false
	}
	for _, r := range s.Receiving() {
		if !s.same(r.VPC, target) {
			return false
		}
	}
	return true
}

// Off returns the revisions that receive traffic (instances) with other settings than
// target: the ones whose share a migration to target moves.
func (s *ServingState) Off(target VPC) []ServingRevision {
	var out []ServingRevision
	for _, r := range s.Receiving() {
		if !s.same(r.VPC, target) {
			out = append(out, r)
		}
	}
	return out
}

// Stragglers returns the revisions that only carry a tag (no share of the traffic) and use
// other settings than target: they keep serving through their tag URLs with those settings.
func (s *ServingState) Stragglers(target VPC) []ServingRevision {
	var out []ServingRevision
	for _, r := range s.Revisions {
		if r.Percent == 0 && len(r.Tags) > 0 && !s.same(r.VPC, target) {
			out = append(out, r)
		}
	}
	return out
}

// usesConnector reports whether v, held by a workload of ref's project and region, names conn.
func usesConnector(v VPC, ref WorkloadRef, conn ConnectorRef) bool {
	if v.Connector == "" {
		return false
	}
	c, err := ParseConnectorRef(v.Connector, ref.Project, ref.Region)
	return err == nil && c == conn
}

// ConnectorUsers returns how the workload uses conn: through its template (the next revision
// or execution, and the latest revision, which was made from it), through other revisions
// that receive traffic or carry a tag, and through running job executions. It returns nil
// when nothing of the workload uses it.
func (s *ServingState) ConnectorUsers(conn ConnectorRef) []ConnectorUser {
	var out []ConnectorUser
	template := usesConnector(s.Template, s.Ref, conn)
	if template {
		out = append(out, ConnectorUser{Workload: s.Ref})
	}
	for _, r := range s.Revisions {
		if r.Latest && template {
			continue // the template's own revision: the template entry says it
		}
		if usesConnector(r.VPC, s.Ref, conn) {
			out = append(out, ConnectorUser{Workload: s.Ref, Revision: r.Name, Percent: r.Percent, Tags: slices.Clone(r.Tags)})
		}
	}
	for _, e := range s.Executions {
		if usesConnector(e.VPC, s.Ref, conn) {
			out = append(out, ConnectorUser{Workload: s.Ref, Execution: e.Name})
		}
	}
	return out
}

// UsesConnector reports whether anything of the workload uses conn (see ConnectorUsers).
func (s *ServingState) UsesConnector(conn ConnectorRef) bool { return len(s.ConnectorUsers(conn)) > 0 }

// Connectors returns the connectors (full names) the workload uses: its template's, its
// serving revisions' and its running executions', in that order, without duplicates.
func (s *ServingState) Connectors() []string {
	var out []string
	add := func(v VPC) {
		if v.Connector == "" {
			return
		}
		c, err := ParseConnectorRef(v.Connector, s.Ref.Project, s.Ref.Region)
		name := v.Connector
		if err == nil {
			name = c.FullName()
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	add(s.Template)
	for _, r := range s.Revisions {
		add(r.VPC)
	}
	for _, e := range s.Executions {
		add(e.VPC)
	}
	return out
}

// Subnets returns the Direct VPC subnetworks (canonical paths) the workload uses, as
// Connectors does for connectors.
func (s *ServingState) Subnets() []string {
	var out []string
	add := func(v VPC) {
		if v.Mode() != ModeDirect {
			return
		}
		c, err := v.Canonical(s.Ref.Project, s.Ref.Region)
		if err != nil {
			return
		}
		if !slices.Contains(out, c.Subnet) {
			out = append(out, c.Subnet)
		}
	}
	add(s.Template)
	for _, r := range s.Revisions {
		add(r.VPC)
	}
	for _, e := range s.Executions {
		add(e.VPC)
	}
	return out
}

// Describe says in one line what serves, for messages, such as
// "revision run-service-00001-abc (100%, connector run-connector)".
func (s *ServingState) Describe() string {
	if !s.hasRevisions() {
		return "the template (" + describeVPCShort(s.Template) + ")"
	}
	var parts []string
	for _, r := range s.Revisions {
		parts = append(parts, r.describe())
	}
	if len(parts) == 0 {
		return "no revision"
	}
	return strings.Join(parts, ", ")
}

func (r ServingRevision) describe() string {
	var what []string
	what = append(what, fmt.Sprintf("%d%%", r.Percent))
	for _, t := range r.Tags {
		what = append(what, "tag "+t)
	}
	what = append(what, describeVPCShort(r.VPC))
	return fmt.Sprintf("revision %s (%s)", r.Name, strings.Join(what, ", "))
}

// NewServingState works out what serves w from its traffic (instance splits) as asked for and
// as in force, and vpcOf, the VPC access of each serving revision (by short name; a revision
// missing from it is left out: it is gone). The template's VPC is w.VPC; latestFailure is why
// the latest revision failed, when it did.
func NewServingState(w Workload, status []TrafficTarget, vpcOf map[string]VPC, latestFailed bool, latestFailure string) *ServingState {
	s := &ServingState{
		Ref: w.Ref, Template: w.VPC, LatestCreated: w.LatestCreated, LatestReady: w.LatestReady,
		LatestFailed: latestFailed, LatestFailure: latestFailure,
	}
	if w.Ref.Kind == KindJob {
		return s
	}
	s.Pinned = Pinned(w.Traffic)
	byName := map[string]*ServingRevision{}
	var order []string
	add := func(name string) *ServingRevision {
		if r, ok := byName[name]; ok {
			return r
		}
		r := &ServingRevision{Name: name, Latest: name == w.LatestCreated}
		byName[name] = r
		order = append(order, name)
		return r
	}
	resolve := func(t TrafficTarget) string {
		if t.Latest {
			return w.LatestReady
		}
		return t.Revision
	}
	// The routing in force; what is asked for when nothing is in force yet.
	shares := status
	if len(shares) == 0 {
		shares = w.Traffic
		if len(shares) == 0 && w.LatestReady != "" {
			shares = []TrafficTarget{{Latest: true, Percent: 100}}
		}
	}
	for _, t := range shares {
		name := resolve(t)
		if name == "" || (t.Percent == 0 && t.Tag == "") {
			continue
		}
		r := add(name)
		r.Percent += t.Percent
		if t.Tag != "" && !slices.Contains(r.Tags, t.Tag) {
			r.Tags = append(r.Tags, t.Tag)
		}
	}
	// What is asked for but not in force yet (a change being rolled out) serves soon.
	for _, t := range w.Traffic {
		name := resolve(t)
		if name == "" || (t.Percent == 0 && t.Tag == "") {
			continue
		}
		r := add(name)
		if t.Tag != "" && !slices.Contains(r.Tags, t.Tag) {
			r.Tags = append(r.Tags, t.Tag)
		}
	}
	for _, name := range order {
		r := byName[name]
		v, ok := vpcOf[name]
		if !ok {
			continue
		}
		r.VPC = v
		s.Revisions = append(s.Revisions, *r)
	}
	slices.SortStableFunc(s.Revisions, func(a, b ServingRevision) int {
		if a.Percent != b.Percent {
			return b.Percent - a.Percent
		}
		return strings.Compare(a.Name, b.Name)
	})
	return s
}

// ServingRevisionNames returns the revisions NewServingState needs the VPC access of: every
// revision the traffic (instance splits), asked for or in force, gives a share or a tag, the
// latest ready revision resolving "latest".
func ServingRevisionNames(w Workload, status []TrafficTarget) []string {
	if w.Ref.Kind == KindJob {
		return nil
	}
	var out []string
	add := func(ts []TrafficTarget) {
		for _, t := range ts {
			name := t.Revision
			if t.Latest {
				name = w.LatestReady
			}
			if name == "" || (t.Percent == 0 && t.Tag == "") || slices.Contains(out, name) {
				continue
			}
			out = append(out, name)
		}
	}
	add(status)
	add(w.Traffic)
	if len(status) == 0 && len(w.Traffic) == 0 && w.LatestReady != "" {
		out = append(out, w.LatestReady)
	}
	return out
}

// Pinned reports whether a traffic split (instance splits) as asked for gives the latest
// ready revision no share by following it: a new revision then gets 0% unless named.
func Pinned(traffic []TrafficTarget) bool {
	if len(traffic) == 0 {
		return false // the API's default: 100% to the latest ready revision
	}
	for _, t := range traffic {
		if t.Latest && t.Percent > 0 {
			return false
		}
	}
	return true
}

// MoveTraffic returns traffic (a worker pool's instance splits) with the share of the
// revisions from given to into, in their place: entries naming one of from with a share name
// into and keep their tags; entries that follow the latest revision, entries that only carry
// a tag, and the other revisions' entries stay as they are. It is the split a migration ends
// with.
func MoveTraffic(traffic []TrafficTarget, from []string, into string) []TrafficTarget {
	return finalTraffic(traffic, from, into)
}

// LatestShare returns the share of the traffic (instances) that follows the latest ready
// revision: what a new revision gets once it is ready. No traffic at all is the API's default,
// 100% to the latest.
func LatestShare(traffic []TrafficTarget) int {
	if len(traffic) == 0 {
		return 100
	}
	n := 0
	for _, t := range traffic {
		if t.Latest {
			n += t.Percent
		}
	}
	return n
}

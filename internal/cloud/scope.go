package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// Reading many projects at once: a list of projects, a folder or an organization, through
// Cloud Asset Inventory where the caller may search, and project by project, region by region
// through Cloud Run, VPC Access and Compute where it may not. This is the reader behind
// `inventory --projects/--folder/--organization`, `connector users` across Shared VPC service
// projects, and fleet migrations off a host project's connector.

// Scope is what to read: Projects, or every project under Parent (folders/NUMBER or
// organizations/NUMBER). Exactly one is set.
type Scope struct {
	Projects []string
	Parent   string
}

// Validate checks that exactly one of Projects and Parent is set, with valid names.
func (s Scope) Validate() error {
	switch {
	case len(s.Projects) > 0 && s.Parent != "":
		return errors.New("give projects or a folder/organization, not both")
	case len(s.Projects) == 0 && s.Parent == "":
		return errors.New("no project, folder or organization given")
	case s.Parent != "":
		return ValidateHierarchyParent(s.Parent)
	}
	for _, p := range s.Projects {
		if err := egress.ValidateProject(p); err != nil {
			return err
		}
	}
	return nil
}

// How a project (or a whole folder or organization) was read.
const (
	ViaCloudAsset = "cloudasset"
	ViaListing    = "listing"
)

// ScopeSource says how part of a scope was read: Scope (a folder, an organization or one
// project) through Cloud Asset Inventory, or Project by listing, and why (Reason: the search
// that was refused).
type ScopeSource struct {
	Scope   string `json:"scope"`
	Via     string `json:"via"`
	Reason  string `json:"reason,omitempty"`
	Regions int    `json:"regions,omitempty"`
}

// ScopeError is a read of a scope that failed: a project (or a folder's hierarchy), a region
// when the read was per region, and what could not be read.
type ScopeError struct {
	Scope  string
	Region string
	Read   string
	Err    error
}

func (e *ScopeError) Error() string { return e.Err.Error() }
func (e *ScopeError) Unwrap() error { return e.Err }

// ScopeRead is what ReadScope found.
type ScopeRead struct {
	// Projects are the projects read, sorted: those listed, or those under the folder or
	// organization (as Resource Manager or Cloud Asset Inventory gave them).
	Projects   []string
	Workloads  []*Workload
	Connectors []*Connector
	Subnets    []*Subnet
	// Serving is what serves each of Workloads (same order): the revisions that receive
	// traffic (a worker pool's instances) or carry a tag, and a job's running executions.
	// nil when they could not be read (an error in Errors, Read "revisions"): the workloads
	// are then known by their templates only.
	Serving []*egress.ServingState
	Sources []ScopeSource
	Errors  []*ScopeError
	// AssetCalls counts SearchAllResources pages; ListCalls the per-project list calls;
	// ServingCalls the revisions and execution lists read to know what serves.
	AssetCalls, ListCalls, ServingCalls int
}

// scopeProjectConcurrency bounds the projects read at once when they are read one by one.
const scopeProjectConcurrency = 8

// ReadScope reads the workloads, connectors and subnetworks of scope in regions (every
// region when empty):
//
//   - a folder or an organization is searched first as a whole with Cloud Asset Inventory
//     (one search, a page per 500 resources);
//   - when that search is refused (the caller lacks cloudasset.assets.searchAllResources on
//     it), or for a list of projects, each project is searched on its own;
//   - a project whose search is refused is listed: in each region (RunRegions when regions
//     is empty), its services, jobs, worker pools, connectors and subnetworks.
//
// Sources says which path each part took and why; a failed read is in Errors, and the rest is
// still read. Workloads are sorted by project, region and name.
//
// Then what serves each workload (Serving), as the single-project inventory reads it
// (ServingStates): neither path holds revisions, but both give each workload's traffic
// status, so a revision is read only where traffic (or a tag) reaches another revision than
// the latest one created from the template, or while the workload reconciles, and a job's
// executions only while its latest one runs. A fleet that serves its templates costs no read.
func (c *Clients) ReadScope(ctx context.Context, s Scope, regions []string) *ScopeRead {
	out := c.readScope(ctx, s, regions)
	if len(out.Workloads) == 0 {
		return out
	}
	states, n, err := c.servingStates(ctx, out.Workloads)
	out.ServingCalls += n
	if err != nil {
		out.Errors = append(out.Errors, &ScopeError{Scope: scopeName(s), Read: "revisions",
			Err: fmt.Errorf("read what serves the workloads (their modes are their templates', and no connector is flagged unused): %w", err)})
		return out
	}
	out.Serving = states
	return out
}

// scopeName names s: folders/F, organizations/O or projects/a,b,c.
func scopeName(s Scope) string {
	if s.Parent != "" {
		return s.Parent
	}
	return "projects/" + strings.Join(s.Projects, ",")
}

func (c *Clients) readScope(ctx context.Context, s Scope, regions []string) *ScopeRead {
	out := &ScopeRead{}
	if err := s.Validate(); err != nil {
		out.Errors = append(out.Errors, &ScopeError{Read: "scope", Err: err})
		return out
	}
	projects := slices.Clone(s.Projects)
	if s.Parent != "" {
		// Resource Manager names the projects (the empty ones too) while Cloud Asset
		// Inventory searches: the walk costs a round trip per level of folders, the search
		// one per page, and neither waits for the other.
		var listed []*ProjectInfo
		var listErrs []error
		walked := make(chan struct{})
		go func() {
			defer close(walked)
			listed, listErrs = c.ProjectsUnder(ctx, s.Parent)
		}()
		a, err := c.SearchScope(ctx, s.Parent, regions)
		<-walked
		if err == nil {
			out.merge(a)
			out.Sources = append(out.Sources, ScopeSource{Scope: s.Parent, Via: ViaCloudAsset})
			// The projects are those with a resource found; Resource Manager names the
			// empty ones too, when the caller may list them.
			found := map[string]bool{}
			for _, w := range a.Workloads {
				found[w.Ref.Project] = true
			}
			for _, cn := range a.Connectors {
				found[cn.Project] = true
			}
			for _, sn := range a.Subnets {
				found[sn.Project] = true
			}
			for _, p := range listed { // the walk's errors do not matter: the search saw all
				found[p.ID] = true
			}
			out.Projects = sortedKeys(found)
			out.sort()
			return out
		}
		if !errors.Is(err, ErrAssetDenied) {
			out.Errors = append(out.Errors, &ScopeError{Scope: s.Parent, Read: "Cloud Asset Inventory", Err: err})
			return out
		}
		for _, e := range listErrs {
			out.Errors = append(out.Errors, &ScopeError{Scope: s.Parent, Read: "projects", Err: e})
		}
		for _, p := range listed {
			projects = append(projects, p.ID)
		}
		out.Sources = append(out.Sources, ScopeSource{Scope: s.Parent, Via: ViaListing, Reason: listingReason(s.Parent, len(listed), listErrs)})
	}
	sort.Strings(projects)
	projects = slices.Compact(projects)
	out.Projects = projects
	parts := make([]*ScopeRead, len(projects))
	sem := make(chan struct{}, scopeProjectConcurrency)
	var wg sync.WaitGroup
	for i, p := range projects {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			parts[i] = c.readProject(ctx, p, regions)
		})
	}
	wg.Wait()
	for _, p := range parts {
		out.Workloads = append(out.Workloads, p.Workloads...)
		out.Connectors = append(out.Connectors, p.Connectors...)
		out.Subnets = append(out.Subnets, p.Subnets...)
		out.Sources = append(out.Sources, p.Sources...)
		out.Errors = append(out.Errors, p.Errors...)
		out.AssetCalls += p.AssetCalls
		out.ListCalls += p.ListCalls
	}
	out.sort()
	return out
}

// listingReason says why parent is read project by project and what that covers: the
// projects Resource Manager listed under it, or why it listed none (the errors of the walk,
// which are reported too, and the permission a refused one needs).
func listingReason(parent string, listed int, errs []error) string {
	why := fmt.Sprintf("the caller may not search %s with Cloud Asset Inventory (%s)", parent, AssetPermission)
	projects, are := fmt.Sprintf("%d project", listed), "is"
	if listed != 1 {
		projects, are = projects+"s", "are"
	}
	if len(errs) == 0 {
		if listed == 0 {
			return why + ", and Resource Manager lists no project under it that the caller may see: nothing is read"
		}
		return fmt.Sprintf("%s: the %s Resource Manager lists under it %s read one by one", why, projects, are)
	}
	var perms []string
	for _, err := range errs {
		var he *HierarchyError
		if errors.As(err, &he) && he.Permission != "" && !slices.Contains(perms, he.Permission) {
			perms = append(perms, he.Permission)
		}
	}
	failed := "see the errors"
	if len(perms) > 0 {
		failed = "the caller lacks " + strings.Join(perms, " and ") + " on it"
	}
	if listed == 0 {
		return fmt.Sprintf("%s, and Resource Manager could not list the projects under it (%s): nothing under it is read", why, failed)
	}
	return fmt.Sprintf("%s, and Resource Manager could list only part of what it holds (%s): the %s it listed %s read one by one, and others may be missing", why, failed, projects, are)
}

// readProject reads one project: Cloud Asset Inventory, else listing.
func (c *Clients) readProject(ctx context.Context, project string, regions []string) *ScopeRead {
	out := &ScopeRead{}
	scope := "projects/" + project
	a, err := c.SearchScope(ctx, scope, regions)
	if err == nil {
		out.merge(a)
		out.Sources = append(out.Sources, ScopeSource{Scope: scope, Via: ViaCloudAsset})
		return out
	}
	if !errors.Is(err, ErrAssetDenied) {
		out.Errors = append(out.Errors, &ScopeError{Scope: scope, Read: "Cloud Asset Inventory", Err: err})
		return out
	}
	rs := regions
	if len(rs) == 0 {
		var rerr error
		rs, _, rerr = c.RunRegions(ctx, project)
		out.ListCalls++
		if rerr != nil {
			out.Errors = append(out.Errors, &ScopeError{Scope: scope, Read: "regions", Err: rerr})
			return out
		}
	}
	out.Sources = append(out.Sources, ScopeSource{Scope: scope, Via: ViaListing, Regions: len(rs),
		Reason: fmt.Sprintf("the caller may not search %s with Cloud Asset Inventory (%s)", scope, AssetPermission)})
	parts := make([]*ScopeRead, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { parts[i] = c.listRegion(ctx, project, r) })
	}
	wg.Wait()
	for _, p := range parts {
		out.Workloads = append(out.Workloads, p.Workloads...)
		out.Connectors = append(out.Connectors, p.Connectors...)
		out.Subnets = append(out.Subnets, p.Subnets...)
		out.Errors = append(out.Errors, p.Errors...)
		out.ListCalls += p.ListCalls
	}
	return out
}

// listRegion lists a project's workloads, connectors and subnetworks in one region.
func (c *Clients) listRegion(ctx context.Context, project, region string) *ScopeRead {
	out := &ScopeRead{ListCalls: 5}
	scope := "projects/" + project
	var wg sync.WaitGroup
	var connErr, subnetErr error
	wg.Go(func() { out.Connectors, connErr = c.ListConnectors(ctx, project, region) })
	wg.Go(func() { out.Subnets, subnetErr = c.ListSubnets(ctx, project, region) })
	ws, errs := c.ScanWorkloads(ctx, project, region)
	wg.Wait()
	out.Workloads = ws
	for _, err := range errs {
		read := "workloads"
		var le *WorkloadListError
		if errors.As(err, &le) {
			read = kindNoun(le.Kind) + "s"
		}
		out.Errors = append(out.Errors, &ScopeError{Scope: scope, Region: region, Read: read, Err: err})
	}
	if connErr != nil {
		out.Errors = append(out.Errors, &ScopeError{Scope: scope, Region: region, Read: "connectors", Err: connErr})
	}
	if subnetErr != nil {
		out.Errors = append(out.Errors, &ScopeError{Scope: scope, Region: region, Read: "subnetworks", Err: subnetErr})
	}
	return out
}

func (r *ScopeRead) merge(a *AssetRead) {
	r.Workloads = append(r.Workloads, a.Workloads...)
	r.Connectors = append(r.Connectors, a.Connectors...)
	r.Subnets = append(r.Subnets, a.Subnets...)
	r.AssetCalls += a.Calls
	r.ListCalls += a.Fetched
}

func (r *ScopeRead) sort() {
	slices.SortFunc(r.Workloads, func(a, b *Workload) int {
		return strings.Compare(a.Ref.Project+"/"+a.Ref.Region+"/"+a.Ref.Name+"/"+string(a.Ref.Kind),
			b.Ref.Project+"/"+b.Ref.Region+"/"+b.Ref.Name+"/"+string(b.Ref.Kind))
	})
	slices.SortFunc(r.Connectors, func(a, b *Connector) int { return strings.Compare(a.FullName, b.FullName) })
	slices.SortFunc(r.Subnets, func(a, b *Subnet) int { return strings.Compare(a.Path, b.Path) })
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ConnectorUsage is who uses one connector, across projects.
type ConnectorUsage struct {
	// Connector is the connector's full name; Host its project.
	Connector string
	Host      string
	// Projects are the projects searched: the host and the service projects attached to it
	// (or the scope given).
	Projects []string
	// Users are the workloads that use the connector, sorted by project: through their
	// template, a revision that receives traffic (instances) or carries a tag, or a running
	// job execution.
	Users []*Workload
	// Read is the read they came from (sources, errors).
	Read *ScopeRead
}

// Complete reports whether every project searched was read without error, so that "no
// users" means none.
func (u *ConnectorUsage) Complete() bool { return len(u.Read.Errors) == 0 }

// UserProjects returns the projects with at least one user, sorted, and the count of users
// in each.
func (u *ConnectorUsage) UserProjects() ([]string, map[string]int) {
	n := map[string]int{}
	for _, w := range u.Users {
		n[w.Ref.Project]++
	}
	ps := make([]string, 0, len(n))
	for p := range n {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps, n
}

// Summary is the host-project view: "connector X in host H is used by N workloads in M
// projects".
func (u *ConnectorUsage) Summary() string {
	ps, _ := u.UserProjects()
	ref, _ := egress.ParseConnectorRef(u.Connector, "", "")
	return fmt.Sprintf("connector %s in host %s is used by %d workload%s in %d project%s", ref.Name, u.Host,
		len(u.Users), pluralS(len(u.Users), "", "s"), len(ps), pluralS(len(ps), "", "s"))
}

// ConnectorUsersAcross finds the workloads that use connector (their template, or what
// serves them: ReadScope's Serving) in
// every project that may use it: with an empty scope, the connector's project and, when that
// project is a Shared VPC host, every service project attached to it (getXpnResources); else
// the scope given. Only the connector's region is read.
func (c *Clients) ConnectorUsersAcross(ctx context.Context, connector egress.ConnectorRef, scope Scope) (*ConnectorUsage, error) {
	if err := checkNames(connector); err != nil {
		return nil, err
	}
	u := &ConnectorUsage{Connector: connector.FullName(), Host: connector.Project}
	if len(scope.Projects) == 0 && scope.Parent == "" {
		others, err := c.OtherConnectorProjects(ctx, &Connector{Project: connector.Project})
		if err != nil {
			return nil, fmt.Errorf("find the projects that may use %s: %w", connector.FullName(), err)
		}
		scope.Projects = append([]string{connector.Project}, others...)
	}
	u.Read = c.ReadScope(ctx, scope, []string{connector.Region})
	u.Projects = u.Read.Projects
	for i, w := range u.Read.Workloads {
		if u.Read.Serving != nil {
			if u.Read.Serving[i].UsesConnector(connector) {
				u.Users = append(u.Users, w)
			}
		} else if UsesConnector(w, connector) { // what serves is unknown: Complete is false
			u.Users = append(u.Users, w)
		}
	}
	return u, nil
}

// UsesConnector reports whether w's template sends its traffic through connector.
func UsesConnector(w *Workload, connector egress.ConnectorRef) bool {
	v, err := w.VPC.Canonical(w.Ref.Project, w.Ref.Region)
	return err == nil && v.Connector == connector.FullName()
}

// OtherConnectorProjects returns, sorted, the projects other than the connector's own whose
// workloads may use it: those the API reports as connected to it (connected_projects), and,
// when its project is a Shared VPC host, every service project attached to it
// (getXpnResources), whether or not one of their workloads uses it yet.
func (c *Clients) OtherConnectorProjects(ctx context.Context, conn *Connector) ([]string, error) {
	set := map[string]bool{}
	for _, p := range conn.ConnectedProjects {
		set[p] = true
	}
	services, err := c.SharedVPCServiceProjects(ctx, conn.Project)
	if err != nil {
		return nil, err
	}
	for _, p := range services {
		set[p] = true
	}
	delete(set, conn.Project)
	return sortedKeys(set), nil
}

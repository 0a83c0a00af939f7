package migration

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/runnet-dev/runnet/internal/cloud"
	"github.com/runnet-dev/runnet/pkg/egress"
)

// A fleet across projects: `migrate --all --from-connector projects/H/locations/R/connectors/X`
// moves the connector's users in every project that may use it (the host and the Shared VPC
// service projects attached to it, or a --projects/--folder/--organization scope), each read
// from what serves it, at most Concurrency at once overall and PerProject at once in any one
// project, and reports per project.

// ProjectReader says which projects may use a connector, and which projects a folder or an
// organization holds. *cloud.Clients implements it.
type ProjectReader interface {
	SharedVPCServiceProjects(ctx context.Context, host string) ([]string, error)
	ProjectsUnder(ctx context.Context, parent string) ([]*cloud.ProjectInfo, []error)
}

// ProjectError is a project whose workloads could not be read: its users of the connector
// are unknown (they are not migrated, and the connector is not deleted).
type ProjectError struct {
	Project string `json:"project"`
	Error   string `json:"error"`
}

// listProjectsConcurrency bounds the projects listed at once.
const listProjectsConcurrency = 8

// connectorProjects are the projects whose workloads may use fc: the scope's, or fc's own
// and those OtherConnectorProjects names (connected projects, Shared VPC service projects).
func (e *Engine) connectorProjects(ctx context.Context, fc egress.ConnectorRef, scope *cloud.Scope) ([]string, []ProjectError, error) {
	pr, ok := e.Read.(ProjectReader)
	switch {
	case scope != nil && len(scope.Projects) > 0:
		return slices.Clone(scope.Projects), nil, nil
	case !ok:
		return []string{fc.Project}, nil, nil
	case scope != nil && scope.Parent != "":
		infos, errs := pr.ProjectsUnder(ctx, scope.Parent)
		var out []string
		for _, p := range infos {
			out = append(out, p.ID)
		}
		var perrs []ProjectError
		for _, err := range errs {
			perrs = append(perrs, ProjectError{Project: scope.Parent, Error: err.Error()})
		}
		sort.Strings(out)
		if len(out) == 0 && len(errs) > 0 {
			return nil, nil, fmt.Errorf("list the projects of %s: %w", scope.Parent, errs[0])
		}
		return out, perrs, nil
	}
	// The connector (its connected projects) and the host's service projects, at once.
	var (
		conn            *cloud.Connector
		services        []string
		connErr, xpnErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() { conn, connErr = e.Read.GetConnector(ctx, fc) })
	wg.Go(func() { services, xpnErr = pr.SharedVPCServiceProjects(ctx, fc.Project) })
	wg.Wait()
	switch {
	case cloud.IsNotFound(connErr):
		return []string{fc.Project}, nil, nil
	case connErr != nil:
		return nil, nil, fmt.Errorf("read --from-connector %s: %w", fc.Name, connErr)
	case xpnErr != nil:
		return nil, nil, fmt.Errorf("find the projects that may use connector %s: %w", fc.Name, xpnErr)
	}
	out := []string{fc.Project}
	for _, p := range append(slices.Clone(conn.ConnectedProjects), services...) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	sort.Strings(out[1:])
	return out, nil, nil
}

// connectorUsersAcross reads the workloads of fc's region in every project that may use it,
// with what serves them, and keeps those that use fc (template, serving revisions, tags,
// running executions). A project that cannot be listed is reported, and the others read.
func (e *Engine) connectorUsersAcross(ctx context.Context, fc egress.ConnectorRef, scope *cloud.Scope) ([]*cloud.Workload, []ProjectError, error) {
	projects, perrs, err := e.connectorProjects(ctx, fc, scope)
	if err != nil {
		return nil, nil, err
	}
	lists := make([][]*cloud.Workload, len(projects))
	errs := make([]error, len(projects))
	forEach(ctx, len(projects), listProjectsConcurrency, func(ctx context.Context, i int) {
		lists[i], errs[i] = e.Read.ListWorkloads(ctx, projects[i], fc.Region)
	})
	var all []*cloud.Workload
	for i, p := range projects {
		if errs[i] != nil {
			if p == fc.Project {
				return nil, nil, errs[i]
			}
			perrs = append(perrs, ProjectError{Project: p, Error: errs[i].Error()})
			continue
		}
		all = append(all, lists[i]...)
	}
	if err := e.readServing(ctx, all); err != nil {
		return nil, nil, err
	}
	var out []*cloud.Workload
	for _, w := range all {
		if w.Serving.UsesConnector(fc) {
			out = append(out, w)
		}
	}
	return out, perrs, nil
}

// Counts counts migrations by outcome: a fleet's, a project's. JSON field names are a stable
// contract.
type Counts struct {
	Total      int `json:"total"`
	Migrated   int `json:"migrated"`
	NoOp       int `json:"noOp"`
	Planned    int `json:"planned"`
	Blocked    int `json:"blocked"`
	RolledBack int `json:"rolledBack"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
}

// Add counts one migration that ended with o.
func (c *Counts) Add(o egress.Outcome) {
	c.Total++
	switch o {
	case egress.OutcomeMigrated:
		c.Migrated++
	case egress.OutcomeNoOp:
		c.NoOp++
	case egress.OutcomePlanned:
		c.Planned++
	case egress.OutcomeBlocked:
		c.Blocked++
	case egress.OutcomeRolledBack:
		c.RolledBack++
	case egress.OutcomeFailed:
		c.Failed++
	default:
		c.Skipped++
	}
}

// ProjectSummary counts one project's outcomes in a fleet. JSON field names are a stable
// contract.
type ProjectSummary struct {
	Project string `json:"project"`
	Counts
	// Error is why the project could not be read, if it could not.
	Error string `json:"error,omitempty"`
}

// Projects counts the batch's outcomes per project, sorted, with the projects that could not
// be read.
func (b *Batch) Projects() []ProjectSummary {
	by := map[string]*ProjectSummary{}
	get := func(p string) *ProjectSummary {
		if by[p] == nil {
			by[p] = &ProjectSummary{Project: p}
		}
		return by[p]
	}
	for _, m := range b.Migrations {
		get(m.Ref.Project).Add(m.Outcome())
	}
	for _, pe := range b.Unread {
		get(pe.Project).Error = pe.Error
	}
	out := make([]ProjectSummary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// projectSlots bounds the migrations running at once in each project.
type projectSlots struct {
	limit int
	mu    sync.Mutex
	sems  map[string]chan struct{}
}

func newProjectSlots(limit int) *projectSlots {
	return &projectSlots{limit: limit, sems: map[string]chan struct{}{}}
}

// acquire takes a slot of project, waiting (after calling held, when it must) until one is
// free or ctx ends; it returns the release, or nil when ctx ended first. With no limit it
// takes nothing.
func (s *projectSlots) acquire(ctx context.Context, project string, held func()) func() {
	if s == nil || s.limit < 1 {
		return func() {}
	}
	s.mu.Lock()
	sem := s.sems[project]
	if sem == nil {
		sem = make(chan struct{}, s.limit)
		s.sems[project] = sem
	}
	s.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }
	default:
	}
	if held != nil {
		held()
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }
	case <-ctx.Done():
		return nil
	}
}

// interleave orders ms so that projects take turns (the first workload of each project,
// then the second of each...), keeping each project's order: with a per-project bound, the
// overall slots are not spent waiting on one project.
func interleave(ms []*Migration) []int {
	var projects []string
	by := map[string][]int{}
	for i, m := range ms {
		p := m.Ref.Project
		if _, ok := by[p]; !ok {
			projects = append(projects, p)
		}
		by[p] = append(by[p], i)
	}
	out := make([]int, 0, len(ms))
	for round := 0; len(out) < len(ms); round++ {
		for _, p := range projects {
			if round < len(by[p]) {
				out = append(out, by[p][round])
			}
		}
	}
	return out
}

// OtherProjectUsers finds the workloads of the projects other than fc's own that use fc,
// from what serves them (template, revisions that receive traffic or carry a tag, running
// executions): in the projects the API reports as connected to it and, when fc's project is
// a Shared VPC host, every service project attached to it (connectorProjects, as a fleet
// migration off the connector reads them). Warnings name the projects that could not be
// read: their users are unknown.
func (e *Engine) OtherProjectUsers(ctx context.Context, fc egress.ConnectorRef) ([]User, []string, error) {
	projects, perrs, err := e.connectorProjects(ctx, fc, nil)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, pe := range perrs {
		warnings = append(warnings, fmt.Sprintf("projects of %s not checked: %s", pe.Project, pe.Error))
	}
	others := slices.DeleteFunc(projects, func(p string) bool { return p == fc.Project })
	if len(others) == 0 {
		return nil, warnings, nil
	}
	users, w, err := e.FindUsers(ctx, others, fc.Region, false, func(s *egress.ServingState) []string { return ConnectorVia(s, fc) })
	if err != nil {
		return nil, nil, err
	}
	return users, append(warnings, w...), nil
}

// DescribeProjectUsers says which workloads of which projects use a resource, project by
// project: "team-a: api (revision api-00001-abc, 100% of traffic), job/batch; team-b: orders".
// Names are PROJECT/WORKLOAD, sorted.
func DescribeProjectUsers(users []User) (string, []string) {
	by := map[string][]string{}
	var names []string
	for _, u := range users {
		ref := u.Workload.Ref
		s := ref.String()
		var via []string
		for _, v := range u.Via {
			if v != "template" {
				via = append(via, v)
			}
		}
		if len(via) > 0 {
			s += " (" + strings.Join(via, "; ") + ")"
		}
		by[ref.Project] = append(by[ref.Project], s)
		names = append(names, ref.Project+"/"+ref.String())
	}
	projects := make([]string, 0, len(by))
	for p := range by {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	parts := make([]string, 0, len(projects))
	for _, p := range projects {
		sort.Strings(by[p])
		parts = append(parts, p+": "+strings.Join(by[p], ", "))
	}
	sort.Strings(names)
	return strings.Join(parts, "; "), names
}

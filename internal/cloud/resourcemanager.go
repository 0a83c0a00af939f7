package cloud

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	crm "google.golang.org/api/cloudresourcemanager/v3"
)

// Reads of the resource hierarchy through Cloud Resource Manager v3: a project's number (the
// one Google builds service agent names from), and the projects under a folder or an
// organization.

// Hierarchy parents runnet takes: folders/NUMBER and organizations/NUMBER.
var hierarchyParentRE = regexp.MustCompile(`^(folders|organizations)/[0-9]+$`)

// ValidateHierarchyParent checks a folder or organization name: folders/NUMBER or
// organizations/NUMBER.
func ValidateHierarchyParent(parent string) error {
	if !hierarchyParentRE.MatchString(parent) {
		return fmt.Errorf("%q is not a folder or an organization: want folders/NUMBER or organizations/NUMBER", parent)
	}
	return nil
}

// ProjectInfo is a project as Resource Manager describes it.
type ProjectInfo struct {
	ID     string `json:"projectId"`
	Number string `json:"projectNumber"`
	Parent string `json:"parent"`
}

// GetProject reads a project (by id or number) from Resource Manager: it needs
// resourcemanager.projects.get.
func (c *Clients) GetProject(ctx context.Context, project string) (*ProjectInfo, error) {
	if err := checkNames(projectName(project)); err != nil {
		return nil, err
	}
	svc, err := c.ResourceManager()
	if err != nil {
		return nil, err
	}
	p, err := computeRead(ctx, func(ctx context.Context) (*crm.Project, error) {
		return svc.Projects.Get("projects/" + project).Context(ctx).Do()
	})
	if err != nil {
		return nil, computeErr("get project "+project+" from Resource Manager", err)
	}
	return projectInfo(p), nil
}

func projectInfo(p *crm.Project) *ProjectInfo {
	return &ProjectInfo{ID: p.ProjectId, Number: strings.TrimPrefix(p.Name, "projects/"), Parent: p.Parent}
}

// FoldersListPermission is what listing the folders of a folder or an organization needs on it.
const FoldersListPermission = "resourcemanager.folders.list"

// HierarchyError is a part of the hierarchy that could not be read.
type HierarchyError struct {
	// Parent is the folder or organization whose children could not be listed.
	Parent string
	// Permission is what the refused read needs on Parent, when the API refused it
	// (resourcemanager.folders.list for its folders); "" otherwise.
	Permission string
	Err        error
}

func (e *HierarchyError) Error() string { return e.Err.Error() }
func (e *HierarchyError) Unwrap() error { return e.Err }

// ProjectsUnder returns the projects under parent (folders/F or organizations/O), at any
// depth, sorted by id: the projects each folder holds directly (projects.search
// "parent:PARENT", which returns those the caller may get), then each subfolder's
// (folders.list, which needs resourcemanager.folders.list on the parent). The walk goes level
// by level, every folder of a level at once (its two reads at once too), so it costs one
// round trip per level of the hierarchy. A folder whose subfolders or projects cannot be
// listed is reported as a *HierarchyError, and the walk goes on.
func (c *Clients) ProjectsUnder(ctx context.Context, parent string) ([]*ProjectInfo, []error) {
	if err := ValidateHierarchyParent(parent); err != nil {
		return nil, []error{err}
	}
	svc, err := c.ResourceManager()
	if err != nil {
		return nil, []error{err}
	}
	type node struct {
		projects []*ProjectInfo
		folders  []string
		errs     []error
	}
	read := func(p string) *node {
		n := &node{}
		var wg sync.WaitGroup
		var perr, ferr error
		wg.Go(func() {
			perr = DefaultRetry.Do(ctx, func(ctx context.Context) error {
				n.projects = n.projects[:0] // a retry reads the list again from its start
				return svc.Projects.Search().Query("parent:"+p).PageSize(1000).Pages(ctx, func(r *crm.SearchProjectsResponse) error {
					for _, pr := range r.Projects {
						n.projects = append(n.projects, projectInfo(pr))
					}
					return nil
				})
			})
		})
		wg.Go(func() {
			ferr = DefaultRetry.Do(ctx, func(ctx context.Context) error {
				n.folders = n.folders[:0]
				return svc.Folders.List().Parent(p).PageSize(1000).Pages(ctx, func(r *crm.ListFoldersResponse) error {
					for _, f := range r.Folders {
						n.folders = append(n.folders, f.Name)
					}
					return nil
				})
			})
		})
		wg.Wait()
		if perr != nil {
			n.errs = append(n.errs, &HierarchyError{Parent: p, Err: computeErr("search the projects of "+p, perr)})
		}
		if ferr != nil {
			he := &HierarchyError{Parent: p, Err: computeErr("list the folders of "+p, ferr)}
			if ge, ok := googleAPIError(ferr); ok && ge.Code == http.StatusForbidden {
				he.Permission = FoldersListPermission
				he.Err = computeErr("list the folders of "+p+" (the caller lacks "+FoldersListPermission+" on it)", ferr)
			}
			n.errs = append(n.errs, he)
		}
		return n
	}
	var out []*ProjectInfo
	var errs []error
	seen := map[string]bool{parent: true}
	level := []string{parent}
	for len(level) > 0 {
		nodes := make([]*node, len(level))
		sem := make(chan struct{}, hierarchyConcurrency)
		var wg sync.WaitGroup
		for i, p := range level {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				nodes[i] = read(p)
			})
		}
		wg.Wait()
		var next []string
		for _, n := range nodes {
			out = append(out, n.projects...)
			errs = append(errs, n.errs...)
			for _, f := range n.folders {
				if !seen[f] {
					seen[f] = true
					next = append(next, f)
				}
			}
		}
		level = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return slices.CompactFunc(out, func(a, b *ProjectInfo) bool { return a.ID == b.ID }), errs
}

// hierarchyConcurrency bounds the folders read at once.
const hierarchyConcurrency = 16

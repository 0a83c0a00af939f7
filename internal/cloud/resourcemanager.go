package cloud

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

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

// HierarchyError is a part of the hierarchy that could not be read.
type HierarchyError struct {
	// Parent is the folder or organization whose children could not be listed.
	Parent string
	Err    error
}

func (e *HierarchyError) Error() string { return e.Err.Error() }
func (e *HierarchyError) Unwrap() error { return e.Err }

// ProjectsUnder returns the projects under parent (folders/F or organizations/O), at any
// depth, sorted by id: the projects each folder holds directly (projects.search
// "parent:PARENT", which returns those the caller may get), then each subfolder's
// (folders.list, which needs resourcemanager.folders.list on the parent). A folder whose
// subfolders cannot be listed is reported as a *HierarchyError, and the walk goes on.
func (c *Clients) ProjectsUnder(ctx context.Context, parent string) ([]*ProjectInfo, []error) {
	if err := ValidateHierarchyParent(parent); err != nil {
		return nil, []error{err}
	}
	svc, err := c.ResourceManager()
	if err != nil {
		return nil, []error{err}
	}
	var out []*ProjectInfo
	var errs []error
	seen := map[string]bool{}
	queue := []string{parent}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		var projects []*ProjectInfo
		err := DefaultRetry.Do(ctx, func(ctx context.Context) error {
			projects = projects[:0] // a retry reads the list again from its start
			return svc.Projects.Search().Query("parent:"+p).PageSize(1000).Pages(ctx, func(r *crm.SearchProjectsResponse) error {
				for _, pr := range r.Projects {
					projects = append(projects, projectInfo(pr))
				}
				return nil
			})
		})
		out = append(out, projects...)
		if err != nil {
			errs = append(errs, &HierarchyError{Parent: p, Err: computeErr("search the projects of "+p, err)})
			continue
		}
		var folders []string
		err = DefaultRetry.Do(ctx, func(ctx context.Context) error {
			folders = folders[:0]
			return svc.Folders.List().Parent(p).PageSize(1000).Pages(ctx, func(r *crm.ListFoldersResponse) error {
				for _, f := range r.Folders {
					folders = append(folders, f.Name)
				}
				return nil
			})
		})
		queue = append(queue, folders...)
		if err != nil {
			errs = append(errs, &HierarchyError{Parent: p, Err: computeErr("list the folders of "+p, err)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errs
}

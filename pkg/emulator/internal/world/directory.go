package world

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file is the resource hierarchy: organizations, folders and projects, as Resource
// Manager models them. Projects exist implicitly, as before: any project id a request names
// works everywhere, with the number ProjectNumber gives it and no parent. Declaring a project
// (PutProjectLocked) places it under a folder or an organization, gives it a display name and
// labels, and makes it show in listings (Resource Manager projects.list, Cloud Asset searches
// by folder or organization, Compute listXpnHosts).

// Organization is a Resource Manager organization: organizations/ID.
type Organization struct {
	// ID is the organization's number, e.g. "123456789012".
	ID string `json:"id"`
	// DisplayName is its domain, e.g. "example.com" (Resource Manager: "A human-readable
	// string that refers to the organization ... typically the Google Workspace domain").
	DisplayName string    `json:"displayName,omitempty"`
	CreateTime  time.Time `json:"createTime"`
}

// Folder is a Resource Manager folder: folders/ID.
type Folder struct {
	// ID is the folder's number, e.g. "456789012345".
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	// Parent is "organizations/O" or "folders/F".
	Parent     string    `json:"parent"`
	CreateTime time.Time `json:"createTime"`
}

// Project is a declared Resource Manager project.
type Project struct {
	// ID is the project id, e.g. "host-project".
	ID string `json:"id"`
	// DisplayName is the project's name ("name" in Resource Manager v1, "displayName" in v3).
	DisplayName string `json:"displayName,omitempty"`
	// Parent is "organizations/O", "folders/F" or "" (no parent).
	Parent     string            `json:"parent,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	CreateTime time.Time         `json:"createTime"`
}

// Number is the project's number.
func (p *Project) Number() uint64 { return ProjectNumber(p.ID) }

// ConnectorMeta is what the emulator records about a connector beyond its proto: when it was
// created (the v1 proto has no create_time; Cloud Asset Inventory reports one) and the most
// instances it ever ran.
type ConnectorMeta struct {
	CreateTime    time.Time `json:"createTime"`
	PeakInstances int       `json:"peakInstances"`
}

// Directory is the hierarchy, the IAM policies and the Shared VPC links. It is part of State
// and saved with it.
type Directory struct {
	Organizations map[string]*Organization `json:"organizations,omitempty"`
	Folders       map[string]*Folder       `json:"folders,omitempty"`
	Projects      map[string]*Project      `json:"projects,omitempty"`
	// Policies are IAM policies by resource: "organizations/O", "folders/F", "projects/P" or a
	// Compute subnetwork path "projects/P/regions/R/subnetworks/S".
	Policies map[string]*Policy `json:"policies,omitempty"`
	// XpnHosts are the projects enabled as Shared VPC host projects.
	XpnHosts map[string]bool `json:"xpnHosts,omitempty"`
	// XpnServices maps each attached service project to its host project.
	XpnServices map[string]string `json:"xpnServices,omitempty"`
	// Connectors holds per-connector facts by full connector name.
	Connectors map[string]*ConnectorMeta `json:"connectors,omitempty"`
	// DisabledServices are the APIs disabled in each project (services.go); every other API
	// is enabled.
	DisabledServices map[string]map[string]bool `json:"disabledServices,omitempty"`
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		Organizations: map[string]*Organization{},
		Folders:       map[string]*Folder{},
		Projects:      map[string]*Project{},
		Policies:      map[string]*Policy{},
		XpnHosts:      map[string]bool{},
		XpnServices:   map[string]string{},
		Connectors:    map[string]*ConnectorMeta{},

		DisabledServices: map[string]map[string]bool{},
	}
}

// fill makes every map of a directory read from JSON non-nil.
func (d *Directory) fill() *Directory {
	if d == nil {
		return NewDirectory()
	}
	n := NewDirectory()
	copyMap(n.Organizations, d.Organizations)
	copyMap(n.Folders, d.Folders)
	copyMap(n.Projects, d.Projects)
	copyMap(n.Policies, d.Policies)
	copyMap(n.XpnHosts, d.XpnHosts)
	copyMap(n.XpnServices, d.XpnServices)
	copyMap(n.Connectors, d.Connectors)
	copyMap(n.DisabledServices, d.DisabledServices)
	return n
}

// Resource Manager naming rules.
var (
	// projectIDRE: "It must be 6 to 30 lowercase ASCII letters, digits, or hyphens. It must
	// start with a letter. Trailing hyphens are prohibited." (Resource Manager v3,
	// Project.project_id).
	projectIDRE = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// numericIDRE: organization and folder ids are decimal numbers (Resource Manager:
	// "organizations/{organization_id}", "folders/{folder_id}", e.g. "folders/1234").
	numericIDRE = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
)

// ValidProjectID reports whether id follows Resource Manager's project id rule.
func ValidProjectID(id string) bool { return projectIDRE.MatchString(id) }

// checkParentLocked checks that parent names a declared organization or folder.
func (w *World) checkParentLocked(parent string) error {
	kind, id, ok := strings.Cut(parent, "/")
	switch {
	case !ok:
		return fmt.Errorf("parent %q must be organizations/ID or folders/ID", parent)
	case kind == "organizations":
		if _, ok := w.S.Dir.Organizations[id]; !ok {
			return fmt.Errorf("parent %s is not a declared organization", parent)
		}
	case kind == "folders":
		if _, ok := w.S.Dir.Folders[id]; !ok {
			return fmt.Errorf("parent %s is not a declared folder", parent)
		}
	default:
		return fmt.Errorf("parent %q must be organizations/ID or folders/ID", parent)
	}
	return nil
}

// PutOrganizationLocked declares (or replaces) an organization.
func (w *World) PutOrganizationLocked(o Organization) (*Organization, error) {
	if !numericIDRE.MatchString(o.ID) {
		return nil, fmt.Errorf("organization id %q must be a decimal number", o.ID)
	}
	if cur, ok := w.S.Dir.Organizations[o.ID]; ok && o.CreateTime.IsZero() {
		o.CreateTime = cur.CreateTime
	}
	if o.CreateTime.IsZero() {
		o.CreateTime = w.Now()
	}
	w.S.Dir.Organizations[o.ID] = &o
	w.MarkChangedLocked()
	return &o, nil
}

// PutFolderLocked declares (or replaces) a folder under a declared organization or folder.
func (w *World) PutFolderLocked(f Folder) (*Folder, error) {
	if !numericIDRE.MatchString(f.ID) {
		return nil, fmt.Errorf("folder id %q must be a decimal number", f.ID)
	}
	if err := w.checkParentLocked(f.Parent); err != nil {
		return nil, fmt.Errorf("folder %s: %w", f.ID, err)
	}
	for p := f.Parent; strings.HasPrefix(p, "folders/"); {
		if p == "folders/"+f.ID {
			return nil, fmt.Errorf("folder %s: parent %s would make a cycle", f.ID, f.Parent)
		}
		p = w.S.Dir.Folders[strings.TrimPrefix(p, "folders/")].Parent
	}
	if cur, ok := w.S.Dir.Folders[f.ID]; ok && f.CreateTime.IsZero() {
		f.CreateTime = cur.CreateTime
	}
	if f.CreateTime.IsZero() {
		f.CreateTime = w.Now()
	}
	w.S.Dir.Folders[f.ID] = &f
	w.MarkChangedLocked()
	return &f, nil
}

// PutProjectLocked declares (or replaces) a project; Parent may be empty.
func (w *World) PutProjectLocked(p Project) (*Project, error) {
	if !ValidProjectID(p.ID) {
		return nil, fmt.Errorf("project id %q must be 6 to 30 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen", p.ID)
	}
	if p.Parent != "" {
		if err := w.checkParentLocked(p.Parent); err != nil {
			return nil, fmt.Errorf("project %s: %w", p.ID, err)
		}
	}
	if p.DisplayName == "" {
		p.DisplayName = p.ID // Resource Manager shows the id where a project has no name
	}
	if cur, ok := w.S.Dir.Projects[p.ID]; ok && p.CreateTime.IsZero() {
		p.CreateTime = cur.CreateTime
	}
	if p.CreateTime.IsZero() {
		p.CreateTime = w.Now()
	}
	w.S.Dir.Projects[p.ID] = &p
	w.MarkChangedLocked()
	return &p, nil
}

// ProjectLocked returns the project called id: the declared one, or an implicit one (no
// parent, display name = id) with declared false.
func (w *World) ProjectLocked(id string) (p *Project, declared bool) {
	if p, ok := w.S.Dir.Projects[id]; ok {
		return p, true
	}
	return &Project{ID: id, DisplayName: id}, false
}

// KnownProjectsLocked returns, sorted, every project the world knows of: declared ones and
// those that hold a resource, a policy or a Shared VPC link.
func (w *World) KnownProjectsLocked() []string {
	seen := map[string]bool{}
	for id := range w.S.Dir.Projects {
		seen[id] = true
	}
	first := func(k, sep string) string {
		p, _, _ := strings.Cut(k, sep)
		return p
	}
	for k := range w.S.Networks {
		seen[first(k, "/")] = true
	}
	for k := range w.S.Subnetworks {
		seen[first(k, "/")] = true
	}
	full := func(name string) {
		if rest, ok := strings.CutPrefix(name, "projects/"); ok {
			seen[first(rest, "/")] = true
		}
	}
	for k := range w.S.Connectors {
		full(k)
	}
	for k := range w.S.Services {
		full(k)
	}
	for k := range w.S.Jobs {
		full(k)
	}
	for k := range w.S.WorkerPools {
		full(k)
	}
	for k := range w.S.Dir.Policies {
		full(k)
	}
	for h := range w.S.Dir.XpnHosts {
		seen[h] = true
	}
	for s, h := range w.S.Dir.XpnServices {
		seen[s], seen[h] = true, true
	}
	delete(seen, "")
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// ResolveProjectLocked maps a project id or number to the project id. A number that no known
// project has is returned unchanged (as an id it names an implicit project).
func (w *World) ResolveProjectLocked(idOrNumber string) string {
	n, err := strconv.ParseUint(idOrNumber, 10, 64)
	if err != nil {
		return idOrNumber
	}
	for _, p := range w.KnownProjectsLocked() {
		if ProjectNumber(p) == n {
			return p
		}
	}
	return idOrNumber
}

// AncestorsLocked returns the resources above resource, nearest first: for a subnetwork
// path its project; for a project its folders and organization; for a folder its parents.
// Unknown parents end the chain.
func (w *World) AncestorsLocked(resource string) []string {
	var out []string
	cur := resource
	for range 64 { // folders nest at most 10 deep (Resource Manager limits); 64 guards cycles
		parent := w.parentLocked(cur)
		if parent == "" {
			return out
		}
		out = append(out, parent)
		cur = parent
	}
	return out
}

func (w *World) parentLocked(resource string) string {
	kind, rest, _ := strings.Cut(resource, "/")
	switch kind {
	case "projects":
		project, sub, _ := strings.Cut(rest, "/")
		if sub != "" {
			return "projects/" + project
		}
		if p, ok := w.S.Dir.Projects[project]; ok {
			return p.Parent
		}
	case "folders":
		if f, ok := w.S.Dir.Folders[rest]; ok {
			return f.Parent
		}
	}
	return ""
}

// ProjectAncestryLocked returns a project's folders (nearest first, as "folders/F") and its
// organization ("organizations/O", or "").
func (w *World) ProjectAncestryLocked(project string) (folders []string, org string) {
	for _, a := range w.AncestorsLocked("projects/" + project) {
		switch {
		case strings.HasPrefix(a, "folders/"):
			folders = append(folders, a)
		case strings.HasPrefix(a, "organizations/"):
			org = a
		}
	}
	return folders, org
}

// ProjectsUnderLocked returns, sorted, the known projects whose ancestry includes scope
// ("folders/F" or "organizations/O"), or the project itself for "projects/P".
func (w *World) ProjectsUnderLocked(scope string) []string {
	if p, ok := strings.CutPrefix(scope, "projects/"); ok {
		return []string{w.ResolveProjectLocked(p)}
	}
	var out []string
	for _, p := range w.KnownProjectsLocked() {
		for _, a := range w.AncestorsLocked("projects/" + p) {
			if a == scope {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// ConnectorMetaLocked returns the record of a connector, making it on first use.
func (w *World) ConnectorMetaLocked(name string) *ConnectorMeta {
	m, ok := w.S.Dir.Connectors[name]
	if !ok {
		m = &ConnectorMeta{CreateTime: w.Now()}
		w.S.Dir.Connectors[name] = m
	}
	return m
}

// SetConnectorInstancesLocked records that a connector runs n instances now.
func (w *World) SetConnectorInstancesLocked(name string, n int) {
	w.S.ConnectorInstances[name] = n
	if m := w.ConnectorMetaLocked(name); n > m.PeakInstances {
		m.PeakInstances = n
	}
	w.MarkChangedLocked()
}

// ConnectorInstancesLocked reports how many instances a connector runs now and the most it
// ever ran; ok is false for a connector that runs none (unknown, creating or deleted).
func (w *World) ConnectorInstancesLocked(name string) (current, peak int, ok bool) {
	current, ok = w.S.ConnectorInstances[name]
	if !ok {
		return 0, 0, false
	}
	peak = current
	if m, found := w.S.Dir.Connectors[name]; found && m.PeakInstances > peak {
		peak = m.PeakInstances
	}
	return current, peak, true
}

// ForgetConnectorLocked drops the record of a deleted connector.
func (w *World) ForgetConnectorLocked(name string) {
	delete(w.S.Dir.Connectors, name)
	delete(w.S.ConnectorInstances, name)
	w.MarkChangedLocked()
}

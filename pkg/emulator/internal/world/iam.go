package world

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file is IAM as the emulator models it: allow policies (bindings of roles to members)
// on organizations, folders, projects and Compute subnetworks, inherited down the hierarchy
// (IAM docs, "Policy inheritance": "the effective policy for a resource is the union of the
// policy set on that resource and the policy inherited from its parent"), and the roles the
// Shared VPC and Cloud Run checks need, expanded into their permissions.
//
// Conditions on bindings are stored and returned but not evaluated (a conditional binding
// never grants). Groups are not expanded: a "group:" member matches nothing. Deny policies
// are not modelled.

// Binding binds a role to members.
type Binding struct {
	Role    string   `json:"role"`
	Members []string `json:"members"`
	// Condition is kept as given (title, description, expression).
	Condition *Condition `json:"condition,omitempty"`
}

// Condition is an IAM condition (google.type.Expr).
type Condition struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression,omitempty"`
	Location    string `json:"location,omitempty"`
}

// Policy is an IAM allow policy.
type Policy struct {
	Version  int64     `json:"version,omitempty"`
	Etag     string    `json:"etag"`
	Bindings []Binding `json:"bindings,omitempty"`
}

// Clone returns a deep copy of p.
func (p *Policy) Clone() *Policy {
	if p == nil {
		return nil
	}
	out := &Policy{Version: p.Version, Etag: p.Etag}
	for _, b := range p.Bindings {
		nb := Binding{Role: b.Role, Members: slices.Clone(b.Members)}
		if b.Condition != nil {
			c := *b.Condition
			nb.Condition = &c
		}
		out.Bindings = append(out.Bindings, nb)
	}
	return out
}

// Has reports whether the policy binds role to member (unconditionally).
func (p *Policy) Has(role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil && slices.Contains(b.Members, member) {
			return true
		}
	}
	return false
}

// Add binds role to member (unconditionally), once.
func (p *Policy) Add(role, member string) {
	if p.Has(role, member) {
		return
	}
	for i := range p.Bindings {
		if p.Bindings[i].Role == role && p.Bindings[i].Condition == nil {
			p.Bindings[i].Members = append(p.Bindings[i].Members, member)
			sort.Strings(p.Bindings[i].Members)
			return
		}
	}
	p.Bindings = append(p.Bindings, Binding{Role: role, Members: []string{member}})
	sort.SliceStable(p.Bindings, func(i, j int) bool { return p.Bindings[i].Role < p.Bindings[j].Role })
}

// Remove unbinds role from member; bindings left empty go.
func (p *Policy) Remove(role, member string) {
	out := p.Bindings[:0]
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == member })
			if len(b.Members) == 0 {
				continue
			}
		}
		out = append(out, b)
	}
	p.Bindings = out
}

// ErrEtagMismatch is returned by SetPolicyLocked when the policy's etag is stale. IAM docs,
// "Policy concurrency control": a setIamPolicy whose etag does not match fails with 409
// ABORTED; "retry the whole read-modify-write".
var ErrEtagMismatch = errors.New("there were concurrent policy changes; retry the whole read-modify-write with exponential backoff")

// ServiceAgent is the Cloud Run service agent of a project, as an IAM member:
// serviceAccount:service-PROJECT_NUMBER@serverless-robot-prod.iam.gserviceaccount.com
// (Cloud Run docs, "Cloud Run Service Agent"; IAM docs, "Service agents").
func ServiceAgent(project string) string {
	return fmt.Sprintf("serviceAccount:service-%d@serverless-robot-prod.iam.gserviceaccount.com", ProjectNumber(project))
}

// VPCAccessServiceAgent is the Serverless VPC Access service agent of a project:
// service-PROJECT_NUMBER@gcp-sa-vpcaccess.iam.gserviceaccount.com (IAM docs, "Service
// agents": Serverless VPC Access Service Agent).
func VPCAccessServiceAgent(project string) string {
	return fmt.Sprintf("serviceAccount:service-%d@gcp-sa-vpcaccess.iam.gserviceaccount.com", ProjectNumber(project))
}

// defaultProjectPolicy is a project's policy before anyone sets one: Google grants each
// service agent its role on the project when the API is enabled (IAM docs, "Service agents":
// "Google grants each service agent a predefined role in your project ... when you enable
// the API"). Cloud Run's agent holds roles/run.serviceAgent, the VPC Access agent
// roles/vpcaccess.serviceAgent.
//
// extra are the bindings SetDefaultProjectBindings adds: the roles the project's creators
// hold (Resource Manager docs, "Creating and managing projects": the creator of a project is
// granted the Owner role on it).
func defaultProjectPolicy(project string, extra []Binding) *Policy {
	p := &Policy{Version: 1}
	p.Add("roles/run.serviceAgent", ServiceAgent(project))
	p.Add("roles/vpcaccess.serviceAgent", VPCAccessServiceAgent(project))
	for _, b := range extra {
		for _, m := range b.Members {
			p.Add(b.Role, m)
		}
	}
	return p
}

// SetDefaultProjectBindings adds bindings to the policy of every project whose policy was
// never set: the emulator's front door makes the identities it issues credentials for the
// projects' creators this way, so that they own every project the world knows or a request
// names, until a policy change (Revoke, setIamPolicy) says otherwise. A policy already set
// keeps what it holds. nil removes them. It is a setting of the world, not part of its
// state: Seed and Restore keep it.
func (w *World) SetDefaultProjectBindings(bindings []Binding) {
	clone := make([]Binding, 0, len(bindings))
	for _, b := range bindings {
		members := make([]string, 0, len(b.Members))
		for _, m := range b.Members {
			members = append(members, NormalizeMember(m))
		}
		clone = append(clone, Binding{Role: b.Role, Members: members})
	}
	w.mu.Lock()
	w.projectDefaults = clone
	w.mu.Unlock()
}

// policyEtag derives an etag from a version counter: base64, as IAM etags look ("BwXhqDp...").
func policyEtag(seq uint64) string {
	return base64.StdEncoding.EncodeToString([]byte("BwY" + strconv.FormatUint(seq, 36)))
}

// PolicyLocked returns a copy of the policy set on resource ("organizations/O", "folders/F",
// "projects/P" or a subnetwork path), or the default one (a project's service agents, nothing
// elsewhere) with a stable etag.
func (w *World) PolicyLocked(resource string) *Policy {
	if p, ok := w.S.Dir.Policies[resource]; ok {
		return p.Clone()
	}
	var p *Policy
	if project, ok := strings.CutPrefix(resource, "projects/"); ok && !strings.Contains(project, "/") {
		p = defaultProjectPolicy(project, w.projectDefaults)
	} else {
		p = &Policy{Version: 1}
	}
	p.Etag = base64.StdEncoding.EncodeToString([]byte("ACAB"))
	return p
}

// SetPolicyLocked replaces the policy on resource. A non-empty etag that differs from the
// current one is ErrEtagMismatch; an empty etag overwrites (IAM docs: "If no etag is provided
// in the call to setIamPolicy, then the existing policy is blindly overwritten"). It returns
// the stored policy with its new etag.
func (w *World) SetPolicyLocked(resource string, p *Policy) (*Policy, error) {
	if p == nil {
		return nil, errors.New("policy is required")
	}
	if p.Etag != "" && p.Etag != w.PolicyLocked(resource).Etag {
		return nil, ErrEtagMismatch
	}
	for _, b := range p.Bindings {
		if !strings.HasPrefix(b.Role, "roles/") && !strings.Contains(b.Role, "/roles/") {
			return nil, fmt.Errorf("role %q is not a role name (roles/NAME, projects/P/roles/NAME or organizations/O/roles/NAME)", b.Role)
		}
		for _, m := range b.Members {
			if !validMember(m) {
				return nil, fmt.Errorf("invalid member %q: want user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, principal://…, principalSet://…, allUsers or allAuthenticatedUsers", m)
			}
		}
	}
	stored := p.Clone()
	stored.Bindings = slices.DeleteFunc(stored.Bindings, func(b Binding) bool { return len(b.Members) == 0 })
	if stored.Version == 0 {
		stored.Version = 1
	}
	w.S.Seq++
	stored.Etag = policyEtag(w.S.Seq)
	w.S.Dir.Policies[resource] = stored
	w.MarkChangedLocked()
	return stored.Clone(), nil
}

// GrantLocked binds role to member on resource (read-modify-write of its policy).
func (w *World) GrantLocked(resource, role, member string) error {
	p := w.PolicyLocked(resource)
	p.Add(role, member)
	p.Etag = ""
	_, err := w.SetPolicyLocked(resource, p)
	return err
}

// RevokeLocked unbinds role from member on resource.
func (w *World) RevokeLocked(resource, role, member string) error {
	p := w.PolicyLocked(resource)
	p.Remove(role, member)
	p.Etag = ""
	_, err := w.SetPolicyLocked(resource, p)
	return err
}

func validMember(m string) bool {
	if m == "allUsers" || m == "allAuthenticatedUsers" {
		return true
	}
	kind, v, ok := strings.Cut(m, ":")
	if !ok || v == "" {
		return false
	}
	switch kind {
	case "user", "serviceAccount", "group":
		return emailLike(v)
	case "domain":
		return !strings.ContainsAny(v, ":@/ \t")
	case "principal", "principalSet":
		// principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/subject/S
		// and the like (IAM docs, "Principal identifiers").
		return strings.HasPrefix(v, "//") && len(v) > 2
	case "deleted":
		return true
	}
	return false
}

// emailLike reports whether v looks like the e-mail address of a user, service account or
// group: one @ with something on each side, and no colon, slash or space (which a member
// given with its type twice, "serviceAccount:serviceAccount:x", would leave).
func emailLike(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") && !strings.ContainsAny(v, ":/ \t")
}

// NormalizeMember turns a principal into an IAM member: a bare e-mail becomes
// "serviceAccount:" (…gserviceaccount.com) or "user:" (any other address), a bare workload
// identity name (//iam.googleapis.com/…) "principal:" (one subject) or "principalSet:", and a
// member whose type is repeated ("serviceAccount:serviceAccount:x") has it once. Anything else
// is returned as is (SetPolicyLocked refuses what is not a valid member).
func NormalizeMember(p string) string {
	p = strings.TrimSpace(p)
	switch {
	case p == "" || p == "allUsers" || p == "allAuthenticatedUsers":
		return p
	case strings.HasPrefix(p, "//iam.googleapis.com/"):
		if strings.Contains(p, "/subject/") {
			return "principal:" + p
		}
		return "principalSet:" + p
	}
	if kind, rest, ok := strings.Cut(p, ":"); ok {
		for strings.HasPrefix(rest, kind+":") {
			rest = strings.TrimPrefix(rest, kind+":")
		}
		return kind + ":" + rest
	}
	if strings.HasSuffix(p, ".gserviceaccount.com") {
		return "serviceAccount:" + p
	}
	return "user:" + p
}

// memberMatches reports whether a binding's member m covers principal (an IAM member).
func memberMatches(m, principal string) bool {
	switch {
	case m == principal:
		return true
	case m == "allUsers", m == "allAuthenticatedUsers":
		return true
	case strings.HasPrefix(m, "domain:"):
		kind, email, _ := strings.Cut(principal, ":")
		return (kind == "user" || kind == "serviceAccount" || kind == "group") && strings.HasSuffix(email, "@"+strings.TrimPrefix(m, "domain:"))
	case strings.HasPrefix(m, "principalSet://") && strings.HasSuffix(m, "/*"):
		// Every identity of a workload identity pool (IAM docs, "Principal identifiers":
		// principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/*).
		// Sets by group or attribute match nothing: subjects carry no attributes here.
		pool := strings.TrimSuffix(strings.TrimPrefix(m, "principalSet:"), "*")
		return strings.HasPrefix(principal, "principal:"+pool+"subject/")
	}
	return false
}

// HasPermissionLocked reports whether member holds permission on resource, through the
// policies of the resource and its ancestors.
func (w *World) HasPermissionLocked(member, resource, permission string) bool {
	member = NormalizeMember(member)
	for _, r := range append([]string{resource}, w.AncestorsLocked(resource)...) {
		if !appliesTo(permission, r) {
			continue
		}
		if w.PolicyLocked(r).Grants(member, permission) {
			return true
		}
	}
	return false
}

// Grants reports whether the policy itself (nothing inherited) gives member (an IAM member)
// permission: an unconditional binding of a role that includes it, to a member that covers
// member.
func (p *Policy) Grants(member, permission string) bool {
	member = NormalizeMember(member)
	for _, b := range p.Bindings {
		if b.Condition != nil || !RoleGrants(b.Role, permission) {
			continue
		}
		for _, m := range b.Members {
			if memberMatches(m, member) {
				return true
			}
		}
	}
	return false
}

// PermissionsLocked returns those of perms that member holds on resource, in the order given.
func (w *World) PermissionsLocked(member, resource string, perms []string) []string {
	out := []string{}
	for _, p := range perms {
		if w.HasPermissionLocked(member, resource, p) {
			out = append(out, p)
		}
	}
	return out
}

// appliesTo reports whether a binding on resource can grant permission. Bindings on
// organizations, folders and projects grant every permission of their roles to the resources
// below; a binding on a single resource (a subnetwork) grants only the permissions of that
// resource's type: networkUser on a subnet gives compute.subnetworks.use there, not
// compute.networks.get (IAM docs, "Resource hierarchy"; Cloud Run docs, Shared VPC, which
// pairs subnet-level networkUser with project-level networkViewer for that reason).
func appliesTo(permission, resource string) bool {
	seg := strings.Split(resource, "/")
	if len(seg) <= 2 { // organizations/O, folders/F, projects/P
		return true
	}
	collection := seg[len(seg)-2]
	parts := strings.Split(permission, ".")
	return len(parts) == 3 && strings.EqualFold(parts[1], collection) // run.workerpools.* on …/workerPools/W
}

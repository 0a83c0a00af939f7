package shared

import (
	"fmt"
	"strings"

	"github.com/runnet-dev/runnet/pkg/egress"
)

// This file spells out what the domain suggests (egress.Action) as runnet's (or gcloud's)
// command lines: the one place that knows the commands' words.

// Command is the command line that does a.
func Command(a egress.Action) string {
	ref := a.Workload
	where := ""
	if a.Where {
		where = fmt.Sprintf(" --project %s --region %s", ref.Project, ref.Region)
	}
	switch a.Kind {
	case egress.ActionStatus:
		return "runnet status " + ref.String() + where
	case egress.ActionResume:
		return "runnet migrate --resume " + ref.String() + where
	case egress.ActionResumeRollback:
		return "runnet migrate --resume " + ref.String() + " --rollback" + where
	case egress.ActionBreakLock:
		return "runnet migrate --resume " + ref.String() + " --break-lock" + where
	case egress.ActionRestoreVPC:
		return restoreVPC(ref, a.VPC) + where
	case egress.ActionRestoreTraffic:
		return RestoreTrafficCommand(ref, a.Traffic) + where
	case egress.ActionRemoveTags:
		return fmt.Sprintf("gcloud run services update-traffic %s --remove-tags %s", ref.Name, strings.Join(a.Tags, ","))
	case egress.ActionDetach:
		return "runnet detach " + ref.String() + where
	case egress.ActionAttach:
		if ref.Name != "" {
			return "runnet attach " + ref.String() + where
		}
		return "runnet attach"
	case egress.ActionCreateSubnet:
		return withName("runnet subnet create", a.Name)
	case egress.ActionDeleteSubnet:
		return withName("runnet subnet delete", a.Name)
	case egress.ActionDescribeSubnet:
		return withName("runnet subnet describe", a.Name)
	case egress.ActionPlanSubnet:
		return fmt.Sprintf("runnet subnet plan --max-instances %d", a.MaxInstances)
	case egress.ActionCreateConnector:
		return fmt.Sprintf("runnet connector create %s --region %s --network NETWORK --range RANGE", a.Name, a.Region)
	case egress.ActionDescribeConnector:
		return withName("runnet connector describe", a.Name)
	case egress.ActionRecycleConnector:
		return withName("runnet connector recycle", a.Name)
	case egress.ActionGrantRole:
		return GrantRoleCommand(a.Resource, a.Role, a.Member)
	case egress.ActionAttachServiceProject:
		return fmt.Sprintf("gcloud compute shared-vpc associated-projects add %s --host-project %s", a.Name, strings.TrimPrefix(a.Resource, "projects/"))
	}
	return string(a.Kind)
}

// GrantRoleCommand is the gcloud command that grants role to member on resource: a
// subnetwork (projects/P/regions/R/subnetworks/S) or a project (projects/P).
func GrantRoleCommand(resource, role, member string) string {
	// projects/P/regions/R/subnetworks/S
	if p := strings.Split(resource, "/"); len(p) == 6 && p[0] == "projects" && p[2] == "regions" && p[4] == "subnetworks" {
		return fmt.Sprintf("gcloud compute networks subnets add-iam-policy-binding %s --region %s --project %s --member %s --role %s",
			p[5], p[3], p[1], member, role)
	}
	return fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member %s --role %s", strings.TrimPrefix(resource, "projects/"), member, role)
}

func withName(cmd, name string) string {
	if name == "" {
		return cmd
	}
	return cmd + " " + name
}

// restoreVPC is the runnet command that puts v on ref's template: an attach with every
// setting (network tags cleared when v has none, since attach keeps them otherwise), or a
// detach.
func restoreVPC(ref egress.WorkloadRef, v egress.VPC) string {
	switch v.Mode() {
	case egress.ModeConnector:
		return fmt.Sprintf("runnet attach %s --connector %s --egress %s", ref, v.Connector, v.Egress.String())
	case egress.ModeDirect:
		c := "runnet attach " + ref.String()
		if v.Network != "" {
			c += " --network " + v.Network
		}
		if v.Subnet != "" {
			c += " --subnet " + v.Subnet
		}
		if len(v.Tags) > 0 {
			c += " --network-tags " + strings.Join(v.Tags, ",")
		} else {
			c += " --clear-network-tags"
		}
		return c + " --egress " + v.Egress.String()
	}
	return "runnet detach " + ref.String() + " --yes"
}

// RestoreTrafficCommand is the gcloud command that puts a service's traffic split back
// exactly as ts: every share (LATEST for entries that follow the latest revision) and every
// tag (tags not in ts are removed, runnet's own included).
func RestoreTrafficCommand(ref egress.WorkloadRef, ts []egress.TrafficTarget) string {
	cmd := "gcloud run services update-traffic " + ref.Name
	var order []string
	share := map[string]int{}
	var tags []string
	for _, t := range ts {
		rev := t.Revision
		if t.Latest {
			rev = "LATEST"
		}
		if t.Percent > 0 {
			if _, ok := share[rev]; !ok {
				order = append(order, rev)
			}
			share[rev] += t.Percent
		}
		if t.Tag != "" {
			tags = append(tags, t.Tag+"="+rev)
		}
	}
	switch {
	case len(ts) == 0 || len(order) == 1 && order[0] == "LATEST":
		cmd += " --to-latest"
	default:
		parts := make([]string, 0, len(order))
		for _, rev := range order {
			parts = append(parts, fmt.Sprintf("%s=%d", rev, share[rev]))
		}
		cmd += " --to-revisions " + strings.Join(parts, ",")
	}
	if len(tags) > 0 {
		cmd += " --set-tags " + strings.Join(tags, ",")
	} else {
		cmd += " --clear-tags"
	}
	return cmd
}

// Render is m in words: its text with each action's command line in its place.
func Render(m egress.Message) string {
	if len(m.Actions) == 0 {
		return m.Text
	}
	args := make([]any, len(m.Actions))
	for i, a := range m.Actions {
		args[i] = Command(a)
	}
	return fmt.Sprintf(m.Text, args...)
}

// RenderAll is Render of each message.
func RenderAll(ms []egress.Message) []string {
	if ms == nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = Render(m)
	}
	return out
}

// ErrorText is err's message followed by the advice its chain gives (egress.MessageOf), in
// words; "" for nil.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return Render(egress.MessageOf(err))
}

// Checks returns cs with their hints in words (copies: cs is not changed).
func Checks(cs []egress.Check) []egress.Check {
	if cs == nil {
		return nil
	}
	out := make([]egress.Check, len(cs))
	for i, c := range cs {
		if len(c.HintActions) > 0 {
			c.Hint = Render(egress.Message{Text: c.Hint, Actions: c.HintActions})
			c.HintActions = nil
		}
		out[i] = c
	}
	return out
}

// StepNote is a step's note in words.
func StepNote(s egress.StepResult) string {
	return Render(egress.Message{Text: s.Note, Actions: s.NoteActions})
}

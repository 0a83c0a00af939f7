package egress

import (
	"strings"
)

// This file is how the domain tells the user something without speaking any command line.
// A message that suggests a way out (finish an interrupted migration, look at the workload,
// create the missing subnetwork) names it as an Action: what to do, on what. The
// presentation (internal/cli) spells each action out as the command that does it, so that
// the words of the command line live in one place and this package holds none.

// ActionKind is what an Action does.
type ActionKind string

// The actions.
const (
	// ActionStatus: look at Workload as it is now.
	ActionStatus ActionKind = "status"
	// ActionResume: finish the interrupted migration of Workload from the journal it carries.
	ActionResume ActionKind = "resume"
	// ActionResumeRollback: undo the interrupted migration of Workload instead.
	ActionResumeRollback ActionKind = "resume-rollback"
	// ActionBreakLock: take over the journal of a run on Workload that looks alive (its
	// process is gone, or its journal cannot be read).
	ActionBreakLock ActionKind = "break-lock"
	// ActionRestoreVPC: put VPC back on Workload's template (no VPC access: detach it).
	ActionRestoreVPC ActionKind = "restore-vpc"
	// ActionRestoreTraffic: put a service's traffic split back exactly as Traffic (every
	// share and tag; tags not in it are removed).
	ActionRestoreTraffic ActionKind = "restore-traffic"
	// ActionRemoveTags: remove Tags from a service's traffic.
	ActionRemoveTags ActionKind = "remove-tags"
	// ActionAttach: change Workload's VPC access directly (no migration: no canary, no
	// journal), as to retry settings whose revision failed.
	ActionAttach ActionKind = "attach"
	// ActionDetach: remove Workload's VPC access, whatever it is.
	ActionDetach ActionKind = "detach"
	// ActionCreateSubnet: create a subnetwork.
	ActionCreateSubnet ActionKind = "create-subnet"
	// ActionDeleteSubnet: delete a subnetwork (Name when known).
	ActionDeleteSubnet ActionKind = "delete-subnet"
	// ActionDescribeSubnet: show a subnetwork and who holds its addresses.
	ActionDescribeSubnet ActionKind = "describe-subnet"
	// ActionPlanSubnet: size a subnetwork for MaxInstances.
	ActionPlanSubnet ActionKind = "plan-subnet"
	// ActionCreateConnector: create connector Name in Region.
	ActionCreateConnector ActionKind = "create-connector"
	// ActionDescribeConnector: show connector Name.
	ActionDescribeConnector ActionKind = "describe-connector"
	// ActionRecycleConnector: replace connector Name by a new one.
	ActionRecycleConnector ActionKind = "recycle-connector"
	// ActionGrantRole: grant Role to Member on Resource (a project, projects/P, or a
	// subnetwork, projects/P/regions/R/subnetworks/S), as Cloud Run's service agent needs.
	ActionGrantRole ActionKind = "grant-role"
	// ActionAttachServiceProject: attach project Name to the Shared VPC host project of
	// Resource (projects/HOST).
	ActionAttachServiceProject ActionKind = "attach-service-project"
)

// Action is a way out that a message suggests.
type Action struct {
	Kind ActionKind `json:"kind"`
	// Workload is the workload it acts on, if any.
	Workload WorkloadRef `json:"workload,omitzero"`
	// VPC is the settings ActionRestoreVPC puts back.
	VPC VPC `json:"vpc,omitzero"`
	// Traffic is the split ActionRestoreTraffic puts back.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
	// Tags are the tags ActionRemoveTags removes.
	Tags []string `json:"tags,omitempty"`
	// Name and Region name the connector or subnetwork it acts on, if any.
	Name   string `json:"name,omitempty"`
	Region string `json:"region,omitempty"`
	// Resource, Role and Member are ActionGrantRole's grant.
	Resource string `json:"resource,omitempty"`
	Role     string `json:"role,omitempty"`
	Member   string `json:"member,omitempty"`
	// MaxInstances is what ActionPlanSubnet sizes for.
	MaxInstances int `json:"maxInstances,omitempty"`
	// Where says the command must name the workload's project and region: it is kept in a
	// report, to be run later from anywhere.
	Where bool `json:"where,omitempty"`
}

// MessageKind says what a message is about, for presentations that treat some apart.
type MessageKind string

// The message kinds; most messages have none.
const (
	// MessageConnectorKept: a plan keeps the connector the workload leaves (no cleanup
	// asked, or other workloads still use it).
	MessageConnectorKept MessageKind = "connector-kept"
)

// Message is text for the user that may suggest commands. Without Actions, Text is plain
// text. With Actions, Text is a format with one %s per action, in order (and %% for a
// percent sign): the presentation puts each action's command line in its place.
type Message struct {
	Kind    MessageKind `json:"kind,omitempty"`
	Text    string      `json:"text"`
	Actions []Action    `json:"actions,omitempty"`
}

// Plain is a message of plain text.
func Plain(text string) Message { return Message{Text: text} }

// Advise is a message whose text is format, with one %s per action.
func Advise(format string, actions ...Action) Message {
	return Message{Text: format, Actions: actions}
}

// Say is a message made of parts: strings (plain text) and Actions (each in its place).
func Say(parts ...any) Message {
	var ms []Message
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			ms = append(ms, Plain(v))
		case Action:
			ms = append(ms, Advise("%s", v))
		default:
			panic("egress.Say: a part is a string or an Action")
		}
	}
	return Concat(ms...)
}

// format is the message's text as a format: plain text has its percent signs doubled.
func (m Message) format() string {
	if len(m.Actions) > 0 {
		return m.Text
	}
	return strings.ReplaceAll(m.Text, "%", "%%")
}

// Concat is the messages one after the other, as one message (the kind of the first).
func Concat(ms ...Message) Message {
	var out Message
	n := 0
	for _, m := range ms {
		n += len(m.Actions)
	}
	var b strings.Builder
	for i, m := range ms {
		if i == 0 {
			out.Kind = m.Kind
		}
		if n == 0 {
			b.WriteString(m.Text)
			continue
		}
		b.WriteString(m.format())
		out.Actions = append(out.Actions, m.Actions...)
	}
	out.Text = b.String()
	return out
}

// Advisor is implemented by errors that suggest a way out: their advice goes after their
// message (see MessageOf).
type Advisor interface {
	Advice() Message
}

// MessageOf is err as a message: its text, followed by the advice of every error in its
// chain that gives one (outermost first). nil gives the empty message.
func MessageOf(err error) Message {
	if err == nil {
		return Message{}
	}
	parts := []Message{Plain(err.Error())}
	walkErrors(err, func(e error) {
		if a, ok := e.(Advisor); ok {
			parts = append(parts, a.Advice())
		}
	})
	return Concat(parts...)
}

// walkErrors visits err and everything it wraps, depth first, outermost first.
func walkErrors(err error, visit func(error)) {
	for depth := 0; err != nil && depth < 64; depth++ {
		visit(err)
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walkErrors(e, visit)
			}
			return
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return
		}
	}
}

// advisedError is an error with advice (WithAdvice).
type advisedError struct {
	err    error
	advice Message
}

func (e *advisedError) Error() string   { return e.err.Error() }
func (e *advisedError) Unwrap() error   { return e.err }
func (e *advisedError) Advice() Message { return e.advice }

// WithAdvice returns err with advice: what to do about it, after its message (MessageOf).
// It returns nil when err is nil.
func WithAdvice(err error, advice Message) error {
	if err == nil {
		return nil
	}
	return &advisedError{err: err, advice: advice}
}

// ShortName is the last part of a resource name or URL, after its last "/": a workload's,
// connector's, network's or subnetwork's name as people say it.
func ShortName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

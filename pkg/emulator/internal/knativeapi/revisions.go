package knativeapi

import (
	"context"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// revisionService returns the service a revision name belongs to: Cloud Run names revisions
// SERVICE-NNNNN-xxx (or SERVICE-SUFFIX with --revision-suffix, which the emulator's v2 API
// does not make), and the v1 path names the revision alone.
func revisionService(rev string) (string, bool) {
	parts := strings.Split(rev, "-")
	if len(parts) < 3 {
		return "", false
	}
	return strings.Join(parts[:len(parts)-2], "-"), true
}

type revision struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   objectMeta   `json:"metadata"`
	Spec       revisionSpec `json:"spec"`
	Status     revStatus    `json:"status"`
}

type revStatus struct {
	ObservedGeneration int64       `json:"observedGeneration,omitempty"`
	Conditions         []condition `json:"conditions,omitempty"`
	LogURL             string      `json:"logUrl,omitempty"`
}

func (h *handler) getRevision(ctx context.Context, project, region, name string) (any, error) {
	if err := needRegion(region); err != nil {
		return nil, err
	}
	svc, ok := revisionService(name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Revision %s not found.", name)
	}
	r, err := h.revs.GetRevision(ctx, &runpb.GetRevisionRequest{Name: v2Name(project, region, svc) + "/revisions/" + name})
	if err != nil {
		return nil, err
	}
	return toKnativeRevision(r, project, region, svc), nil
}

func toKnativeRevision(r *runpb.Revision, project, region, svc string) revision {
	// The revision's template settings, written as a service template is.
	tmpl := toKnative(&runpb.Service{
		Name: v2Name(project, region, svc),
		Template: &runpb.RevisionTemplate{
			Labels: r.GetLabels(), Annotations: r.GetAnnotations(), Scaling: r.GetScaling(),
			VpcAccess: r.GetVpcAccess(), Timeout: r.GetTimeout(), ServiceAccount: r.GetServiceAccount(),
			Containers: r.GetContainers(), MaxInstanceRequestConcurrency: r.GetMaxInstanceRequestConcurrency(),
		},
	}).Spec.Template
	name := lastSegment(r.GetName())
	out := revision{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Spec: tmpl.Spec}
	out.Metadata = objectMeta{
		Name: name, Namespace: project, SelfLink: Prefix + project + "/revisions/" + name, UID: r.GetUid(),
		ResourceVersion: strings.Trim(r.GetEtag(), `"`), Generation: r.GetGeneration(),
		CreationTimestamp: rfc3339(r.GetCreateTime()),
		Labels: map[string]string{
			labelLocation: region, "serving.knative.dev/service": svc,
			"serving.knative.dev/configuration": svc, "serving.knative.dev/revision": name,
		},
		Annotations: tmpl.Metadata.Annotations,
	}
	for k, v := range tmpl.Metadata.Labels {
		out.Metadata.Labels[k] = v
	}
	out.Status = revStatus{ObservedGeneration: r.GetObservedGeneration(), LogURL: r.GetLogUri()}
	ready := false
	for _, c := range r.GetConditions() {
		out.Status.Conditions = append(out.Status.Conditions, toCondition(c.GetType(), c))
		ready = ready || c.GetType() == "Ready"
	}
	if !ready {
		rc := &runpb.Condition{State: runpb.Condition_CONDITION_PENDING}
		if !r.GetReconciling() && len(r.GetConditions()) > 0 {
			rc.State = runpb.Condition_CONDITION_SUCCEEDED
		}
		out.Status.Conditions = append([]condition{toCondition("Ready", rc)}, out.Status.Conditions...)
	}
	return out
}

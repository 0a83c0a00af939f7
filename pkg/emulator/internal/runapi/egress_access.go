package runapi

import (
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/runnet-dev/runnet/pkg/emulator/internal/world"
)

// egressAccessLocked asks the world whether Cloud Run's service agent of the workload's
// project may use the connector or subnetwork its VPC settings name (Shared VPC attachment
// and the agent's IAM permissions; world.CheckEgressAccessLocked has the rules). A refusal
// fails the revision or execution with Cloud Run's message, under the reason Cloud Run gives a
// VPC resource it cannot find.
func egressAccessLocked(w *world.World, l loc, t world.EgressTarget) *vpcFailure {
	if d := w.CheckEgressAccessLocked(l.project, t); d != nil {
		return &vpcFailure{msg: d.Message, reason: runpb.Condition_VPC_NETWORK_NOT_FOUND}
	}
	return nil
}

package cloud

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/runnet-dev/runnet/pkg/egress"
	"github.com/runnet-dev/runnet/pkg/emulator"
)

// --verbose logs every gRPC call through the real client stack, and never its metadata, where
// the OAuth token travels (authorization), nor any other header value.
func TestVerboseNeverPrintsGRPCMetadata(t *testing.T) {
	e, err := emulator.New(emulator.Options{Seed: emulator.SeedDemo, LRODuration: 10 * time.Millisecond, RevisionReady: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Serve(l) }()
	t.Cleanup(func() { _ = e.Close() })
	var log bytes.Buffer
	c := New(context.Background(), Config{EmulatorHost: l.Addr().String(), Log: &log, UserAgent: "runnet/test"})
	defer c.Close()
	const token = "ya29.SECRET-TOKEN-VALUE"
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "authorization", "Bearer "+token, "x-goog-user-project", "SECRET-PROJECT-HEADER")
	ref := egress.WorkloadRef{Kind: egress.KindService, Project: tProject, Region: tRegion, Name: emulator.DemoService}
	if _, err := c.GetWorkload(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListWorkloads(ctx, tProject, tRegion); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSubnet(ctx, egress.SubnetRef{Project: tProject, Region: tRegion, Name: emulator.DemoDirectSubnet}); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	if !strings.Contains(got, "rpc google.cloud.run.v2.Services/GetService OK") || !strings.Contains(got, "http GET ") {
		t.Fatalf("the log lacks the calls:\n%s", got)
	}
	for _, secret := range []string{"SECRET", "Bearer", "authorization", "x-goog", "runnet/test"} {
		if strings.Contains(got, secret) {
			t.Errorf("the log shows %q:\n%s", secret, got)
		}
	}
}

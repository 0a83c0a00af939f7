// Command runnet switches Cloud Run workloads between Serverless VPC Access
// connectors, Direct VPC egress and no VPC. See `runnet --help`.
package main

import (
	"context"
	"os"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

func main() {
	os.Exit(run())
}

func run() int {
	// The first SIGINT or SIGTERM cancels the context so that commands can stop
	// (and roll back) cleanly; the second stops a rollback's waiting (the
	// migration's journal stays, and runnet says how to recover); a third exits.
	ctx, stop := cli.NotifyInterrupts(context.Background())
	defer stop()
	return cli.Execute(ctx, os.Args[1:], iostreams.System())
}

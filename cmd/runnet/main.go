// Command runnet switches Cloud Run workloads between Serverless VPC Access
// connectors, Direct VPC egress and no VPC. See `runnet --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/runnet-dev/runnet/internal/cli"
	"github.com/runnet-dev/runnet/internal/iostreams"
)

func main() {
	os.Exit(run())
}

func run() int {
	// The first SIGINT or SIGTERM cancels the context so that commands can
	// stop (and roll back) cleanly; a second one kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return cli.Execute(ctx, os.Args[1:], iostreams.System())
}

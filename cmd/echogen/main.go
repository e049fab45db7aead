// Command echogen is the EchoGen server: `echogen serve` (the default) runs
// the API and its background workers; `echogen migrate` brings the database
// schema up to date and exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "echogen:", err)
		stop()
		os.Exit(1)
	}
}

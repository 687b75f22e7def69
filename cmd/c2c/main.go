// Command c2c runs every role of the Clone2Clone overlay: providers, clones,
// the directory client, key and enrollment tools, and an in-process demo.
//
// Run `c2c --help` for the commands; every flag can also be set through an
// environment variable C2C_<FLAG> (dashes become underscores).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

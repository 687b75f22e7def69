// Command c2c runs every role of the Clone2Clone overlay: providers, clones,
// the directory client, key and enrollment tools, and an in-process demo.
//
// Run `c2c --help` for the commands; every flag can also be set through an
// environment variable C2C_<FLAG> (dashes become underscores).
package main

import "github.com/clone2clone/c2c/internal/cli"

func main() { cli.Main(run) }

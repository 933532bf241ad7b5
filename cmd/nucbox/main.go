// Command nucbox is the lab-box appliance in one binary. As PID 1 it is the
// init of the image; otherwise it is the command line that validates and
// plans configs and builds images.
package main

import (
	"fmt"
	"os"

	"github.com/nucbox/nucbox/boot"
)

// version is stamped by the Makefile with -ldflags -X main.version=...
var version = "dev"

func main() {
	if os.Getpid() == 1 {
		// Never returns: PID 1 must not exit.
		boot.Main()
	}
	if err := newRootCmd().Execute(); err != nil {
		// Commands that already explained themselves return errSilent.
		if err != errSilent {
			fmt.Fprintln(os.Stderr, "nucbox:", err)
		}
		os.Exit(exitCode(err))
	}
}

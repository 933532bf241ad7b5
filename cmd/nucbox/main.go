// Command nucbox is the lab-box appliance in one binary. As PID 1 it is the
// init of the image; called as poweroff, reboot or halt it asks PID 1 to do
// that; otherwise it is the command line that validates and plans configs
// and builds images.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nucbox/nucbox/boot"
)

// version is stamped by the Makefile with -ldflags -X main.version=...
var version = "dev"

func main() {
	switch name := filepath.Base(os.Args[0]); name {
	case "poweroff", "reboot", "halt":
		if err := signalInit(name); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	// A container's init is PID 1 of its own namespace too; libcontainer
	// marks it with its init pipe, and it must reach the init subcommand.
	if os.Getpid() == 1 && os.Getenv("_LIBCONTAINER_INITPIPE") == "" {
		// Never returns: PID 1 must not exit.
		boot.Main(version)
	}
	if err := newRootCmd().Execute(); err != nil {
		// Commands that already explained themselves return errSilent.
		if err != errSilent {
			fmt.Fprintln(os.Stderr, "nucbox:", err)
		}
		os.Exit(exitCode(err))
	}
}

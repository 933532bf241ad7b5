package containers

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's C constructor joins and creates the namespaces before the
	// Go runtime starts in the re-executed `nucbox init`.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// InitArg is the argument libcontainer re-executes the binary with.
const InitArg = "init"

// IsInit reports whether this process is a container's init: the binary
// re-executed by libcontainer, with its pipe in the environment.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == InitArg && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}

// Init is the container init: it sets up the container from inside and
// execs the container's process; it never returns. Call it first thing
// (from a package init function) when IsInit: inside the new PID
// namespace the process is PID 1 and must not become the box's init.
func Init() {
	libcontainer.Init()
}

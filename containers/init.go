package containers

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
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
//
// The binary must also import github.com/opencontainers/runc/libcontainer/nsenter,
// whose C constructor joins and creates the namespaces before the Go
// runtime starts. This package does not import it itself: the
// constructor acts on every process that has _LIBCONTAINER_INITPIPE in
// its environment, and packages that only use a Runtime (PID 1's boot
// code and its tests) must not carry it.
func Init() {
	libcontainer.Init()
}

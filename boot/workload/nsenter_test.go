package workload

// The test binary is the container init of the container tests (see
// TestMain), so it carries nsenter as the nucbox binary does.
import _ "github.com/opencontainers/runc/libcontainer/nsenter"

package containers

// The test binary is the container init of the host-tier tests (see
// TestMain), so it carries nsenter as the nucbox binary does.
import _ "github.com/opencontainers/runc/libcontainer/nsenter"

// Package containers runs OCI images with libcontainer, without a daemon
// and without a runc binary: image retrieval and caching, rootfs
// assembly, the container lifecycle under a restart policy, container
// networking on the box's bridge, and logs. It does not read the config:
// config/plan compiles each container into a complete Spec (image
// resolved with its credentials, paths absolute, each NIC's veth port
// with its names, MAC and VLANs).
//
// Images (Store, Source): registry references pulled with
// go-containerregistry (anonymously or with the config's credentials),
// OCI layout directories and docker-save tars. A reference is resolved
// once and cached by digest in the state directory; each layer is
// unpacked once into layers/<diffid> by Unpack, which keeps every path
// inside the layer (image symlinks are resolved within it, ".." names
// and hard links to outside are refused) and turns whiteouts into
// overlayfs whiteouts.
//
// Rootfs: the layers are overlayfs lower directories under a writable
// layer in containers/<name>/, mounted by nucbox before the container is
// created. The writable layer is reset when a container is created and
// kept across its restarts.
//
// Runtime spec (RuntimeSpec, LibcontainerConfig): entrypoint, cmd, env,
// workdir and user from the image, overridden by the config; runc's
// default mounts, masked and read-only paths; namespaces pid, net, mnt,
// ipc, uts and cgroup; Docker's default capabilities (bounding set only
// for a non-root user); no-new-privileges; a default seccomp deny list
// (applied when built with the seccomp tag); memory, CPU quota and pids
// limits; the cgroup the Spec names (under the workloads' parent, whose
// limits keep the box's reserve); bind volumes from the state directory.
//
// Lifecycle (Runtime, Instance, Supervisor): libcontainer runs the
// container's init as this same binary re-executed with "init" (see
// IsInit and Init, which the binary must call before anything else; the
// binary, not this package, imports libcontainer's nsenter).
// The first process is held before its exec until its NICs are wired,
// its output goes to a ring buffer and a rotated log file, and it is
// stopped with SIGTERM and then SIGKILL after the stop timeout. The
// Supervisor restarts it by its policy with vmm.Backoff; a missing image
// or a failing command is reported in its Status and log and retried
// without touching other workloads.
//
// Start latency: the largest single cost of a start on an idle box is
// the kernel's grace period before the init can be moved into its cgroup
// (4 to 16 ms); Create starts it early with a move of this process into
// its own cgroup, so that it runs alongside the rootfs mount and the
// init's fork (see cgroupPrime). The init's view of this binary is
// libcontainer's read-only overlay, which copies nothing, as long as the
// run directory is not inside the binary's directory on the same mount;
// New logs a warning when libcontainer would copy the binary at every
// start instead. BenchmarkContainerStart compares a start with
// `runc run -d` of the same bundle.
//
// PID 1 and child processes: libcontainer forks helpers and waits for
// them itself, and waits for the container's first process by pid. PID 1
// passes its SpawnGuard (boot.WithSpawnGuard): each start runs with
// orphan reaping paused and registers the first process as owned.
//
// Networking (Network): one veth pair per NIC, created through the box's
// one vswitch.Switch (the network stage's; Network never opens its own)
// as an access or trunk port; the container end is moved into
// the container's network namespace, renamed eth0, eth1... and given the
// derived MAC. Static NICs get their address and default route there;
// DHCP NICs get netcfg's DHCP client, run by nucbox inside the
// container's namespace for the container's lifetime, which writes the
// container's /etc/resolv.conf. Nothing is needed inside the image.
package containers

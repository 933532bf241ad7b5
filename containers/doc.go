// Package containers runs OCI images with libcontainer, without a daemon
// and without a runc binary: image retrieval and caching, rootfs
// assembly, the container lifecycle one run at a time, container
// networking on the box's bridge, and logs. Restarting a container by its
// policy is the box's workload pool's (boot/workload), not this
// package's. It does not read the config: config/plan compiles each
// container into a complete Spec (image resolved with its credentials,
// paths absolute, each NIC's veth port with its names, MAC and VLANs).
//
// Images (Store, Source): registry references pulled with
// go-containerregistry (anonymously or with the config's credentials),
// OCI layout directories and docker-save tars. A reference is resolved
// once and cached by digest in the state directory; each layer is
// unpacked once into layers/<diffid> by Unpack, which keeps every path
// inside the layer (image symlinks are resolved within it, ".." names,
// whiteouts of ".", ".." or nothing, and hard links to outside are
// refused) and turns whiteouts into overlayfs whiteouts. A layer is
// hashed while it is unpacked and moved into the cache only if it
// matches its DiffID, and it is held to LayerLimits (uncompressed bytes,
// entries, free space left on the cache's filesystem; layerlimits.go).
//
// Rootfs: the layers are overlayfs lower directories under a writable
// layer in containers/<name>/, mounted nodev and nosuid by nucbox before
// the container is created. The writable layer is reset at a Supervisor's
// first run and at the first run after a Stop, and kept across the runs
// that restart a process that ended on its own. Users are looked up in the
// image's passwd and group files without trusting them (users.go).
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
// stopped with SIGTERM and then SIGKILL after the stop timeout. A
// Supervisor runs one container one run at a time (Start, Done, Err,
// Stop), keeping its log, image and writable layer across runs; a
// missing image or a failing command ends the run with its error, in
// its Status and log, without touching other workloads.
//
// Start latency: the largest single cost of a start on an idle box is
// the kernel's grace period before the init can be moved into its cgroup
// (4 to 16 ms); Create starts it early with a move of this process into
// its own cgroup, so that it runs alongside the rootfs mount and the
// init's fork (see cgroupPrime). The init's view of this binary is
// libcontainer's read-only overlay, which copies nothing, as long as the
// run directory is not inside the binary's directory on the same mount;
// New logs a warning when libcontainer would copy the binary at every
// start instead. BenchmarkContainerStart (P2 of `make bench`)
// compares a start with `runc run -d` of the same bundle, by a runc built
// from the version of libcontainer embedded here.
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

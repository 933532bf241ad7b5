// Package vmm runs the box's QEMU guests. It owns everything between a
// guest Spec and a running QEMU process: the command line, the
// accelerator choice, disks (via qemu-img), cloud-init seeds, the serial
// console, QMP and graceful shutdown. It does not read the config
// (config/plan compiles each VM into a complete Spec: defaults filled in,
// paths absolute, TAP names and MACs derived), it does not create TAPs or
// put them on VLANs (vswitch does; vmm attaches QEMU to them), it
// does not decide which guests should run, and it does not restart a
// guest: a Guest is one run at a time, and the box's workload pool
// (boot/workload) restarts it by the policy its Spec carries, with
// backoff.
//
// # Use
//
//	p, _ := plan.Compile(cfg)   // p.Desired.VMs are the guests' specs
//	g := vmm.NewGuest(p.Desired.VMs[0], vmm.Options{Procs: reaperAwareProcs})
//	err := g.Start(ctx)   // returns once QMP reports "running", or the start failed
//	<-g.Done(); g.Err()   // the run ended: nil when the guest powered itself off
//	st := g.Status()      // state, pid, uptime, accel and why, display, QMP status
//	c, err := g.OpenVNC() // the screen's RFB stream, for the API to proxy
//	out := g.Serial()     // tail of the serial console, across runs
//	err = g.Stop(ctx)     // ACPI powerdown, then quit, then SIGKILL
//
// Cmdline, SeedFiles, Check and CheckAll are pure functions of specs;
// Preflight checks what only the box knows (files, memory) and
// runs at every start.
//
// # Files
//
// Guest files live under <state-dir>/vms/<name>/ (see PathsFor): seed.iso,
// serial.log (rotated), qemu.log (QEMU's own messages and argv), qmp.sock,
// screen/vnc.sock (a guest with a display; QEMU's VNC never listens on TCP) and
// pid. Disk, ISO and kernel paths in a Spec are absolute (the config's
// relative ones are resolved against the state directory by
// config/plan). A state directory in RAM (the default
// /var/lib/nucbox before the box has a data partition) is reported as a
// warning in the guest's status: disks there do not survive a reboot.
//
// # Accelerator
//
// With accel auto, a guest gets KVM only when /dev/kvm opens and a few
// bytes of 64-bit guest code run in a throwaway VM at hardware speed;
// otherwise TCG with -cpu max. The speed test is there because hosts
// exist whose /dev/kvm creates VMs and runs simple code correctly, yet
// emulates guest kernel code so slowly that a Linux guest never leaves its
// decompressor (a nested host without VMX, running a software KVM
// backend). The probe runs once per process; the choice and its reason
// are logged and shown in Status.
//
// # Starting and stopping
//
// QEMU starts paused (-S) with QMP on a unix socket; the supervisor
// connects, checks with the kernel (SO_PEERCRED) that the QEMU it started
// serves the socket, sends cont and checks for running: the RESUME event
// QEMU sends before cont's reply says so, or else query-status. Every QMP command has a deadline, and events are always read,
// so a wedged QEMU cannot wedge the supervisor. An exit on its own
// (crash, kill -9, guest poweroff) ends the run: Done is closed and Err
// says how, and the owner may Start the same Guest again, which keeps
// its serial ring, console sessions and status. Stop presses the ACPI
// power button, waits up to the VM's shutdown-timeout, then sends quit,
// then SIGKILL.
//
// # Confinement
//
// QEMU runs with its seccomp sandbox (-sandbox on, with obsolete system
// calls, privilege changes, spawning processes and resource control
// denied). A Spec with a Cgroup starts QEMU inside that cgroup v2 group
// (CLONE_INTO_CGROUP), made with the Spec's MemoryMax (the guest's memory
// plus QEMU's own), under the workloads' parent that config/plan names;
// the group is removed when QEMU has exited, its memory.events counts
// kept first (Guest.Hits adds them up over the guest's runs). QEMU gets
// oom_score_adj 0 back from PID 1's -1000, so that the OOM killer can end
// it at its group's limit.
//
// A Spec with a User runs QEMU as that uid and gid (config/plan gives
// each VM its own), with no capabilities and no supplementary groups;
// -sandbox sets no_new_privs. What needs privileges nucbox does and
// passes in as descriptors: the QMP socket (listening, in the guest's
// directory, which QEMU can read but not write) and each NIC's TAP
// (-netdev tap,fd=N). Before each start the guest's writable disks are
// given to the user (chown: their bytes are untouched), the seed is made
// readable to its group, and files QEMU only reads (kernel, initrd,
// ISOs, read-only disks, backing images) must be readable by it: one
// that is not is a start error naming it. The TAPs are owned by the same
// user (vswitch), so a NIC added later over QMP by name works too.
//
// # PID 1
//
// Every child process (QEMU and qemu-img) is started and waited for
// through Options.Procs, so that PID 1's orphan reaper can leave them
// alone; see Procs.
package vmm

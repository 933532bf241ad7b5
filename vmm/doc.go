// Package vmm runs the box's QEMU guests. It owns everything between a
// guest Spec and a running, supervised QEMU process: the command line,
// the accelerator choice, disks (via qemu-img), cloud-init seeds, the
// serial console, QMP, restarts and graceful shutdown. It does not read
// the config (config/plan compiles each VM into a complete Spec: defaults
// filled in, paths absolute, TAP names and MACs derived), it does not
// create TAPs or put them on VLANs (vswitch does; vmm attaches QEMU to
// them by name) and it does not decide which guests should run.
//
// # Use
//
//	p, _ := plan.Compile(cfg)   // p.Desired.VMs are the guests' specs
//	g := vmm.NewGuest(p.Desired.VMs[0], vmm.Options{Procs: reaperAwareProcs})
//	err := g.Start(ctx)   // returns once QMP reports "running", or the first start failed
//	st := g.Status()      // state, pid, uptime, restarts, accel and why, VNC port, QMP status
//	out := g.Serial()     // tail of the serial console
//	err = g.Stop(ctx)     // ACPI powerdown, then quit, then SIGKILL
//
// Cmdline, SeedFiles, Check and CheckAll are pure functions of specs;
// Preflight checks what only the box knows (files, memory, ports) and
// runs at every start.
//
// # Files
//
// Guest files live under <state-dir>/vms/<name>/ (see PathsFor): seed.iso,
// serial.log (rotated), qemu.log (QEMU's own messages and argv), qmp.sock
// and pid. Disk, ISO and kernel paths in a Spec are absolute (the config's
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
// connects, checks that QEMU is in prelaunch, sends cont and checks for
// running. Every QMP command has a deadline, and events are always read,
// so a wedged QEMU cannot wedge the supervisor. An unexpected exit
// (crash, kill -9, guest poweroff) is handled by the VM's restart policy
// with exponential backoff (DefaultBackoff: 1s doubling to 1 min, reset
// after 5 min up). Stop presses the ACPI power button, waits up to the
// VM's shutdown-timeout, then sends quit, then SIGKILL.
//
// # Confinement
//
// QEMU runs with its seccomp sandbox (-sandbox on, with obsolete system
// calls, privilege changes, spawning processes and resource control
// denied). A Spec with a Cgroup starts QEMU inside that cgroup v2 group
// (CLONE_INTO_CGROUP), made with the Spec's MemoryMax (the guest's memory
// plus QEMU's own), under the workloads' parent that config/plan names;
// the group is removed when QEMU has exited.
//
// # PID 1
//
// Every child process (QEMU and qemu-img) is started and waited for
// through Options.Procs, so that PID 1's orphan reaper can leave them
// alone; see Procs.
package vmm

// Package boot is everything PID 1 owns: early mounts, moving off the
// initramfs root, loading kernel modules (the module database, coldplug
// and hotplug are internal/kmod's), console and log ring, reaping orphans,
// signals, shutdown and reboot, the rescue shell, the boot slot it keeps
// (A/B slots and upgrades are boot/slot's), and the supervisor that
// applies the config and keeps workloads alive. Its entry point is Main,
// which never returns.
//
// # Boot sequence
//
//  1. Signals are caught first: Go's default for SIGTERM is to exit, and
//     PID 1 exiting panics the kernel.
//  2. If / is the initramfs (rootfs), the files move to a tmpfs that
//     becomes / and PID 1 exec's itself again (rootfs.go), so that
//     pivot_root works for containers.
//  3. proc, sysfs, devtmpfs, devpts, /dev/shm, /run, /tmp and cgroup2
//     are mounted (mount.go); the console log is aligned with the kernel's
//     clock (clock.go).
//  4. The config is read from nucbox.config= on the kernel command line,
//     default /etc/nucbox/config.yaml (cmdline.go).
//  5. The stages run in order (supervise.go, stages.go): modules (base
//     modules, the config's extra modules and coldplugged drivers), then
//     hostname and loopback; later issues add the network, the switch,
//     VMs and containers.
//  6. "nucbox: ready {json}" is printed, or "nucbox: failed: stage: ..."
//     and a rescue shell on the console. Either way PID 1 keeps running:
//     reaping orphans, watching signals and the power button, offering a
//     console shell.
//
// # Console contract
//
// Every line PID 1 prints is "[seconds.micros] nucbox: ..." on the
// kernel's log clock, and is kept in Log. The lines tests look for:
//
//	nucbox: ready {"hostname":...,"config":"<sha256>","init_ms":...,"ready_ms":...,"rss_kib":...,"modules":...,"vms":...,"containers":...}
//	nucbox: failed: <stage>: <message>      (followed by indented detail lines)
//	nucbox: rescue shell on the console (PID 1 keeps running)
//	nucbox: press Enter for a shell
//	nucbox: powering off (<reason>)  /  nucbox: rebooting (<reason>)
//
// # For the packages PID 1 drives
//
// Packages such as vmm and containers must not import boot (boot imports
// them). They take what they need from it as parameters: a start function
// (StartCommand), a spawn guard (WithSpawnGuard) for code that forks its
// own helpers, and a *log.Logger (Logger).
package boot

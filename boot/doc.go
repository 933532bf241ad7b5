// Package boot is PID 1 proper: what only the init of the box does. It
// mounts the kernel filesystems, moves the root off the initramfs, reaps
// orphans, turns signals and the power button into an orderly shutdown,
// owns the console and the ring of its log lines, offers the console and
// rescue shell, and boots the box as a named list of phases. Its entry
// point is Main, which never returns.
//
// What PID 1 drives lives elsewhere: the box supervisor (boot/box: the
// stages that apply the compiled config, live apply, maintenance mode,
// the API's view of the box), the workloads (boot/workload), the API
// server and client (boot/api), the A/B boot slots (boot/slot), the data
// partition's disk work (boot/datapart) and the kernel module database
// (internal/kmod).
//
// # Boot sequence
//
// Main catches signals first (Go's default for SIGTERM is to exit, and PID
// 1 exiting panics the kernel), then runs the phases in order (main.go).
// The console announces each phase as "nucbox: boot: NAME", but for the
// first, whose line is "nucbox: starting as PID 1".
//
//  1. mounts: if / is the initramfs (rootfs), a bind mount of it moves
//     onto / and PID 1 chroots into it (rootfs.go), without copying, so
//     that pivot_root works for containers; proc, sysfs, devtmpfs, devpts,
//     /dev/shm, /run, /tmp and cgroup2 are mounted (mount.go); the log is
//     aligned with the kernel's clock (clock.go); the reaper starts
//     (reap.go).
//  2. modules: the drivers coldplug finds (but the CPU's, which bring
//     KVM) and the base modules (but those only workloads use) are
//     loaded, hotplug listens from then on, and the power button is
//     watched (modules.go, powerbutton.go). What was left out loads in
//     the apply when the config has guests or containers, and otherwise
//     right after ready.
//  3. slot: the boot loader's variables say which A/B slot booted and
//     whether it is on trial (bootslot.go); a trial boot's deadline
//     (nucbox.trial-timeout=) and the hardware watchdogs run from here
//     until ready, so a hang in any later phase reboots the box.
//  4. data partition: found, created or grown, checked and mounted at
//     DataDir; the boot log is written there from then on (data.go).
//     One that exists but cannot be used (no usable superblock, errors
//     e2fsck would not fix) is neither mounted nor formatted: DataDir
//     becomes an empty read-only mount, the console and the status say
//     why, and the box holds the workloads whose files are on it.
//  5. entropy: the random seed on the data partition is mixed in (and
//     credited only when this box wrote it and it is unused, after it was
//     replaced), then one blocking getrandom(2) waits for the kernel's
//     pool, which makes the kernel collect jitter where no hardware source
//     made it ready, and a fresh seed is written (entropy.go).
//  6. memory: PID 1's soft memory limit, the default until the config
//     is read, then the config's, set again by every apply (memory.go,
//     the reserve stage of boot/box).
//  7. config: the box supervisor is made (box.New, with what it takes
//     from PID 1), and the config is read from the first source that
//     yields a valid one: nucbox.config= on the kernel command line (a
//     path or a URL), the last known good config on the data partition,
//     the config baked into the image (config.go, configsource.go,
//     cmdline.go, bootlease.go). Without one the boot fails and the box
//     goes into maintenance mode (or, on a trial boot, back to the other
//     slot).
//  8. API: the box serves the API.
//  9. apply: the box compiles the config once and applies it, stage by
//     stage, in the order the compiled plan carries.
//  10. ready: the box prints the ready line and keeps the config as the
//     last known good one; PID 1 marks the slot good and offers the
//     console shell.
//
// A phase that fails prints "nucbox: failed: STAGE: ..." and hands the
// console to the rescue shell (rescue.go). Either way PID 1 keeps running:
// reaping orphans, watching signals and the power button, serving the
// console and the API, until a shutdown stops the box's workloads, ends
// every process, unmounts and powers off or reboots (shutdown.go).
//
// # Console contract
//
// Every line PID 1 prints is "[seconds.micros] nucbox: ..." on the
// kernel's log clock, and is kept in Log, which the API serves. The lines
// tests look for:
//
//	nucbox: ready {"hostname":...,"config":"<sha256>","init_ms":...,"ready_ms":...,"rss_kib":...,"modules":...,"vms":...,"containers":...}
//	nucbox: failed: <stage>: <message>      (followed by indented detail lines)
//	nucbox: rescue shell on the console (PID 1 keeps running)
//	nucbox: press Enter for a shell
//	nucbox: powering off (<reason>)  /  nucbox: rebooting (<reason>)
//
// and the lines of the parts, each with its prefix: "config: ",
// "modules: ", "data partition: ", "upgrade: ", "api: ", "network: ",
// "vms: ", "containers: ", "apply: ", "maintenance: ".
//
// # State
//
// PID 1's own state is one value that Main makes (pid1); the box
// supervisor is a value too. What stays package-level is what every
// goroutine and every panic must reach before any value exists: the
// console and its log ring (Logf), the kernel clock offset behind the
// timestamps, the reaper (Children: one process, one SIGCHLD), and the
// version Main was started as.
//
// # For the packages PID 1 drives
//
// Packages such as vmm, containers and boot/box must not import boot
// (boot imports them). They take what they need from it as parameters: a
// start function (StartCommand), a spawn guard (WithSpawnGuard) for code
// that forks its own helpers, and a log function (Logf) or a *log.Logger
// (Logger).
package boot

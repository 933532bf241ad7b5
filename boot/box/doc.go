// Package box is the box supervisor: what runs the box once PID 1 has
// read its config. PID 1 (package boot) makes one Box with New, giving it
// in Options what only PID 1 has (its log, the clock, the process starter
// its reaper respects, the module loader, power off and reboot, the boot
// slot, the data partition), and drives it through the boot phases
// config, API, apply and ready, and at shutdown.
//
// A Box owns:
//
//   - the stages (stages.go, network.go, serve.go, vms.go, containers.go,
//     workloads.go): modules, hostname, loopback, the network with the
//     box's one vswitch.Switch, the DHCP and DNS servers on its VLANs
//     (netcfg/dhcpd, netcfg/dnsd; leases kept on the data partition), the
//     API, the reserve, the VMs and the containers, the last two
//     each over a boot/workload pool. Each stage has its own logger, which
//     prefixes its lines ("network: ", "vms: ").
//   - the supervisor (supervise.go), which runs the stages in the order
//     the compiled plan carries (plan.Desired.Order), stops at the first
//     failure, and at shutdown stops the stages that own workloads, last
//     first.
//   - the status PID 1 and the API show (status.go: Status, Summary and
//     the ready line's parts) and the running config, which is the last
//     known good one, kept on the data partition (lastgood.go) for the
//     next boot to fall back to.
//   - live apply (liveapply.go): a config posted to the API is applied
//     over the running one, touching only what changed; a failed apply
//     goes back to the previous config, and a trial goes back unless
//     confirmed in time.
//   - the limits watch (limits.go): from the first apply on, every 2 s,
//     the memory and pids limit counts of each workload (over all its
//     runs) and of the workloads' parent; a count that rises is logged
//     once, naming the workload and the limit ("limits: container hog:
//     memory limit 1GiB hit, 1 process OOM-killed"), then at most once
//     per 30 s per workload and limit. The status and the metrics show
//     the same counts.
//   - maintenance mode (maintenance.go): without a valid config the box
//     brings the network up by DHCP and the API up on TCP, and waits for
//     one.
//   - the data partition's hold (datahold.go): while one exists but is
//     not mounted, the VMs and containers with a file under its mount
//     point are held (shown stopped and held, with the reason, and not
//     started), and the API keeps its credentials in /run instead.
//   - the API's view of the box (apiserve.go): status, workloads of every
//     kind through their pools alike, logs, console, power, apply and
//     upgrades (upgrade.go, over boot/slot).
//
// It has no package-level state: everything lives in the Box.
package box

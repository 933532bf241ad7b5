// Package plan turns a validated config into what the box does with it,
// and compares two configs.
//
// Compile is the one translation from the config to the subsystems: it
// gives the Steps for people and the Desired state PID 1 applies, in the
// order it carries (Order): the kernel modules, the hostname, the box's
// own network (netcfg.Spec: uplink selection, address, DNS, takeover
// probe), the NAT rules, the switch (vswitch.Desired: the bridge, every
// TAP and veth port with its VLANs and MAC, the box's VLAN addresses, and
// the uplink port as a template the network stage names once it has
// selected the link), the VM specs (vmm.Spec), the container specs
// (containers.Spec) and the API settings. Every value in it is final:
// defaults come from config.ApplyDefaults, names and MACs from config's
// derivation functions, paths are absolute, addresses parsed; the
// subsystems add nothing. `nucbox plan` prints the same object (-o json),
// so the plan and the box cannot disagree. Its JSON is written for people:
// MACs, addresses and durations as text, and no secrets (the API token,
// registry passwords, environment values and cloud-init user-data are left
// out).
//
// Build gives the Steps alone, in apply order: kernel modules, hostname,
// uplink selection, bridge, uplink takeover (enslaving the uplink and
// moving its address), box VLAN addresses, then per VM its disks,
// cloud-init seed, TAP ports and the QEMU guest, then per container its
// image, veth ports and the container, and last the management API. Each
// detail says whether its value was written in the file or is a default.
//
// Diff compares the running config with a new one: which workloads are
// added, removed, changed (with the fields that changed) or unchanged, and
// what changed in the network and box settings. Live apply touches only what
// it reports.
//
// The package is pure computation: no system calls.
package plan
